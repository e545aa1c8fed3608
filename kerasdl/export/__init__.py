"""Export a trained model for serving and phones, verified before it lands.

Files are written to a temporary folder inside the run directory, checked
(builtin ops only; every TFLite variant run with LiteRT on the test split and
compared with the Keras model), and only then moved into place, so a failed
export leaves the previous files untouched and nothing half-written.
"""

import json
import shutil
import tempfile
from pathlib import Path

from kerasdl import tasks
from kerasdl.export.card import VOCABULARY_FILE, labels_text, model_card
from kerasdl.export.fused import write_conversion_source
from kerasdl.export.inspection import write_reports, write_tensorboard
from kerasdl.export.latency import keras_latency
from kerasdl.export.parity_sample import parity_examples
from kerasdl.export.portable import portable_copy
from kerasdl.export.savedmodel import write_saved_model
from kerasdl.export.variants import VARIANT_FILES, export_variant
from kerasdl.export.verify import keras_outputs
from kerasdl.interrupts import raise_if_interrupted
from kerasdl.litert_runner import examples_per_call
from kerasdl.stage_line import StageLine
from kerasdl.tokenize import vocabulary_text
from kerasdl.versions import library_versions

EXPORTED_FILES = ("model.keras", "saved_model", "labels.txt", "model_card.json", "report.md", "report.html", "plots")


def export_run(run_dir, model, dataset, config, metrics, log=print):
    """Writes the Keras file, SavedModel, TFLite variants, labels, card and report.

    Args:
        run_dir: the run directory.
        model: the trained `keras.Model`.
        dataset: the run's `Dataset`: its test split checks every variant and
            its training split calibrates int8.
        config: the run's `Config` (`variants`, `int8_io`, `allow_flex`).
        metrics: `{"test": {...}}` for the model card.
        log: where warnings (a rejected variant, Flex ops) go.

    Returns:
        The model card (a dict).

    Raises:
        RunFailed: the float32 conversion failed, needed non-builtin ops, or
            disagrees with the Keras model. A quantized variant that falls
            short is left out with a warning and its reason in the card.
    """
    task = tasks.get(config.task)
    if hasattr(task, "export_run"):  # a phone model other than the trained one (a WaveNet's step model)
        return task.export_run(run_dir, model, dataset, config, metrics, log)
    run_dir = Path(run_dir)
    staging = new_staging(run_dir)
    model = task.exported_model(model) if hasattr(task, "exported_model") else model  # a GAN's generator
    line = StageLine("export", enabled=bool(config.verbose))
    try:
        line.say("the Keras file and the SavedModel")
        model.save(staging / "model.keras")
        # Served models compute in float32 on any device; the parity checks
        # compare TFLite with that same float32 Keras computation.
        reference = portable_copy(model)
        write_saved_model(reference, dataset.info, staging / "saved_model", task=task)
        test_inputs, test_labels, sampled = parity_examples(dataset, config.seed)
        if sampled:
            log(sampled)
        # In batches no larger than training's: activations, not inputs, fill
        # memory, and TensorFlow keeps working memory for each new batch size
        # (a 128x128 U-Net's reference predictions on 400 test images left
        # 1.58 GB resident at batch 2, 1.71-1.96 GB at batch 16).
        batch = min(config.batch_size, examples_per_call(test_inputs.shape[1:]))
        line.say(f"the Keras model's outputs on {len(test_inputs)} test examples, the reference")
        expected = keras_outputs(reference, test_inputs, batch)
        inspection = task.test_view(dataset.info, test_inputs, test_labels, expected)
        raw_source = staging / "source-raw"
        recurrent = write_conversion_source(
            model, dataset.info, raw_source, test_inputs[:16], config.fused_lstm, task=task
        )
        if config.fused_lstm and recurrent != "fused":
            log("warning: fused_lstm=true, but this model cannot be fused (GRU or unmapped layers); exported unrolled")
        variants = {}
        names = config.variant_names()
        for number, name in enumerate(names, start=1):
            raise_if_interrupted()  # a Ctrl-C that a conversion's C++ or finalizers swallowed
            line.say(
                f"TFLite {name} ({number}/{len(names)}): converting, running it on {len(test_inputs)} test examples "
                "with LiteRT, timing it"
            )
            test = (test_inputs, test_labels, expected)
            variants[name] = export_variant(name, model, dataset, config, test, staging, (raw_source, recurrent), log)
        float32_size = variants["float32"]["size_bytes"]
        for entry in variants.values():
            if "size_bytes" in entry:
                entry["size_vs_float32"] = round(entry["size_bytes"] / float32_size, 4)
        raise_if_interrupted()  # before the files move into the run directory
        line.say("the model card, the report and its pictures")
        card = model_card(model, dataset.info, config, metrics, variants, library_versions())
        # The test metrics count the whole split; the parity, the examples it was checked on.
        card["metrics"]["test_examples"] = dataset.size("test")
        card["keras_latency_ms"] = keras_latency(model, test_inputs[:1])
        (staging / "labels.txt").write_text(labels_text(dataset.info))
        extra = []
        if dataset.info.vocabulary:
            (staging / VOCABULARY_FILE).write_text(vocabulary_text(dataset.info.vocabulary), encoding="utf-8")
            extra.append(VOCABULARY_FILE)
        (staging / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
        write_reports(staging, run_dir, card, config, inspection, metrics.get("history", {}))
        land(staging, run_dir, variants, extra)
    finally:
        line.close()
        shutil.rmtree(staging, ignore_errors=True)
    write_tensorboard(run_dir, config, inspection, metrics)
    return card


def new_staging(run_dir):
    """A fresh staging folder inside `run_dir`, after removing those a killed export left."""
    for stale in run_dir.glob(".export-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=".export-", dir=run_dir))


def land(staging, run_dir, variants, extra=()):
    """Moves the verified export from `staging` into `run_dir`: `EXPORTED_FILES`,
    `extra` files and the shipped variants of `variants` (card entries); a
    variant file an earlier export left and this one did not ship is removed."""
    shipped = [entry["file"] for entry in variants.values() if "file" in entry]
    for name in (*EXPORTED_FILES, *extra, *shipped):
        move_into_place(staging / name, run_dir / name)
    for name in set(VARIANT_FILES.values()) - set(shipped):
        (run_dir / name).unlink(missing_ok=True)


def move_into_place(source, destination):
    """Replaces `destination` by `source`; folders via a rename-aside."""
    if destination.is_dir():
        aside = destination.with_name(f".{destination.name}.old")
        shutil.rmtree(aside, ignore_errors=True)
        destination.rename(aside)
        source.rename(destination)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        source.replace(destination)
