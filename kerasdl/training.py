"""One run: config -> data -> strategy -> model -> fit -> evaluate -> export.

Everything that can reject the user's input (config, data, strategy, model
hyperparameters, run directory) runs before the first byte is written.
"""

import dataclasses
import json
import shutil

import keras
import yaml

from kerasdl.callbacks import read_history, run_callbacks
from kerasdl.config import Config, make_config
from kerasdl.data import load_dataset_for
from kerasdl.distribute import describe_strategy, precision_policy, resolve_precision, resolve_strategy
from kerasdl.export import export_run
from kerasdl.models import build_model
from kerasdl.rundir import open_run_dir, plan_run_dir
from kerasdl.versions import library_versions


@dataclasses.dataclass
class RunResult:
    """What `train()` produced: where, how well, and the export report."""

    run_dir: object
    metrics: dict
    card: dict
    resumed: bool


def compile_model(model, config):
    """Compiles for classification: Adam at `config.learning_rate`, sparse
    categorical cross-entropy on the softmax outputs, accuracy.

    Example:
        >>> compile_model(model, make_config("iris_ann"))
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def train(preset, overrides=None, log=print):
    """Trains, evaluates and exports one run.

    Args:
        preset: a preset name, or a ready `Config`.
        overrides: KEY=VALUE settings over the preset (ignored for a Config).
        log: where progress lines go (`print` by default).

    Returns:
        A `RunResult`.

    Example:
        >>> result = train("breast_cancer_ann", {"epochs": 5})
        >>> result.metrics["test"]["accuracy"] > 0.9
        True
    """
    config = preset if isinstance(preset, Config) else make_config(preset, overrides)
    dataset = load_dataset_for(config)
    strategy = resolve_strategy(config.strategy, log=log)
    precision, reason = resolve_precision(config.precision, strategy)
    for note in dataset.notes:
        log(note)
    plan = plan_run_dir(config)
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size * replicas

    keras.utils.set_random_seed(config.seed)
    with precision_policy(precision):
        with strategy.scope():
            model = build_model(config.model, dataset.info, **config.model_params)
            compile_model(model, config)

        if plan.note:
            log(plan.note)
        run_dir = open_run_dir(plan)
        resolved = {
            "strategy": describe_strategy(strategy),
            "precision": f"{precision} ({reason})",
            "global_batch_size": global_batch,
            "run_dir": str(run_dir),
        }
        if not plan.resume:
            _write_config(run_dir, config, resolved)
        log(
            f"Training {config.preset}: {config.model} on {config.data}; {resolved['strategy']}; "
            f"{resolved['precision']}; global batch {global_batch}"
        )

        fitted = run_dir / "checkpoints" / "fit_complete"
        if fitted.exists():
            # Interrupted after training (during export): resuming must not
            # train on past an early stop, only finish the run.
            log("training had finished; evaluating and exporting the best checkpoint")
            with strategy.scope():
                # The checkpoint holds optimizer state too; an unbuilt
                # optimizer would make Keras warn that it skipped it.
                model.optimizer.build(model.trainable_variables)
        else:
            model.fit(
                dataset.pipeline("train", global_batch, shuffle=True, seed=config.seed, replicas=replicas),
                validation_data=dataset.pipeline("validation", global_batch, replicas=replicas),
                epochs=config.epochs,
                callbacks=run_callbacks(run_dir, config),
                shuffle=False,  # the pipeline shuffles, seeded
                verbose=config.verbose,
            )
            fitted.parent.mkdir(exist_ok=True)
            fitted.touch()
        best = run_dir / "checkpoints" / "best.weights.h5"
        if best.exists():
            model.load_weights(best)
        test = model.evaluate(dataset.pipeline("test", global_batch, replicas=replicas), return_dict=True, verbose=0)

    metrics = {
        "test": {name: float(value) for name, value in test.items()},
        "history": read_history(run_dir / "history.csv"),
    }
    card = export_run(run_dir, model, dataset, config, metrics, log=log)
    # metrics.json is written last: its presence marks the run finished.
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _remove_backup(run_dir)
    return RunResult(run_dir=run_dir, metrics=metrics, card=card, resumed=plan.resume)


def _write_config(run_dir, config, resolved):
    document = {"preset": config.preset} | config.to_dict()
    document["resolved"] = resolved
    document["versions"] = library_versions()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def _remove_backup(run_dir):
    shutil.rmtree(run_dir / "checkpoints" / "backup", ignore_errors=True)
