"""BERT text classification: keras-hub's `BertTextClassifier` over token ids.

The classifier (a pretrained `BertBackbone`, its pooled `[CLS]` output,
dropout and a softmax head) comes from a keras-hub preset: a name such as
`bert_tiny_en_uncased`, downloaded once, or a local preset directory (what
`backbone.save_to_preset(dir)` and `tokenizer.save_to_preset(dir)` write).

Text is tokenised before the model, with the preset's own WordPiece
tokeniser (see `kerasdl.tokenize`), so the model takes one int32 tensor of
token ids, like the RNN: the segment ids (all zero for one sentence) and
the padding mask (`ids != 0`, `[PAD]` being id 0) are computed inside. That
keeps the TFLite model to one input a phone app can fill from `vocab.txt`.
"""

import keras

from kerasdl.errors import UserError
from kerasdl.hub_preset import load_preset
from kerasdl.models.layers import check_fraction


def build_bert(info, preset="bert_tiny_en_uncased", dropout=0.1):
    """A pretrained BERT under a new classification head.

    Args:
        info: `DataInfo` of text tokenised with the same preset's WordPiece
            tokeniser (`info.tokenizer` is `wordpiece` or `wordpiece_cased`).
        preset: a keras-hub BERT preset name or a local preset directory.
            Default "bert_tiny_en_uncased" (4.4M parameters).
        dropout: dropout rate before the classifier. Default 0.1.

    Returns:
        A `keras.Model` from token ids to class probabilities.

    Example:
        >>> model = build_bert(info, preset="path/to/my_bert_preset")
    """
    import keras_hub

    check_fraction("dropout", dropout)
    if info.kind != "text" or not info.tokenizer.startswith("wordpiece"):
        raise UserError(f"model=bert needs text data tokenised by its preset; {info.name!r} is {info.kind}")
    backbone = load_preset("BertBackbone", preset)
    if info.input_shape[0] > backbone.max_sequence_length:
        raise UserError(
            f"sequence_length={info.input_shape[0]} is longer than the {backbone.max_sequence_length} "
            f"positions of {preset!r}; use at most {backbone.max_sequence_length}"
        )
    classifier = keras_hub.models.BertTextClassifier(
        backbone=backbone, num_classes=info.num_classes, preprocessor=None, activation="softmax", dropout=dropout
    )
    token_ids = keras.Input(shape=info.input_shape, dtype="int32", name=info.input_name)
    features = {
        "token_ids": token_ids,
        "segment_ids": keras.ops.zeros_like(token_ids),
        "padding_mask": keras.ops.not_equal(token_ids, 0),
    }
    probabilities = classifier(features)
    return keras.Model(token_ids, probabilities, name="bert")
