"""`text:DIR`: one sub-folder of UTF-8 `.txt` files per class, streamed.

A folder of documents (IMDB's `aclImdb/train/{pos,neg}` holds 25,000) is
read as images folders are (`kerasdl.data.streaming`): loading lists the
files and splits the list; the input pipeline reads and tokenises each file
while training. The vocabulary is adapted on a stream of the training
files (Keras counts words batch by batch, so memory holds the word counts,
not the texts); ties in the counts are broken by the words' order, so it is
the vocabulary a list of the same texts gives.

Files of zero bytes are skipped when the folder loads (a `stat`, no read).
A file that is not UTF-8, or holds only whitespace, is found when the
pipeline reads it: it is left out of the vocabulary, another text of the
split takes its place in the epoch, and the run names it after the first
epoch, as for images that fail to decode.
"""

import dataclasses

import numpy as np

from kerasdl.data.dataset import first_few, natural_order, split_stratified, usable_threads
from kerasdl.data.streaming import FileDataset
from kerasdl.data.text import learn_vocabulary, streamed_info
from kerasdl.errors import UserError
from kerasdl.tokenize import vectorizer

# Texts a vocabulary pass reads into Keras at a time.
ADAPT_BATCH = 256


def load_text_folder(root, seed, validation_fraction, test_fraction, vocabulary_size, sequence_length, wordpiece=""):
    """Loads `root/<class>/<file>.txt` as seeded, stratified splits of file paths.

    Args:
        root: a `Path` to the folder; each sub-folder holding `.txt` files
            is a class, named after the sub-folder.
        seed: seeds the splits (and the sample of the length note).
        validation_fraction: share of all texts for validation.
        test_fraction: share of all texts for the test split.
        vocabulary_size: most token ids, padding and [UNK] included (words).
        sequence_length: token ids per text (longer texts are cut).
        wordpiece: a keras-hub BERT preset whose tokeniser to use; empty:
            words, with a vocabulary adapted on the training files.

    Returns:
        A `TextFolderDataset`; its pipelines yield int32 token ids
        `(batch, sequence_length)` and int32 labels.

    Example:
        >>> load_text_folder(pathlib.Path("aclImdb/train"), 42, 0.1, 0.2, 20000, 200).info.class_names
        ['neg', 'pos']
    """
    folders = {folder.name: sorted(folder.glob("*.txt")) for folder in sorted(root.iterdir()) if folder.is_dir()}
    folders = {name: files for name, files in folders.items() if files}
    if len(folders) < 2:
        raise UserError(
            f"Text folder {str(root)!r} needs at least 2 sub-folders of .txt files (one per class); "
            f"found {len(folders)}"
        )
    paths, raw_labels, empty = [], [], 0
    for name, files in folders.items():
        for file in files:
            if file.stat().st_size == 0:
                empty += 1
                continue
            paths.append(str(file))
            raw_labels.append(name)
    class_names = sorted(set(raw_labels), key=natural_order)
    if len(class_names) < 2:
        raise UserError(f"{str(root)!r} has texts in a single class ({class_names[0]!r}); classification needs 2")
    labels = np.asarray([class_names.index(label) for label in raw_labels], dtype="int32")
    splits = split_stratified(np.asarray(paths), labels, seed, validation_fraction, test_fraction)
    import tensorflow as tf

    notes = [f"skipped {empty} empty text file(s)"] if empty else []
    dataset = TextFolderDataset(
        info=streamed_info(f"text:{root}", class_names, sequence_length), splits=splits, notes=notes
    )
    try:
        learn_vocabulary(dataset, vocabulary_size, wordpiece, seed)
    except tf.errors.OpError:  # every file failed to read: the sample's stream ran short
        paths = first_few([str(path) for path in dataset.splits["train"][0]], 3)
        raise UserError(
            f"No training file in {str(root)!r} could be read as UTF-8 text ({paths}); save the files as UTF-8"
        ) from None
    return dataset


@dataclasses.dataclass
class TextFolderDataset(FileDataset):
    """Classification splits of a text folder (`FileDataset`):
    `splits[name]` is `(file paths, label indices)`; `pipeline()` yields
    int32 token ids `(batch, sequence_length)` and int32 labels."""

    failure = "are not UTF-8 text or hold only whitespace"

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: int32 token ids and label."""
        return 4 * self.info.input_shape[0] + 4

    def texts(self, split):
        """A batched `tf.data.Dataset` of the split's texts, read in parallel
        (for the vocabulary); a file that fails to read is left out."""
        import tensorflow as tf

        files = tf.data.Dataset.from_tensor_slices(self.splits[split][0])
        data = files.map(read_text, num_parallel_calls=4 * usable_threads(), deterministic=True)
        return data.ignore_errors().batch(ADAPT_BATCH)

    def _reader(self, augmenting=False):
        """`(text path, label) -> (token ids, label)`, tokenised as `serve_raw` tokenises."""
        import tensorflow as tf

        tokenize = vectorizer(self.info.tokenizer, self.info.vocabulary, self.info.input_shape[0])

        def read(path, label):
            return tf.cast(tokenize(read_text(path)[None])[0], tf.int32), label

        return read


def read_text(path):
    """A file's text, as `Path.read_text(encoding="utf-8-sig").strip()` reads
    it; an error (which `ignore_errors` catches) where the bytes are not
    UTF-8 or the text is only whitespace."""
    import tensorflow as tf

    raw = tf.io.read_file(path)
    text = tf.strings.unicode_transcode(raw, "UTF-8", "UTF-8", errors="strict")
    text = tf.strings.strip(tf.strings.regex_replace(text, "^\ufeff", ""))
    filled = tf.debugging.assert_greater(tf.strings.length(text), 0, message="only whitespace")
    with tf.control_dependencies([filled]):
        return tf.identity(text)
