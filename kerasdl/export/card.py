"""`model_card.json` and `labels.txt`: what a phone app needs to call the model."""

import datetime

import numpy as np

from kerasdl import tasks
from kerasdl.photos import photo_preparation
from kerasdl.tokenize import TOKENISATION_RULES

VOCABULARY_FILE = "vocab.txt"


def model_card(model, info, config, metrics, variants, versions):
    """The model card as a JSON-ready dict.

    Args:
        model: the trained `keras.Model`.
        info: the data's `DataInfo`.
        config: the run's `Config`.
        metrics: the run's metrics (`{"test": {...}}`).
        variants: per TFLite variant, its file, size, ops and parity.
        versions: library versions that produced the files.
    """
    task = tasks.get(config.task)
    return {
        "name": config.preset,
        "description": config.description,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "task": config.task,
        "task_description": task.description(info),
        "data": config.data,
        "model": {
            "family": config.model,
            "hyperparameters": {k: list(v) if isinstance(v, tuple) else v for k, v in config.model_params.items()},
            "parameters": int(model.count_params()),
            "training_precision": model.dtype_policy.name,
        },
        "input": input_entry(info, task),
        "output": task.card_output(info),
        "labels": list(info.class_names),
        "metrics": {"test": metrics["test"]},
        "variants": variants,
        "versions": versions,
    }


def input_entry(info, task=None):
    """The card's `input`: the tensor the TFLite model takes and how to make
    it (a task's own `PHOTO_PREPARATION`, a detector's letterbox, first)."""
    low, high = info.value_range
    entry = {"name": info.input_name, "shape": [1, *info.input_shape], "dtype": info.input_dtype}
    if info.kind == "text":
        length = info.input_shape[0]
        return entry | {
            "layout": f"batch, {length} token ids",
            "value_range": [low, high],
            "tokenizer": info.tokenizer,
            "preprocessing": TOKENISATION_RULES[info.tokenizer].replace("sequence_length", str(length)),
            "vocabulary_file": VOCABULARY_FILE,
            "vocabulary_size": len(info.vocabulary),
            "sequence_length": length,
        }
    if info.kind == "audio":
        return entry | audio_entry(info)
    if info.kind == "image":
        height, width, channels = info.input_shape
        layout = f"NHWC: batch, {height} rows, {width} columns, {channels} channel(s)"
        preparation = getattr(task, "PHOTO_PREPARATION", None) or photo_preparation(info.name, info.input_shape)
        if preparation:  # how a photo becomes what the model learned from
            entry["photo_preparation"] = preparation
    else:
        layout = f"batch, {info.input_shape[0]} features in the order of input.feature_names"
    return (
        entry
        | {
            "layout": layout,
            "value_range": [low, high],
            "preprocessing": (
                f"none: send raw values in [{low:g}, {high:g}] as the training data has them; "
                "normalisation (mean and variance of the training split) is inside the model"
            ),
            "normalisation_inside_model": {
                "mean": np.asarray(info.mean, dtype=float).tolist(),
                "variance": np.asarray(info.variance, dtype=float).tolist(),
                "epsilon": 1e-7,
                "formula": "(x - mean) / max(sqrt(variance), epsilon), per channel or feature",
            },
            "feature_names": info.feature_names,
        }
        | _categories_entry(info)
    )


def _categories_entry(info):
    if not info.categories:
        return {}
    return {
        "categories": {info.feature_names[index]: list(names) for index, names in sorted(info.categories.items())},
        "categorical_features": (
            "send a categorical feature as the code of its value: 1 + its position in input.categories "
            "(the first category is 1), or 0 for a value not listed or missing; the model one-hot encodes "
            "the codes inside, and normalises only the numeric features"
        ),
    }


def labels_text(info):
    """labels.txt: one class name per line, line i for output index i."""
    return "".join(f"{name}\n" for name in info.class_names)


def audio_entry(info):
    """The card's `input` for a clip classifier: how a recording becomes
    the samples the model takes (`kerasdl.wav.clip`)."""
    rate, (samples,) = info.sample_rate, info.input_shape
    return {
        "layout": f"batch, {samples} samples: {samples / rate:g} s of mono audio at {rate} Hz",
        "value_range": [-1.0, 1.0],
        "sample_rate": rate,
        "preprocessing": (
            f"mix to mono (the mean of the channels), resample to {rate} Hz, scale to [-1, 1] (16-bit PCM: "
            f"divide by 32768), cut or pad with zeros at the end to {samples} samples; the log-mel spectrogram "
            "is computed inside the model"
        ),
    }
