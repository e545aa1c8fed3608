"""Model families: `build_<family>(info, **hyperparameters) -> keras.Model`."""

# Families whose int8 model keeps a front end in float32: the layer it ends at.
FLOAT_FRONT_ENDS = {"audio_cnn": "log_mel"}


def builders():
    """Maps each family name to its build function."""
    from kerasdl.models.ann import build_ann
    from kerasdl.models.audio_cnn import build_audio_cnn
    from kerasdl.models.bert import build_bert
    from kerasdl.models.cnn import build_cnn
    from kerasdl.models.pix2pix import build_l1_unet, build_pix2pix
    from kerasdl.models.rnn import build_rnn
    from kerasdl.models.transfer import build_transfer
    from kerasdl.models.unet import build_unet
    from kerasdl.models.wavenet import build_wavenet
    from kerasdl.models.yolo import build_yolo

    return {
        "ann": build_ann,
        "audio_cnn": build_audio_cnn,
        "bert": build_bert,
        "cnn": build_cnn,
        "l1_unet": build_l1_unet,
        "pix2pix": build_pix2pix,
        "rnn": build_rnn,
        "transfer": build_transfer,
        "unet": build_unet,
        "wavenet": build_wavenet,
        "yolo": build_yolo,
    }


def build_model(family, info, **hyperparameters):
    """Builds the model of `family` for the data described by `info`.

    Args:
        family: `ann`, `audio_cnn`, `bert`, `cnn`, `rnn`, `transfer`,
            `unet`, `yolo`, `pix2pix`, `l1_unet` or `wavenet`.
        info: the data's `DataInfo`.
        **hyperparameters: keyword arguments of the family's build function.

    Returns:
        An uncompiled `keras.Model` from raw inputs to class probabilities
        (per pixel for `unet`; per-anchor box and class logits for `yolo`;
        an image in [0, 1] for `pix2pix` and `l1_unet`; the next
        sample's probabilities at every step for `wavenet`).

    Example:
        >>> model = build_model("cnn", load_dataset("digits").info, filters=(16, 32))
    """
    return builders()[family](info, **hyperparameters)
