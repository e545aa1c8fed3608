"""The settings that depend on the run's task: its loss, the keys only one
task reads (`class_weights`, `mosaic`), the data its labels need and its
int8 model's input and output types. `kerasdl.config` calls
`check_task_settings` once the task is known."""

from kerasdl import tasks
from kerasdl.config_values import parse_class_weights
from kerasdl.errors import UserError

PIX2PIX_NOT_ON_JAX = (
    "model=pix2pix trains on backend=tensorflow only: its step updates two networks with two optimizers, and "
    "Keras's JAX trainer carries one optimizer's state; model=l1_unet runs on JAX"
)


WAVENET_NOT_ON_JAX = (
    "model=wavenet trains on backend=tensorflow only: its export verifies the step model along test clips, "
    "which the JAX export path (one batch of test inputs) does not do"
)


def check_task_settings(config):
    """Raises a one-line `UserError` for a setting the run's task cannot take."""
    losses = tasks.get(config.task).LOSSES
    if config.loss and config.loss not in losses:
        raise UserError(f"loss={config.loss!r} is not a loss of task={config.task}; allowed: {', '.join(losses)}")
    if config.class_weights and config.task != "segment":
        raise UserError(f"class_weights applies to task=segment; this run's task is {config.task}")
    parse_class_weights(config.class_weights)
    if config.mosaic and config.task != "detect":
        raise UserError(f"mosaic applies to task=detect; this run's task is {config.task}")
    if config.direction != "AtoB" and config.task != "translate":
        raise UserError(f"direction applies to task=translate; this run's task is {config.task}")
    if config.window != type(config).window and config.task != "synthesize":
        raise UserError(f"window applies to task=synthesize; this run's task is {config.task}")
    audio_keys = ("clip_seconds", "label_pattern", "group_pattern")
    audio_set = [key for key in audio_keys if getattr(config, key) not in ("", "auto")]
    if audio_set and not config.data.startswith("audio:"):
        raise UserError(f"{audio_set[0]} applies to data=audio:DIR; this run's data is {config.data}")
    if config.model == "pix2pix" and config.backend == "jax":
        raise UserError(PIX2PIX_NOT_ON_JAX)
    if config.model == "wavenet" and config.backend == "jax":
        raise UserError(WAVENET_NOT_ON_JAX)
    _check_data_fits_task(config)
    float_io = getattr(tasks.get(config.task), "INT8_IO_FLOAT", None)  # why its int8 model keeps float32 I/O
    if config.int8_io != "float" and float_io:
        raise UserError(f"int8_io={config.int8_io} is not allowed for task={config.task}: {float_io}; use float")


def _check_data_fits_task(config):
    """Data whose labels only one task reads (`DATA_SPECS`, boxes for
    detection) goes with that task, and that task with such data or data
    of a source whose sets hold its labels or another's (`SHARED_DATA_SPECS`:
    `tfds:`; the loader checks the set, `load_dataset(task=...)`)."""
    task = tasks.get(config.task)
    own, shared = getattr(task, "DATA_SPECS", ()), getattr(task, "SHARED_DATA_SPECS", ())
    if (own or shared) and not config.data.startswith(own + shared):
        allowed = [f"{prefix}DIR" if prefix.endswith(":") else prefix for prefix in own]
        allowed += [f"{prefix}{'NAME' if prefix == 'tfds:' else 'DIR'}" for prefix in shared]
        raise UserError(
            f"model={config.model} (task={config.task}) needs data={' or '.join(allowed)}; got data={config.data}"
        )
    for name, task in tasks.tasks().items():
        specs = getattr(task, "DATA_SPECS", ())
        if name != config.task and specs and config.data.startswith(specs):
            raise UserError(
                f"data={config.data} holds labels for task={name} (model={', '.join(task.MODEL_FAMILIES)}); "
                f"model={config.model} does task={config.task}"
            )
