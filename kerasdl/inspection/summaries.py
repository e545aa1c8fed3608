"""TensorBoard summaries beyond Keras's scalars: a classifier's confusion
matrix, per-class table and worst mistakes (validation split every few
epochs, test split at the end), and every run's hyperparameters with its
test metrics for the HParams dashboard.

Imports Keras and TensorFlow: import this module only once the backend is
chosen.

The folders, beside Keras's `train/` and `validation/` under the run's
`logs/` (TensorBoard polls only the newest event file of a folder, so each
writer gets its own):

- `logs/inspection/`: `validation/confusion_matrix`, `validation/worst_mistakes`
  (an image for image data, a text table otherwise), `validation/per_class` (text);
- `logs/test/`: the same tags under `test/`, and the scalars `accuracy` and
  `loss` (or the task's), at the last epoch;
- `logs/` itself: the HParams session (hyperparameters), whose metrics
  TensorBoard finds in those folders.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from kerasdl.inspection.views import split_view

INSPECTION_FOLDER = "inspection"
TEST_FOLDER = "test"
# Inspections in a run under `inspect_every=auto`, besides the last epoch's.
AUTO_INSPECTIONS = 8
# Validation examples an inspection predicts at most (the first ones): its
# cost must stay small beside an epoch of training.
MAX_EXAMPLES = 5000

# Config keys that describe the export or the terminal, not the training.
NOT_HYPERPARAMETERS = {
    "description", "run_dir", "overwrite", "verbose", "inspect_every", "variants", "int8_io", "allow_flex",
    "fused_lstm",
}  # fmt: skip


def inspection_interval(setting, epochs):
    """Epochs between two inspections: `setting` is the config's
    `inspect_every` (`auto` or an integer as text; 0 for none).

    Example:
        >>> inspection_interval("auto", 40), inspection_interval("auto", 5), inspection_interval("3", 40)
        (5, 1, 3)
    """
    if setting == "auto":
        return max(1, math.ceil(epochs / AUTO_INSPECTIONS))
    return int(setting)


def model_outputs(model, inputs, batch_size):
    """The model's outputs on `inputs` as float32 NumPy, safe under any strategy.

    On one device, the export's `keras_outputs` (`predict_on_batch` a batch
    at a time: after its first call it took 7 ms for 180 digits where
    `predict` took 95 ms, Xeon; inspections run several times a run). Across
    replicas, `predict`, which splits each batch over them: the inputs are
    repeated up to a multiple of the replicas, and so is the batch, as a
    replica given no example would fail (see `kerasdl.data.dataset.batching`).
    """
    from kerasdl.export.verify import keras_outputs

    replicas = getattr(getattr(model, "distribute_strategy", None), "num_replicas_in_sync", 1)
    if replicas == 1:
        return keras_outputs(model, inputs, batch_size)
    count = len(inputs)
    padded = np.resize(inputs, (-(-count // replicas) * replicas, *inputs.shape[1:]))
    batch = max(replicas, batch_size // replicas * replicas)
    # float32 first: under mixed precision the outputs may be float16 or
    # bfloat16 (an ml_dtypes type that not every NumPy routine accepts).
    return np.asarray(model.predict(padded, batch_size=batch, verbose=0)[:count]).astype(np.float32)


def write_inspection(writer, inspection, step):
    """Writes an `Inspection` as `<split>/<name>` image and text summaries at `step`."""
    with writer.as_default(step=step):
        for name, picture in inspection.pictures.items():
            tf.summary.image(f"{inspection.split}/{name}", picture[np.newaxis], max_outputs=1)
        for name, text in inspection.texts.items():
            tf.summary.text(f"{inspection.split}/{name}", text)
    writer.flush()


class PeriodicInspection(keras.callbacks.Callback):
    """Inspects every `every` epochs and at the last one (an early stop's
    too): a task's inspection subclasses it and its `write(epoch)` writes
    what it shows with `self._writer`, open on `log_dir/inspection`."""

    def __init__(self, log_dir, every):
        super().__init__()
        self.log_dir = os.path.join(os.fspath(log_dir), INSPECTION_FOLDER)
        self.every = every
        self._writer = None
        self._last = None  # (epoch, inspected)

    def on_train_begin(self, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        due = (epoch + 1) % self.every == 0
        if due:
            self.inspect(epoch)
        self._last = (epoch, due)

    def on_train_end(self, logs=None):
        if self._last is not None and not self._last[1]:
            self.inspect(self._last[0])
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def inspect(self, epoch):
        if self._writer is None:  # used outside fit()'s usual order of calls
            self.on_train_begin()
        self.write(epoch)

    def write(self, epoch):
        raise NotImplementedError


class ClassificationInspection(PeriodicInspection):
    """Every `every` epochs, and at the last one, the validation split's
    confusion matrix, per-class table and worst mistakes in TensorBoard.

    Args:
        log_dir: the run's TensorBoard folder; the summaries go to
            `log_dir/inspection`.
        info: the `DataInfo` (class names, input kind, value range).
        features, labels: the validation examples.
        every: epochs between two inspections (>= 1).
        batch_size: examples per predict batch.

    Example:
        >>> inspect = ClassificationInspection("runs/cnn/logs", info, x_val, y_val, every=5, batch_size=32)
        >>> model.fit(batches, epochs=40, callbacks=[inspect])  # epochs 5, 10, ..., 40
    """

    def __init__(self, log_dir, info, features, labels, every, batch_size):
        super().__init__(log_dir, every)
        self.info = info
        self.features, self.labels = features[:MAX_EXAMPLES], labels[:MAX_EXAMPLES]
        self.batch_size = batch_size

    def write(self, epoch):
        probabilities = model_outputs(self.model, self.features, self.batch_size)
        inspection = split_view(self.info, self.features, self.labels, probabilities, "validation")
        write_inspection(self._writer, inspection, epoch)


def write_test_summaries(log_dir, inspection, test_metrics, step):
    """The test split's `Inspection` (None: metrics only) and metrics in `log_dir/test`, at `step`."""
    writer = tf.summary.create_file_writer(os.path.join(os.fspath(log_dir), TEST_FOLDER))
    try:
        if inspection is not None:
            write_inspection(writer, inspection, step)
        with writer.as_default(step=step):
            for name, value in scalars(test_metrics).items():
                tf.summary.scalar(name, value)
    finally:
        writer.close()


def scalars(metrics, prefix=""):
    """The numbers of `metrics`, nested dicts (a segmenter's IoU per class) as `name/key`.

    Example:
        >>> scalars({"loss": 0.5, "iou": {"cell": 0.8}, "note": "x"})
        {'loss': 0.5, 'iou/cell': 0.8}
    """
    flat = {}
    for name, value in metrics.items():
        if isinstance(value, dict):
            flat |= scalars(value, f"{prefix}{name}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[f"{prefix}{name}"] = float(value)
    return flat


def hyperparameters(config):
    """The config's training choices as HParams values (bool, int, float or
    str); keys left empty (unused, or the default meaning) are left out."""
    values = {"preset": config.preset}
    for key, value in config.to_dict().items():
        if key in NOT_HYPERPARAMETERS or value in ("", None):
            continue
        if isinstance(value, (list, tuple, dict)):
            value = str(list(value) if isinstance(value, tuple) else value)
        values[key] = value
    return values


def write_hyperparameters(log_dir, config, trial_id):
    """The run as one session of TensorBoard's HParams dashboard, in `log_dir` itself.

    No experiment config is written: with one per run, TensorBoard would
    take a single run's list of hyperparameters and metrics for all runs.
    Without, it gathers them from every run's session and scalars.
    """
    writer = tf.summary.create_file_writer(os.fspath(log_dir))
    try:
        with writer.as_default():
            hparams_api.hparams(hyperparameters(config), trial_id=trial_id)
    finally:
        writer.close()
