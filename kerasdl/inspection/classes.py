"""What a classifier got wrong, as numbers: the confusion matrix, per-class
precision, recall and F1, and its most confident mistakes.

Pure NumPy and scikit-learn (no TensorFlow): the TensorBoard callback, the
export's test-split pictures and the tests share it.
"""

import dataclasses

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


@dataclasses.dataclass
class ClassReport:
    """How a classifier did on one split.

    Args:
        class_names: the label of each class index.
        matrix: `matrix[true, predicted]` counts, `(classes, classes)`.
        precision, recall, f1: per class, 0 where undefined (no prediction
            or no example of the class).
        support: examples of each class.
    """

    class_names: list
    matrix: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    @property
    def accuracy(self):
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")

    def markdown(self, heading=""):
        """The per-class table as Markdown (TensorBoard's text dashboard renders it)."""
        lines = [heading, ""] if heading else []
        lines += ["| class | precision | recall | F1 | examples |", "|---|---|---|---|---|"]
        for index, name in enumerate(self.class_names):
            lines.append(
                f"| {escaped(name)} | {self.precision[index]:.3f} | {self.recall[index]:.3f} | "
                f"{self.f1[index]:.3f} | {int(self.support[index])} |"
            )
        weights = self.support / max(1, self.support.sum())
        lines.append(
            f"| **mean (by examples)** | {weights @ self.precision:.3f} | {weights @ self.recall:.3f} | "
            f"{weights @ self.f1:.3f} | {int(self.support.sum())} |"
        )
        return "\n".join(lines)


def class_report(labels, probabilities, class_names):
    """The `ClassReport` of `probabilities` `(N, classes)` against the true `labels` `(N,)`."""
    labels = np.asarray(labels).astype(np.int64)
    predicted = np.asarray(probabilities).argmax(-1)
    indices = np.arange(len(class_names))
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=indices, zero_division=0)
    return ClassReport(
        class_names=list(class_names),
        matrix=confusion_matrix(labels, predicted, labels=indices),
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
    )


@dataclasses.dataclass
class Mistake:
    """One wrongly classified example: its index in the split, the true and
    predicted class, and the probability the model gave its wrong answer."""

    index: int
    true: int
    predicted: int
    confidence: float


def worst_mistakes(labels, probabilities, count):
    """The `count` wrong predictions made with the highest confidence, worst first."""
    labels = np.asarray(labels).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    predicted = probabilities.argmax(-1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    # Stable, so equal confidences keep the split's order (runs repeat).
    order = wrong[np.argsort(-confidence, kind="stable")][:count]
    return [Mistake(int(i), int(labels[i]), int(predicted[i]), float(probabilities[i, predicted[i]])) for i in order]


def escaped(text):
    """`text` safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")
