"""Export a trained model for serving and phones, verified before it lands.

Files are written to a temporary folder inside the run directory, checked
(builtin ops only, TFLite outputs equal to Keras outputs on the test split),
and only then moved into place, so a failed export leaves the previous files
untouched and nothing half-written.
"""

import json
import shutil
import tempfile
from pathlib import Path

from kerasdl.export.card import labels_text, model_card
from kerasdl.export.portable import portable_copy
from kerasdl.export.savedmodel import write_saved_model
from kerasdl.export.tflite import convert_to_tflite
from kerasdl.export.verify import check_parity
from kerasdl.versions import library_versions

EXPORTED_FILES = ("model.keras", "saved_model", "model.tflite", "labels.txt", "model_card.json")
VARIANTS = ("float32",)


def export_run(run_dir, model, dataset, config, metrics):
    """Writes model.keras, saved_model/, model.tflite, labels.txt, model_card.json.

    Args:
        run_dir: the run directory.
        model: the trained `keras.Model`.
        dataset: the run's `Dataset` (its test split checks the TFLite model).
        config: the run's `Config`.
        metrics: `{"test": {...}}` for the model card.

    Returns:
        The model card (a dict).

    Raises:
        RunFailed: conversion failed, non-builtin ops, or a parity mismatch.
    """
    run_dir = Path(run_dir)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=run_dir))
    try:
        model.save(staging / "model.keras")
        # Served models compute in float32 on any device; the parity check
        # compares TFLite with that same float32 Keras computation.
        reference = portable_copy(model)
        write_saved_model(reference, dataset.info, staging / "saved_model")
        flatbuffer, ops = convert_to_tflite(model, dataset.info)
        test_inputs, test_labels = dataset.arrays("test")
        parity = check_parity(reference, flatbuffer, test_inputs, test_labels)
        (staging / "model.tflite").write_bytes(flatbuffer)
        variants = {
            "float32": {
                "file": "model.tflite",
                "size_bytes": len(flatbuffer),
                "ops": ops,
                "builtins_only": True,
                "parity": parity.as_dict() | {"compared_with": "the Keras model, computing in float32"},
            }
        }
        card = model_card(model, dataset.info, config, metrics, variants, library_versions())
        (staging / "labels.txt").write_text(labels_text(dataset.info))
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        for name in EXPORTED_FILES:
            _move_into_place(staging / name, run_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card


def _move_into_place(source, destination):
    """Replaces `destination` by `source`; folders via a rename-aside."""
    if destination.is_dir():
        aside = destination.with_name(f".{destination.name}.old")
        shutil.rmtree(aside, ignore_errors=True)
        destination.rename(aside)
        source.rename(destination)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        source.replace(destination)
