"""Data sources: each turns a data spec into a `Dataset` of seeded splits."""

from kerasdl.data.bundled import BUNDLED, load_bundled
from kerasdl.data.dataset import DataInfo, Dataset
from kerasdl.errors import UserError

__all__ = ["DataInfo", "Dataset", "load_dataset", "BUNDLED"]


def load_dataset(spec, seed=42, validation_fraction=0.1, test_fraction=0.2):
    """Loads the data named by `spec` as train/validation/test splits.

    Args:
        spec: `digits`, `breast_cancer`, `wine` or `iris` (bundled with
            scikit-learn, offline). Other sources (`tfds:`, `images:`,
            `text:`, `csv:`) come with their own modules.
        seed: seeds the stratified splits.
        validation_fraction: share of all examples for validation.
        test_fraction: share of all examples for the test split.

    Returns:
        A `Dataset`.

    Example:
        >>> load_dataset("iris").info.class_names
        ['setosa', 'versicolor', 'virginica']
    """
    if spec in BUNDLED:
        return load_bundled(spec, seed, validation_fraction, test_fraction)
    raise UserError(f"Unknown dataset {spec!r}; choose one of: {', '.join(BUNDLED)}")
