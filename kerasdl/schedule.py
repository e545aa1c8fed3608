"""The learning rate over a run: warmup then cosine decay over the planned
steps (the default), halving on a plateau, or constant.

Cosine decay plans the whole run up front (`epochs` x steps per epoch), so
the rate is high while the model is far off and small at the end, where a
constant rate keeps the weights jittering: measured on a folder of 8,000
MNIST PNGs, it reached the plateau schedule's accuracy in far fewer epochs
(docs/speed-and-memory.md, "Time to accuracy"). The warmup (one epoch, at most a tenth of the
plan) keeps Adam's first, badly scaled steps from throwing batch-norm
statistics and fresh weights far off. The schedule is a function of the
optimizer's step counter, which the run's backup restores, so a resumed run
continues on the same curve.

Keras is imported where it is used: `kerasdl.config` reads SCHEDULES, and the
command picks the Keras backend only after reading the config.
"""

SCHEDULES = ("cosine", "plateau", "constant")
WARMUP_START = 0.1  # the warmup starts at this fraction of learning_rate


def learning_rate(config, steps_per_epoch=None):
    """Adam's learning rate for `config`: a float, or a Keras schedule over the
    planned steps when `lr_schedule=cosine` and `steps_per_epoch` is known
    (a copy compiled only to evaluate or probe passes None: constant)."""
    if not steps_per_epoch or config.lr_schedule != "cosine":
        return config.learning_rate
    import keras

    total, warmup = _plan(config, steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate * WARMUP_START,
        decay_steps=total - warmup,
        alpha=0.0,
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
    )


def describe(config, steps_per_epoch):
    """One line for the run's log and config.yaml, e.g. `0.002 after a
    175-step warmup, cosine decay to 0 over 12 epochs (2100 steps)`."""
    if config.lr_schedule == "cosine":
        total, warmup = _plan(config, steps_per_epoch)
        return (
            f"{config.learning_rate:g} after a {warmup}-step warmup, cosine decay to 0 over "
            f"{config.epochs} epoch{'s' * (config.epochs != 1)} ({total} steps)"
        )
    if config.lr_schedule == "plateau" and config.reduce_lr:
        return (
            f"{config.learning_rate:g}, halved after {config.reduce_lr} epochs without {config.monitor} "
            f"improving (down to {config.learning_rate / 100:g})"
        )
    return f"{config.learning_rate:g}, constant"


def _plan(config, steps_per_epoch):
    total = max(2, config.epochs * steps_per_epoch)
    return total, max(1, min(steps_per_epoch, total // 10))
