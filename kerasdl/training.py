"""One run: config -> data -> strategy -> model -> fit -> evaluate -> export.

Everything that can reject the user's input (config, data, strategy, model
hyperparameters, run directory) runs before the first byte is written.
"""

import contextlib
import dataclasses
import json
import math
import shutil
import warnings

import keras
import yaml

from kerasdl import schedule, tasks
from kerasdl.callbacks import run_callbacks
from kerasdl.checkpoints import WRITE_INTERVAL_SECONDS, RunCheckpoints, epochs_on_disk
from kerasdl.config import Config, make_config
from kerasdl.cpu import describe_cpu
from kerasdl.data import load_dataset_for
from kerasdl.distribute import (
    describe_strategy,
    needs_even_batches,
    precision_policy,
    resolve_jit,
    resolve_precision,
    resolve_steps_per_execution,
    resolve_strategy,
)
from kerasdl.errors import UserError
from kerasdl.export import export_run
from kerasdl.export.from_jax import export_from_jax
from kerasdl.finetune import PHASE_MARKER, freeze_backbone, unfreeze_top, wants_fine_tuning
from kerasdl.history import read_history, repair_history
from kerasdl.jax_backend import JaxDevices, check_backend, on_jax
from kerasdl.models import build_model
from kerasdl.multi_worker import (
    describe_task,
    in_multi_worker_mode,
    is_chief,
    lost_workers_explained,
    require_shared_run_dir,
    scratch_run_dir,
)
from kerasdl.precision_probe import time_train_steps
from kerasdl.run_inputs import end_streaming, fit_inputs, input_callbacks, start_streaming
from kerasdl.rundir import open_run_dir, plan_run_dir
from kerasdl.versions import library_versions


@dataclasses.dataclass
class RunResult:
    """What `train()` produced: where, how well, and the export report."""

    run_dir: object
    metrics: dict
    card: dict
    resumed: bool


# Fewer training steps than this in a whole run gets a note: presets sized for
# folders of thousands (image_cnn: batch 64, 24 epochs) take few on a small one.
FEW_STEPS = 100


def compile_model(model, config, learning_rate=None, jit_compile=False, steps_per_execution=1, steps_per_epoch=None):
    """Compiles for the config's task: Adam (beta_1: the task's `ADAM_BETA_1`, else 0.9) at `learning_rate`
    (default: the config's rate and schedule over `steps_per_epoch`, `kerasdl.schedule`), the task's loss and
    metrics (`kerasdl.tasks`); XLA if `jit_compile`; `steps_per_execution` steps per call.

    Example:
        >>> compile_model(model, make_config("iris_ann"), steps_per_epoch=7)
    """
    task, rate = tasks.get(config.task), learning_rate or schedule.learning_rate(config, steps_per_epoch)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate, beta_1=getattr(task, "ADAM_BETA_1", 0.9)),
        **task.compile_arguments(config, model),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
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
    check_backend(config.backend, config.profile)
    # The strategy first: a multi-worker one must start TensorFlow's runtime.
    strategy = resolve_strategy(config.strategy, log=log)
    several_workers = in_multi_worker_mode(strategy)
    if several_workers:
        require_shared_run_dir(config)
    # The run directory next, before the data: a directory another command
    # holds stops this one at once. Only the chief writes (and locks) it.
    plan = plan_run_dir(config, lock=not several_workers or is_chief())
    try:
        return _train(config, strategy, plan, several_workers, log)
    finally:
        plan.release()


def _train(config, strategy, plan, several_workers, log):
    dataset = load_dataset_for(config)
    jit, jit_reason = resolve_jit(config.jit_compile, strategy)
    probe = None if several_workers or on_jax() else _precision_probe(config, dataset, jit)
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    steps_per_epoch = _steps_per_epoch(dataset, global_batch, strategy)
    choices = (
        jit,
        jit_reason,
        *resolve_precision(config.precision, strategy, probe),
        *resolve_steps_per_execution(config.steps_per_execution, steps_per_epoch, strategy, config.task),
        steps_per_epoch,
    )
    for note in dataset.notes:
        log(note)
    if config.reduce_lr and config.lr_schedule != "plateau":
        log(
            f"note: reduce_lr={config.reduce_lr} applies to lr_schedule=plateau; this run's {config.lr_schedule} "
            "schedule does not use it"
        )
    if steps_per_epoch * config.epochs < FEW_STEPS:
        log(
            f"note: this run trains only {steps_per_epoch * config.epochs} steps ({steps_per_epoch} per epoch: "
            f"{dataset.size('train')} training examples in batches of {global_batch}, "
            f"{config.epochs} epochs); a small data set learns more with a smaller batch_size or more epochs"
        )
    if several_workers and not is_chief():
        return _train_as_worker(config, dataset, strategy, plan, choices, log)
    with lost_workers_explained() if several_workers else contextlib.nullcontext():
        opened = _open(plan, config, log)
        model, metrics, run_dir = _train_and_evaluate(config, dataset, strategy, plan, choices, log, opened)
    if several_workers:
        # The other workers have finished; the model's predict() would wait for them in a collective.
        model = _detached_copy(model, config)
    if on_jax():
        with _on_devices(strategy):
            card = export_from_jax(run_dir, model, dataset, metrics, log=log)
    else:
        card = export_run(run_dir, model, dataset, config, metrics, log=log)
    # metrics.json is written last: its presence marks the run finished.
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _remove_backup(run_dir)
    return RunResult(run_dir=run_dir, metrics=metrics, card=card, resumed=plan.resume)


def _steps_per_epoch(dataset, global_batch, strategy):
    """Training steps in one epoch; where batches must be whole and even, a
    split too small for that is a `UserError`."""
    train_size = dataset.size("train")
    if not needs_even_batches(strategy):
        return math.ceil(train_size / global_batch)
    replicas = strategy.num_replicas_in_sync
    if train_size < global_batch:
        raise UserError(
            f"the training split has {train_size} examples, fewer than one global batch of {global_batch} "
            f"({replicas} devices x batch_size); every batch must be whole here, so lower batch_size"
        )
    validation_size = dataset.size("validation")
    if validation_size < replicas:
        raise UserError(
            f"the validation split has {validation_size} examples, fewer than the {replicas} devices that "
            "each need a share; raise validation_fraction"
        )
    return train_size // global_batch


def _on_devices(strategy):
    """On JAX, arrays made inside (weights, a detached copy's too) go to the
    run's first device, not JAX's default one; `strategy=cpu` on a TPU
    machine trains on the CPU."""
    return strategy.default_device() if isinstance(strategy, JaxDevices) else contextlib.nullcontext()


def _detached_copy(model, config):
    """The same model and weights, compiled outside any distribution strategy
    (with XLA on JAX, where steps without it run op by op)."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    compile_model(copy, config, jit_compile=on_jax())
    return copy


def _train_as_worker(config, dataset, strategy, plan, choices, log):
    """A worker other than the chief trains and evaluates in step with it
    (every collective needs all workers) but writes nothing of the run."""
    with scratch_run_dir(plan) as scratch:
        log(f"{describe_task()}: the chief writes {plan.path}; this worker's checkpoints go to {scratch}")
        with lost_workers_explained():
            _, metrics, _ = _train_and_evaluate(config, dataset, strategy, plan, choices, log, lambda: scratch)
    log(f"{describe_task()}: done; the chief exports the model to {plan.path}")
    return RunResult(run_dir=plan.path, metrics=metrics, card={}, resumed=plan.resume)


def _open(plan, config, log):
    def open_planned():
        run_dir = open_run_dir(plan, config)  # may move to another directory (see open_run_dir)
        if plan.note:
            log(plan.note)
        if plan.resume:
            repair_history(run_dir, log)
        return run_dir

    return open_planned


def _train_and_evaluate(config, dataset, strategy, plan, choices, log, open_dir):
    """Builds the model, then opens the run directory (`open_dir()`: nothing
    is written before the model's hyperparameters are accepted), fits (or
    resumes) and evaluates.

    Returns `(model, metrics, run_dir)`; the chief writes `config.yaml` for a new run.
    """
    jit, jit_reason, precision, reason, execution, execution_reason, steps_per_epoch = choices
    replicas = strategy.num_replicas_in_sync
    global_batch = config.batch_size * replicas

    keras.utils.set_random_seed(config.seed)
    with precision_policy(precision), _on_devices(strategy):
        with strategy.scope():
            model = build_model(config.model, dataset.info, **config.model_params)
            freeze_backbone(model, config)
            compile_model(
                model, config, jit_compile=jit, steps_per_execution=execution, steps_per_epoch=steps_per_epoch
            )

        run_dir = open_dir()
        cache = start_streaming(dataset, run_dir, log, strategy)
        resolved = {
            "backend": keras.backend.backend(),
            "strategy": describe_strategy(strategy),
            "precision": f"{precision} ({reason})",
            "jit_compile": f"{str(jit).lower()} ({jit_reason})",
            "steps_per_execution": f"{execution} ({execution_reason})",
            "global_batch_size": global_batch,
            "learning_rate": schedule.describe(config, steps_per_epoch),
            "run_dir": str(plan.path),
            # A seeded run repeats on CPUs with the same kernels (kerasdl/cpu.py).
            "cpu": describe_cpu(),
        } | ({"cache": cache} if cache else {})
        if run_dir == plan.path and not plan.resume:  # the chief, or a single process
            _write_config(run_dir, config, resolved)
        log(
            f"Training {config.preset}: {config.model} on {config.data}; {resolved['strategy']}; "
            f"{resolved['precision']}; XLA {'on' if jit else 'off'}; global batch {global_batch}; "
            f"{execution} step{'s' if execution != 1 else ''} per execution; "
            f"learning rate {resolved['learning_rate']}"
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
            _fit_phases(model, dataset, config, run_dir, strategy, log, jit, execution)
            if jit and not model.jit_compile:
                log("note: Keras turned XLA off for this model (a layer it cannot compile); it trained without")
            fitted.parent.mkdir(exist_ok=True)
            fitted.touch()
        load_best(model, run_dir)
        test_batch = global_batch
        if replicas > 1 or needs_even_batches(strategy):
            # Every example of the test split, on one device, in batches one
            # device takes (split across replicas, a last batch smaller than
            # them would leave one empty: see `batching`); this copy is also
            # what gets exported.
            model = _detached_copy(model, config)
            replicas, test_batch = 1, config.batch_size
        test = tasks.get(config.task).score(
            model, dataset.pipeline("test", test_batch, replicas=replicas), dataset.info
        )
        end_streaming(dataset, run_dir, log)

    metrics = {
        "test": test,
        "history": read_history(run_dir / "history.csv"),
    }
    return model, metrics, run_dir


def _fit_phases(model, dataset, config, run_dir, strategy, log, jit=False, execution=1):
    """Phase 1 (everything, or the head over a frozen backbone); then, for a
    transfer model, phase 2: the top of the backbone fine-tuned."""
    even = needs_even_batches(strategy)

    # Every worker of a multi-worker run must write its checkpoints at the
    # same epochs, so there they are written after each one.
    write_interval = 0 if in_multi_worker_mode(strategy) else WRITE_INTERVAL_SECONDS

    def fit(initial_epoch, epochs):
        callbacks = run_callbacks(run_dir, config, dataset, write_interval, steps_per_execution=execution)
        callbacks += input_callbacks(dataset, strategy, log)
        (checkpoints,) = [callback for callback in callbacks if isinstance(callback, RunCheckpoints)]
        # On JAX the training steps run in the distribution's scope; a
        # tf.distribute strategy needs only the model built in its own.
        with strategy.scope() if isinstance(strategy, JaxDevices) else contextlib.nullcontext():
            try:
                training, validation = fit_inputs(dataset, strategy, config.batch_size, config.seed, even)
                model.fit(
                    training,
                    validation_data=validation,
                    initial_epoch=initial_epoch,
                    epochs=epochs,
                    callbacks=callbacks,
                    shuffle=False,  # the pipeline shuffles, seeded
                    verbose=config.verbose,
                )
            except BaseException:
                # Ctrl-C, SIGTERM, a NaN loss, a broken file: the last
                # finished epoch, kept in memory, goes to disk for the resume.
                with contextlib.suppress(Exception):
                    checkpoints.write_pending()
                raise

    marker = run_dir / "checkpoints" / PHASE_MARKER
    if not marker.exists():
        fit(0, config.epochs)
    if not wants_fine_tuning(model, config):
        return
    if not marker.exists():
        marker.parent.mkdir(exist_ok=True)
        # Phase 1's backup counts its epochs, however far an early stop let
        # it run (history.csv may hold rows of epochs a kill made it redo).
        marker.write_text(f"{epochs_on_disk(marker.parent)}\n")
        # Phase 1's backup holds another optimizer and epoch; phase 2 backs up afresh.
        _remove_backup(run_dir)
    start = int(marker.read_text())
    if not (run_dir / "checkpoints" / "backup").exists():
        # Phase 2 has not written its backup yet (just begun, or stopped
        # before its first write): it starts from phase 1's best weights, not
        # from the model as this process built it.
        load_best(model, run_dir)
    with strategy.scope():
        unfrozen = unfreeze_top(model, config.fine_tune_layers)
        compile_model(
            model, config, learning_rate=config.fine_tune_learning_rate, jit_compile=jit, steps_per_execution=execution
        )
    log(
        f"fine-tuning the top {len(unfrozen)} backbone layers (BatchNorm stays frozen) at learning rate "
        f"{config.fine_tune_learning_rate:g} for up to {config.fine_tune_epochs} epochs after epoch {start}"
    )
    fit(start, start + config.fine_tune_epochs)


def _precision_probe(config, dataset, jit):
    """`(key, measure)`: this run's model timed for a few steps on one batch of its training data."""

    def build():
        model = build_model(config.model, dataset.info, **config.model_params)
        compile_model(model, config, jit_compile=jit)
        return model

    features, labels = dataset.sample("train", config.batch_size)
    params = ",".join(f"{key}={value}" for key, value in sorted(config.model_params.items()))
    key = f"{config.model}({params}) on {dataset.info.input_shape}, batch {len(labels)}, XLA {jit}"
    return key, lambda: time_train_steps(build, features, labels)


def load_best(model, run_dir):
    """The best checkpoint's weights, if there is one.

    The checkpoint may come from another phase, whose optimizer had other
    variables; only the model's weights matter here, so Keras's notice that
    it skipped the optimizer's is not shown.
    """
    best = run_dir / "checkpoints" / "best.weights.h5"
    if best.exists():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(best)


def _write_config(run_dir, config, resolved):
    document = {"preset": config.preset} | config.to_dict() | {"resolved": resolved, "versions": library_versions()}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def _remove_backup(run_dir):
    shutil.rmtree(run_dir / "checkpoints" / "backup", ignore_errors=True)
