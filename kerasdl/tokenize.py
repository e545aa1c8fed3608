"""Raw text to token ids: the one definition shared by every consumer.

Training data, the SavedModel's `serve_raw` signature and `kerasdl predict`
all turn text into ids with `vectorizer(vocabulary, sequence_length)`, a
Keras `TextVectorization` with a fixed vocabulary, so they cannot drift
apart. The TFLite model takes the ids; `TOKENISATION_RULE` (copied into the
model card) and `vocab.txt` tell a phone app how to make them.

The model itself never sees a string: string ops cannot run inside a JAX or
TFLite model, so the vectorizer lives in `tf.data` and in the serving
signature, as the Keras guides recommend.
"""

import numpy as np

PADDING, UNKNOWN = "", "[UNK]"  # ids 0 and 1, the first two lines of vocab.txt

TOKENISATION_RULE = (
    'lower-case the text; remove the ASCII punctuation characters !"#$%&()*+,-./:;<=>?@[\\]^_`{|}~ and '
    "the apostrophe; split on whitespace; replace each word by its line number in vocab.txt (0-based), "
    "a word not in vocab.txt by 1 ([UNK]); keep the first sequence_length ids and pad the end with 0"
)


def adapt_vocabulary(texts, vocabulary_size):
    """The vocabulary of the training texts: padding, [UNK], then words by frequency.

    Args:
        texts: the training split's strings.
        vocabulary_size: most ids, padding and [UNK] included.

    Returns:
        A list of words, index = token id.

    Example:
        >>> adapt_vocabulary(["a b b", "b c"], 100)[:3]
        ['', '[UNK]', 'b']
    """
    import keras

    layer = keras.layers.TextVectorization(max_tokens=vocabulary_size)
    layer.adapt(np.asarray(texts, dtype=object))
    return [str(word) for word in layer.get_vocabulary()]


def vectorizer(vocabulary, sequence_length):
    """A built `TextVectorization` layer mapping strings to `sequence_length` int ids."""
    import keras

    layer = keras.layers.TextVectorization(
        vocabulary=list(vocabulary), output_sequence_length=sequence_length, name="tokenize"
    )
    layer(np.asarray([""], dtype=object))  # builds it, so a SavedModel can track it
    return layer


def token_ids(texts, vocabulary, sequence_length, batch_size=1024):
    """Strings -> int32 array `(len(texts), sequence_length)`.

    Example:
        >>> token_ids(["b a"], ["", "[UNK]", "b", "a"], 4).tolist()
        [[2, 3, 0, 0]]
    """
    layer = vectorizer(vocabulary, sequence_length)
    texts = np.asarray(texts, dtype=object)
    chunks = [np.asarray(layer(texts[start : start + batch_size])) for start in range(0, len(texts), batch_size)]
    if not chunks:
        return np.zeros((0, sequence_length), dtype="int32")
    return np.concatenate(chunks).astype("int32")


def vocabulary_text(vocabulary):
    """vocab.txt: one word per line, line i for token id i (line 0, padding, is empty)."""
    return "".join(f"{word}\n" for word in vocabulary)


def read_vocabulary(path):
    """The vocabulary written by `vocabulary_text`."""
    return path.read_text(encoding="utf-8").split("\n")[:-1]
