"""Tasks: the one place that knows what a label is.

A task is a module with the same few plain functions and constants (see
`classify` for the full list): what its model outputs (`OUTPUT`), which model
families produce it (`MODEL_FAMILIES`), the loss and metrics it compiles
with, how a trained model is scored, how a TFLite variant is compared with
the Keras model and the bar it must pass, what the model card says the
output is, and what `predict` shows. The run, the export pipeline and
`predict` call the task named in the config (or the card) and never test
which one it is.
"""

from kerasdl.errors import UserError
from kerasdl.history import LAST_EPOCH
from kerasdl.tasks import classify, detect, segment, synthesize, translate


def tasks():
    """Maps each task name to its module, explicitly (no registration by import)."""
    return {
        "classify": classify,
        "segment": segment,
        "detect": detect,
        "translate": translate,
        "synthesize": synthesize,
    }


def get(name):
    """The task module called `name`."""
    known = tasks()
    if name not in known:
        raise UserError(f"Unknown task {name!r}; choose one of: {', '.join(known)}")
    return known[name]


def task_for(model_family, requested=""):
    """The task a run does: `requested` if given (checked against the model
    family), else the one task the family's models are built for.

    Example:
        >>> task_for("cnn"), task_for("cnn", "classify")
        ('classify', 'classify')
    """
    if requested:
        task = get(requested)
        if model_family not in task.MODEL_FAMILIES:
            raise UserError(
                f"task={requested} cannot use model={model_family}; its models: {', '.join(task.MODEL_FAMILIES)}"
            )
        return requested
    for name, task in tasks().items():
        if model_family in task.MODEL_FAMILIES:
            return name
    raise UserError(f"model={model_family} belongs to no task; tasks: {', '.join(tasks())}")


def checkpoint_rule(model_family, monitor):
    """What picked a run's best checkpoint: `monitor`, or `LAST_EPOCH` for a
    family a task lists in `LAST_EPOCH_MODELS`.

    Example:
        >>> checkpoint_rule("cnn", "val_loss"), checkpoint_rule("pix2pix", "val_loss")
        ('val_loss', 'last epoch')
    """
    for task in tasks().values():
        if model_family in getattr(task, "LAST_EPOCH_MODELS", ()):
            return LAST_EPOCH
    return monitor


def for_card(card):
    """The task of an exported run, from its model card. Cards written before
    tasks existed said "image classification" (and the like) there."""
    name = card.get("task", "")
    return tasks().get(name, classify)


def keras_objects():
    """The Keras objects the tasks compile with (losses, metrics), by the
    names a saved `.keras` file records, for loading one."""
    objects = {}
    for task in tasks().values():
        objects |= task.keras_objects()
    return objects
