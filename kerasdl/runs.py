"""Working with a finished run directory: load, re-evaluate, re-export."""

import json
from pathlib import Path

from kerasdl.config import config_from_settings, load_config
from kerasdl.config_values import parse_variants
from kerasdl.data import load_dataset_for
from kerasdl.errors import UserError
from kerasdl.keras_file import load_keras_file
from kerasdl.rundir import existing_run
from kerasdl.runlock import RunDirHeld, acquire, holder, refused_export


def load_run(run_dir):
    """Returns `(config, dataset, model)` rebuilt from a run directory alone.

    The dataset is rebuilt from `config.yaml` (same spec, seed and
    fractions, so the same splits); the model is `model.keras`, loaded with
    `safe_mode=True`.

    Example:
        >>> config, dataset, model = load_run("saved_models/digits_cnn")
    """
    return _load_run(run_dir)


def _load_run(run_dir, locked_here=False):
    run_dir = existing_run(run_dir)
    if not (run_dir / "model.keras").exists():
        busy = None if locked_here else holder(run_dir)
        if busy:
            raise UserError(f"{str(run_dir)!r} is still training ({busy}); wait for it to finish")
        raise UserError(
            f"{str(run_dir)!r} has no model.keras; the run has not finished (rerun `kerasdl train` to resume it)"
        )
    config = load_config(run_dir / "config.yaml")
    return config, load_dataset_for(config), load_keras_file(run_dir / "model.keras")


def evaluate_run(run_dir):
    """Re-evaluates a run's `model.keras` on its test split.

    Returns:
        `(now, recorded)`: the metrics measured now and those in metrics.json
        (None if the file is missing).
    """
    config, dataset, model = load_run(run_dir)
    from kerasdl import tasks
    from kerasdl.litert_runner import examples_per_call
    from kerasdl.training import compile_model

    compile_model(model, config)
    # Batches bounded by their input values, as the export's: 256 images of
    # 128x128 through a U-Net would hold gigabytes of activations.
    batch = examples_per_call(dataset.info.input_shape)
    now = tasks.get(config.task).score(model, dataset.pipeline("test", batch), dataset.info)
    metrics_path = Path(run_dir) / "metrics.json"
    recorded = json.loads(metrics_path.read_text())["test"] if metrics_path.exists() else None
    return now, recorded


def export_existing_run(run_dir, variants=None, int8_io=None, allow_flex=None, log=print):
    """Re-exports a finished run from its `model.keras`; returns the model card.

    Args:
        run_dir: a finished run directory.
        variants: comma-separated TFLite variants; None keeps the run's own.
        int8_io: `float`, `int8` or `uint8`; None keeps the run's own.
        allow_flex: permit Flex ops; None keeps the run's own.
        log: where warnings go.
    """
    from kerasdl.export import export_run

    changes = {"variants": variants, "int8_io": int8_io, "allow_flex": allow_flex}
    changes = {key: value for key, value in changes.items() if value is not None}
    if "variants" in changes:
        parse_variants(changes["variants"])  # a bad name is an error before any loading
    try:
        # Held for the whole export: a `train` there would write the same files.
        lock = acquire(existing_run(run_dir), "kerasdl export", log=log)
    except RunDirHeld as busy:
        raise UserError(refused_export(run_dir, busy.holder)) from None
    with lock:
        config, dataset, model = _load_run(run_dir, locked_here=True)
        config = config_from_settings(config.preset, config.to_dict() | changes)
        metrics_path = Path(run_dir) / "metrics.json"
        if not metrics_path.exists():
            raise UserError(f"{str(run_dir)!r} has no metrics.json; the run has not finished")
        metrics = json.loads(metrics_path.read_text())
        return export_run(run_dir, model, dataset, config, metrics, log=log)
