"""A tiny BERT saved as a keras-hub preset directory, for offline tests."""

import keras
import keras_hub
import tensorflow as tf


def save_tiny_bert_preset(directory, texts, num_layers=2, hidden_dim=32, sequence_length=32):
    """A BertBackbone and a BertTokenizer whose WordPiece vocabulary comes
    from `texts`, saved into `directory` (what `model.preset=` takes)."""
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        tf.data.Dataset.from_tensor_slices(list(texts)),
        vocabulary_size=200,
        lowercase=True,
        reserved_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"],
    )
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=num_layers,
        num_heads=2,
        hidden_dim=hidden_dim,
        intermediate_dim=2 * hidden_dim,
        max_sequence_length=sequence_length,
    )
    backbone.save_to_preset(str(directory))
    keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True).save_to_preset(str(directory))
    return directory
