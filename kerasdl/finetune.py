"""The second training phase of transfer learning: unfreeze the top of the backbone.

Phase 1 trains the new head with the backbone frozen (its weights would
otherwise be wrecked by the large gradients of a random head). Phase 2
unfreezes the top `fine_tune_layers` layers of the backbone and trains on at
`fine_tune_learning_rate`, much lower than phase 1's. BatchNormalization
layers stay frozen: the backbone runs with `training=False`, and updating
their statistics on a small dataset undoes what ImageNet taught them.

Both phases write to the same history, checkpoints and TensorBoard logs;
phase 2's epochs continue phase 1's numbering, and the learning-rate curve
shows where it began.
"""

import keras

BACKBONE = "backbone"
PHASE_MARKER = "fine_tune_from_epoch"  # in checkpoints/: phase 2 began after this many epochs


def has_backbone(model):
    return any(layer.name == BACKBONE for layer in model.layers)


def pretrained(config):
    """A transfer model whose backbone starts from learnt weights (not `model.weights=none`)."""
    return config.model_params.get("weights", "none") != "none"


def wants_fine_tuning(model, config):
    return config.fine_tune_epochs > 0 and has_backbone(model) and pretrained(config)


def freeze_backbone(model, config):
    """Phase 1: the whole backbone frozen, if it is pretrained.

    A backbone from scratch (`model.weights=none`) trains whole from the
    first epoch, with its BatchNorm learning: there is nothing to protect.
    """
    if has_backbone(model) and pretrained(config):
        model.get_layer(BACKBONE).trainable = False


def unfreeze_top(model, count):
    """Phase 2: the top `count` non-BatchNorm layers of the backbone trainable.

    Returns:
        The names of the layers made trainable.
    """
    backbone = model.get_layer(BACKBONE)
    backbone.trainable = True
    layers = [layer for layer in backbone.layers if layer.weights]
    chosen = [layer for layer in layers if not isinstance(layer, keras.layers.BatchNormalization)]
    chosen = chosen[-count:] if count else []
    for layer in backbone.layers:
        layer.trainable = layer in chosen
    return [layer.name for layer in chosen]
