"""Loading a keras-hub preset: a name downloaded once, or a local directory.

The BERT model family takes its backbone from a preset and the text data
its WordPiece vocabulary from the same preset. The loading lives here, not
in `kerasdl.models.bert`, so the data (`kerasdl.tokenize`) does not import
a model family.
"""

from pathlib import Path

from kerasdl.errors import UserError


def load_preset(kind, preset):
    """`keras_hub.models.<kind>.from_preset(preset)` with one-line errors.

    Args:
        kind: `BertBackbone` or `BertTokenizer`.
        preset: a preset name (needs the network once) or a local directory.

    Returns:
        The keras-hub object of class `kind`.

    Example:
        >>> tokenizer = load_preset("BertTokenizer", "bert_tiny_en_uncased")
    """
    import keras_hub

    local = Path(preset).expanduser()
    if ("/" in preset or preset.startswith(".")) and not local.is_dir():
        raise UserError(f"model.preset={preset!r} is not a directory (a keras-hub preset saved with save_to_preset)")
    try:
        return getattr(keras_hub.models, kind).from_preset(str(local) if local.is_dir() else preset)
    except Exception as error:  # downloads and foreign presets fail in many ways
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        if local.is_dir():
            raise UserError(f"Cannot load a {kind} from {preset!r}: {detail}") from None
        raise UserError(
            f"The keras-hub preset {preset!r} could not be loaded ({detail}); it needs a one-time download from "
            "Kaggle, or pass model.preset=DIR of a preset saved locally"
        ) from None
