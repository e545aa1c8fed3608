"""Raw text to token ids: the one definition shared by every consumer.

Training data, the SavedModel's `serve_raw` signature and `kerasdl predict`
all turn text into ids with `vectorizer(kind, vocabulary, sequence_length)`,
so they cannot drift apart. Two kinds:

- `words` (the RNN models): Keras `TextVectorization` with a vocabulary of
  the training split's most frequent words.
- `wordpiece` and `wordpiece_cased` (BERT): keras-hub's `BertTokenizer` and
  `BertTextClassifierPreprocessor` with the pretrained model's own
  vocabulary: `[CLS]`, word pieces, `[SEP]`, padding. The segment ids are all
  zero and the padding mask is `ids != 0`, so the model computes both inside
  and, like the RNN, takes token ids alone.

The TFLite model takes the ids; `TOKENISATION_RULES` (copied into the model
card) and `vocab.txt` tell a phone app how to make them.

The model itself never sees a string: string ops cannot run inside a JAX or
TFLite model, so the vectorizer lives in `tf.data` and in the serving
signature, as the Keras guides recommend.
"""

import numpy as np

PADDING, UNKNOWN = "", "[UNK]"  # ids 0 and 1, the first two lines of vocab.txt

TOKENISERS = ("words", "wordpiece", "wordpiece_cased")
_WORDPIECE = (
    "BERT WordPiece: {case}split on whitespace and around punctuation; split each word into the longest "
    "pieces found in vocab.txt, left to right, pieces after the first written with a ## prefix (a word "
    "that cannot be split is [UNK]); ids are line numbers in vocab.txt (0-based); put [CLS] first and "
    "[SEP] after the last piece kept, within sequence_length ids, and pad the end with [PAD] (0)"
)
TOKENISATION_RULES = {
    "words": (
        'lower-case the text; remove the ASCII punctuation characters !"#$%&()*+,-./:;<=>?@[\\]^_`{|}~ and '
        "the apostrophe; split on whitespace; replace each word by its line number in vocab.txt (0-based), "
        "a word not in vocab.txt by 1 ([UNK]); keep the first sequence_length ids and pad the end with 0"
    ),
    "wordpiece": _WORDPIECE.format(case="lower-case the text and strip accents; "),
    "wordpiece_cased": _WORDPIECE.format(case=""),
}


def adapt_vocabulary(texts, vocabulary_size):
    """The vocabulary of the training texts: padding, [UNK], then words by frequency.

    Args:
        texts: the training split's strings, or a `tf.data.Dataset` of
            batches of them (read once, so the texts need not fit in memory;
            ties in the counts are broken by the words' order, so both give
            the same vocabulary).
        vocabulary_size: most ids, padding and [UNK] included.

    Returns:
        A list of words, index = token id.

    Example:
        >>> adapt_vocabulary(["a b b", "b c"], 100)[:3]
        ['', '[UNK]', 'b']
    """
    import keras

    layer = keras.layers.TextVectorization(max_tokens=vocabulary_size)
    layer.adapt(texts if hasattr(texts, "element_spec") else np.asarray(texts, dtype=object))
    return [str(word) for word in layer.get_vocabulary()]


def wordpiece_vocabulary(preset):
    """A keras-hub BERT preset's vocabulary and tokeniser kind.

    Args:
        preset: a preset name (e.g. `bert_tiny_en_uncased`, downloaded once)
            or a local preset directory.
    """
    from kerasdl.hub_preset import load_preset

    tokenizer = load_preset("BertTokenizer", preset)
    return list(tokenizer.get_vocabulary()), "wordpiece" if tokenizer.lowercase else "wordpiece_cased"


class Tokenize:
    """Strings -> token ids. `layer` is the Keras layer a SavedModel must track."""

    def __init__(self, layer, output=None):
        self.layer = layer
        self.output = output  # the entry to take from a layer that returns a dict

    def __call__(self, texts):
        result = self.layer(texts)
        return result[self.output] if self.output else result


def vectorizer(kind, vocabulary, sequence_length):
    """The `Tokenize` of `kind` with a fixed vocabulary, built."""
    if kind == "words":
        import keras

        layer = keras.layers.TextVectorization(
            vocabulary=list(vocabulary), output_sequence_length=sequence_length, name="tokenize"
        )
        layer(np.asarray([""], dtype=object))  # builds it, so a SavedModel can track it
        return Tokenize(layer)
    import keras_hub

    tokenizer = keras_hub.models.BertTokenizer(vocabulary=list(vocabulary), lowercase=kind == "wordpiece")
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=sequence_length)
    preprocessor(np.asarray([""], dtype=object))  # builds it, as above
    return Tokenize(preprocessor, output="token_ids")


def token_ids(texts, vocabulary, sequence_length, kind="words", batch_size=1024):
    """Strings -> int32 array `(len(texts), sequence_length)`.

    Example:
        >>> token_ids(["b a"], ["", "[UNK]", "b", "a"], 4).tolist()
        [[2, 3, 0, 0]]
    """
    layer = vectorizer(kind, vocabulary, sequence_length)
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
