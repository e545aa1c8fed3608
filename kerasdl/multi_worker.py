"""Training on several machines: MultiWorkerMirroredStrategy under Keras 3.

Every worker runs the same `kerasdl train` command with its own TF_CONFIG
(keras-team/keras#20585 reports Keras 3's support for this strategy as
uncertain). Keras 3.15's TensorFlow trainer fails under it in two places,
seen here with two workers on 127.0.0.1:

1. `_maybe_symbolic_build` builds the model from the first batch by taking
   `strategy.reduce("MEAN", batch)` of the distributed input, which across
   workers cannot convert a `PerReplica` batch to a tensor. Only the batch's
   shapes and dtypes matter there, so one local replica's shard serves.
2. `reduce_per_replica` reduces each step's metric results with
   `strategy.reduce("MEAN", value, axis=0)`, which fails on the scalar
   results ("Invalid reduction dimension 0 for input with 0 dimensions").
   The results are means already, the same on every replica (metric
   variables are mirrored and summed on write), so the mean over replicas
   (`axis=None`) is the value itself, as on one machine.

`install_keras_fixes` replaces exactly these two functions, and the
replacements defer to Keras's own code for every other strategy. This is a
fix at the depth of the bug, not a second training loop: `model.fit`, the
callbacks and the presets stay as they are.

Roles: the chief (the `chief` task, or worker 0 when the cluster has none)
writes the run directory. Other workers must run the same callbacks (their
saves and early stops keep the workers in step), so they write into a
scratch folder that starts from the chief's checkpoints when a run resumes
and is removed at the end. Resuming therefore needs `run_dir` on storage
that every worker sees (a shared or network file system).
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from kerasdl.errors import RunFailed, UserError


def in_multi_worker_mode(strategy):
    """True for a MultiWorkerMirroredStrategy that spans more than one process."""
    import tensorflow as tf  # here, not at the top: the command asks is_chief() before TensorFlow loads

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def task():
    """`(type, index)` of this process from TF_CONFIG, e.g. `("worker", 1)`."""
    config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    entry = config.get("task", {})
    return entry.get("type", "worker"), int(entry.get("index", 0))


def is_chief():
    """The chief writes the run directory: the `chief` task, else worker 0."""
    config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    kind, index = task()
    if config.get("cluster", {}).get("chief"):
        return kind == "chief"
    return kind == "worker" and index == 0


def describe_task():
    kind, index = task()
    return f"{kind} {index}"


def require_shared_run_dir(config):
    """A multi-worker run names its directory: the relative default would
    land on each machine's own disk, where a restarted worker cannot find
    the chief's checkpoints."""
    if not config.run_dir:
        raise UserError(
            "a multi-worker run needs run_dir= on storage every worker sees (a shared or network file system), "
            "the same path on every worker"
        )


@contextlib.contextmanager
def scratch_run_dir(plan):
    """A non-chief worker's run directory: temporary, seeded from the chief's
    checkpoints and history when the run resumes, removed afterwards."""
    kind, index = task()
    scratch = Path(tempfile.mkdtemp(prefix=f"kerasdl-{kind}{index}-"))
    try:
        if plan.resume:
            if (plan.path / "checkpoints").is_dir():
                shutil.copytree(plan.path / "checkpoints", scratch / "checkpoints")
            if (plan.path / "history.csv").exists():
                shutil.copy2(plan.path / "history.csv", scratch / "history.csv")
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def lost_workers_explained():
    """A worker that dies aborts the others' collectives within seconds
    ("Collective ops is aborted by: ... Connection reset by peer"); that
    becomes one line saying how to resume instead of a traceback."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise RunFailed(
            f"{describe_task()} lost contact with the cluster ({lines[0] if lines else type(error).__name__}); "
            "start every worker again with the same command and the run resumes from its last finished epoch"
        ) from None


def install_keras_fixes():
    """Installs the two fixes this module's docstring describes (idempotent)."""
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer.reduce_per_replica, "kerasdl_fix", False):
        return
    keras_reduce = trainer.reduce_per_replica
    keras_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and in_multi_worker_mode(strategy):
            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return keras_reduce(values, strategy, reduction)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not in_multi_worker_mode(strategy):
            return keras_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            first = next(batches)
            data_batch = tf.nest.map_structure(lambda value: strategy.experimental_local_results(value)[0], first)
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    reduce_per_replica.kerasdl_fix = True
    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
