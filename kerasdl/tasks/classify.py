"""Classification: a label is a class index; the model outputs class probabilities.

What the rest of kerasdl asks of a task (each task module answers the same):

- `MODEL_FAMILIES`, `OUTPUT`: the families whose models do this task, and the
  name of the one output of the served model; `TEST_METRIC`: the test
  metric that sums a run up;
- `LOSSES`, `compile_arguments(config, model)`: the losses `loss=` may
  name (the first is the default), and the loss and metrics;
- `keras_objects()`: its own losses and metrics, for loading a saved model;
- `score(model, batches, info)`: the test metrics for `metrics.json`;
- `parity(expected, actual, labels)`, `parity_problem(variant, parity)`: how
  a TFLite variant compares with the Keras model, and whether it ships;
  `PARITY_COLUMNS`, `parity_cells(parity)`: that comparison in the report;
- `card_output(info)`, `description(info)`: what the model card says;
- `headline(test)`, `agreement(parity)`: the lines `kerasdl train` prints;
- `render(outputs, card, top, sources, out_dir)`, `format_prediction(result)`:
  what `kerasdl predict` returns (and writes) and prints;
- `sample_callbacks(log_dir, dataset, config)`: what TensorBoard shows
  during training besides the scalars;
- `test_view(info, features, labels, outputs)`: what TensorBoard and
  `plots/` show of the test split at the end (`kerasdl.inspection`), or None.
"""

import dataclasses

import numpy as np

MODEL_FAMILIES = ("ann", "audio_cnn", "bert", "cnn", "rnn", "transfer")
OUTPUT = "probabilities"
TEST_METRIC = "accuracy"  # the test metric that sums a run up (`kerasdl runs`, HParams)
LOSSES = ("ce",)

# Smallest top-1 agreement with the Keras model for a variant to be shipped.
# float32 changes the arithmetic order, not the maths: it must agree fully and
# its probabilities may differ only in the last bits.
MIN_AGREEMENT = {"float32": 1.0, "float16": 0.99, "dynamic": 0.98, "int8": 0.98}
MAX_ABS_DIFF_FLOAT32 = 1e-4


def compile_arguments(config, model):
    """Sparse categorical cross-entropy on the softmax outputs, and accuracy."""
    import keras  # here, not at the top: the config reads tasks before the backend is chosen

    return {
        "loss": keras.losses.SparseCategoricalCrossentropy(),
        "metrics": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    }


def keras_objects():
    """None of kerasdl's own: classifiers compile with Keras's loss and metric."""
    return {}


def score(model, batches, info):
    """The compiled loss and accuracy on the test batches."""
    return {name: float(value) for name, value in model.evaluate(batches, return_dict=True, verbose=0).items()}


@dataclasses.dataclass
class Parity:
    """How closely a TFLite model matches the Keras model on the same inputs."""

    examples: int
    top1_agreement: float
    max_abs_diff: float
    accuracy: float

    def as_dict(self):
        return dataclasses.asdict(self)


def parity(expected, actual, labels):
    """Compares TFLite probabilities `actual` with the Keras ones `expected`."""
    return Parity(
        examples=len(expected),
        top1_agreement=float(np.mean(expected.argmax(-1) == actual.argmax(-1))),
        max_abs_diff=float(np.max(np.abs(expected - actual))),
        accuracy=float(np.mean(actual.argmax(-1) == labels)),
    )


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    needed = MIN_AGREEMENT[variant]
    if parity.top1_agreement < needed:
        return f"top-1 agreement {parity.top1_agreement:.2%} with the Keras model is below {needed:.0%}"
    if variant == "float32" and parity.max_abs_diff > MAX_ABS_DIFF_FLOAT32:
        return f"max abs difference {parity.max_abs_diff:.2g} exceeds {MAX_ABS_DIFF_FLOAT32:g}"
    return None


PARITY_COLUMNS = ("top-1 agreement", "max abs diff", "test accuracy")


def parity_cells(parity):
    """A variant's parity (a card's dict) as the report's cells, in `PARITY_COLUMNS` order."""
    return [f"{parity['top1_agreement']:.2%}", f"{parity['max_abs_diff']:.2g}", f"{parity['accuracy']:.2%}"]


def agreement(parity):
    """How the float32 variant agrees with Keras, in words."""
    return f"agrees with Keras on {parity['top1_agreement']:.1%} of the test split"


def headline(test):
    """The test result as `(measure, figures)`, for `kerasdl train` and report.md."""
    nan = float("nan")
    return "accuracy", f"{test.get('accuracy', nan):.2%} (loss {test.get('loss', nan):.4f})"


def description(info):
    return f"{info.kind} classification"


def card_output(info):
    """The model card's `output`: the served model's one tensor and how to read it."""
    return {
        "name": OUTPUT,
        "shape": [1, info.num_classes],
        "dtype": "float32",
        "meaning": "softmax probabilities; index i is line i of labels.txt",
    }


def serving_outputs(probabilities):
    """What the SavedModel's `serving_default` and the TFLite model return."""
    return {OUTPUT: probabilities}


def serve_raw_outputs(probabilities, images):
    """The SavedModel's `serve_raw` outputs: the probabilities alone."""
    return {OUTPUT: probabilities}


def render(outputs, card, top=3, sources=(), out_dir=None):
    """Per example, its `top` classes as `[(label, probability), ...]`, best first."""
    labels = card["labels"]
    ranked = []
    for row in outputs:
        best = np.argsort(row)[::-1][: max(1, min(top, len(labels)))]
        ranked.append([(labels[i], float(row[i])) for i in best])
    return ranked


def sample_callbacks(log_dir, dataset, config):
    """Every few epochs (`inspect_every`), the validation split's confusion
    matrix, per-class precision, recall and F1, and worst mistakes."""
    from kerasdl.inspection.summaries import MAX_EXAMPLES, ClassificationInspection, inspection_interval

    every = inspection_interval(config.inspect_every, config.epochs + config.fine_tune_epochs)
    if not every:
        return []
    from kerasdl.litert_runner import examples_per_call

    features, labels = dataset.sample("validation", MAX_EXAMPLES)
    # Inference batches as large as the export's reference calls: fewer calls, bounded memory.
    batch = examples_per_call(features.shape[1:])
    return [ClassificationInspection(log_dir, dataset.info, features, labels, every, batch)]


def test_view(info, features, labels, outputs):
    """The test split's confusion matrix, per-class table and worst mistakes (a `SplitView`)."""
    from kerasdl.inspection.views import split_view

    return split_view(info, features, labels, outputs, "test")


def format_prediction(ranked):
    return ", ".join(f"{label} ({probability:.3f})" for label, probability in ranked)
