"""scikit-learn's bundled datasets: real data that needs no network."""

import numpy as np
from sklearn import datasets as sklearn_datasets

from kerasdl.data.dataset import DataInfo, Dataset, normalisation_stats, split_stratified

# name -> (loader, kind); digits are 8x8 grey images with values 0-16.
BUNDLED = {
    "digits": (sklearn_datasets.load_digits, "image"),
    "breast_cancer": (sklearn_datasets.load_breast_cancer, "tabular"),
    "wine": (sklearn_datasets.load_wine, "tabular"),
    "iris": (sklearn_datasets.load_iris, "tabular"),
}


def load_bundled(name, seed, validation_fraction, test_fraction):
    """Loads a bundled dataset as seeded, stratified splits."""
    loader, kind = BUNDLED[name]
    raw = loader()
    labels = raw.target.astype("int32")
    class_names = [str(label) for label in raw.target_names]
    if kind == "image":
        # Raw 0-16 ink levels, as scikit-learn ships them; the model normalises.
        features = raw.images.astype("float32")[..., np.newaxis]
        value_range = (0.0, 16.0)
        feature_names = None
    else:
        features = raw.data.astype("float32")
        feature_names = [str(feature) for feature in raw.feature_names]
    splits = split_stratified(features, labels, seed, validation_fraction, test_fraction)
    if kind != "image":
        # What the model saw in training, never the test split.
        value_range = (float(splits["train"][0].min()), float(splits["train"][0].max()))
    mean, variance = normalisation_stats(splits["train"][0])
    info = DataInfo(
        name=name,
        kind=kind,
        input_shape=tuple(features.shape[1:]),
        class_names=class_names,
        value_range=value_range,
        mean=mean,
        variance=variance,
        feature_names=feature_names,
    )
    return Dataset(info=info, splits=splits)
