"""One flat, typed `Config` per run: a preset plus KEY=VALUE overrides.

A preset is a YAML file in `kerasdl/presets/` whose keys are exactly the keys
a user types on the command line (`epochs: 40`, `model.filters: [32, 64]`),
so there is one way to say a setting, wherever it is said. Model
hyperparameters (`model.*`) are checked against the keyword arguments of the
model family's build function, which is their single source of truth.
Text becomes typed values in `config_values.py`.
"""

import dataclasses
import inspect
from importlib import resources
from pathlib import Path

import yaml

# The allowed values of each key, and the lists they come from (public here too).
from kerasdl.config_checks import BACKENDS, CHECKS, SAMPLE_RATES  # noqa: F401
from kerasdl.config_tasks import check_task_settings
from kerasdl.config_values import TFLITE_VARIANTS, coerce, parse_variants

# Public here too, for Python callers of make_config: `kerasdl.config.parse_overrides`.
from kerasdl.config_values import parse_overrides as parse_overrides
from kerasdl.errors import UserError
from kerasdl.tasks import task_for


@dataclasses.dataclass
class Config:
    """Every setting of one run; saved as `config.yaml` in the run directory.

    Args:
        preset: name of the preset the run started from.
        description: one line shown by `kerasdl presets`.
        data: data spec, for example `digits` or `breast_cancer`.
        task: what the model learns (`kerasdl/tasks/`): `classify`, `segment`,
            `detect`, `translate` or `synthesize`; empty means the task of
            the model family. A family that cannot do the task is refused.
        loss: the task's loss; empty means its default. `classify`: `ce`
            (cross-entropy); `segment`: `ce`, `dice` or `ce+dice`.
        class_weights: `segment`: comma-separated weights, one per class in
            labels.txt order, multiplying each pixel's cross-entropy by its
            true class's weight (for rare classes); empty weighs all alike.
        mosaic: `detect`: the share of augmented training images replaced
            by a mosaic of four (`kerasdl.data.box_mosaic`), 0 to 1; 0
            (default) for none.
        direction: `translate`, data `pairs:DIR`: `AtoB` (default: A, or the
            left half of a side-by-side file, is the input) or `BtoA`.
        model: model family: `ann`, `audio_cnn`, `bert`, `cnn`, `rnn`, `transfer`, `unet`,
            `yolo`, `pix2pix`, `l1_unet` or `wavenet`.
        model_params: hyperparameters for the family's build function.
        epochs: maximum number of epochs (early stopping may end sooner).
        batch_size: examples per replica per step; the global batch is this
            times the number of replicas.
        learning_rate: Adam's learning rate (the peak, under `cosine`).
        lr_schedule: how the learning rate moves (`kerasdl/schedule.py`):
            `cosine` (a short warmup, then cosine decay to 0 at the last of
            `epochs`), `plateau` (halved after `reduce_lr` epochs without
            improving) or `constant`.
        early_stopping: epochs without `monitor` improving before training
            stops; 0 turns early stopping off.
        reduce_lr: under `lr_schedule=plateau`, epochs without `monitor`
            improving before the learning rate halves (down to 1% of its
            start); 0 keeps it constant.
        monitor: validation metric that picks the best checkpoint.
        validation_fraction: share of all examples held out for validation.
        test_fraction: share of all examples held out for the final test.
        backend: Keras backend that trains: `auto` (KERAS_BACKEND, else
            TensorFlow), `tensorflow` or `jax` (the Colab TPU path; the
            devices JAX sees train data parallel). Exporting always runs on
            TensorFlow.
        strategy: `auto`, `cpu`, `gpu`, `mirrored`, `multi_worker` or `tpu`.
        precision: `auto`, `float32`, `mixed_float16` or `mixed_bfloat16`.
        jit_compile: `auto` (XLA on TPU and GPU, off on CPU, where it was
            measured slower), `true` or `false`.
        steps_per_execution: training steps Keras runs per call into the
            compiled graph: `auto` (16, or the steps of one epoch if fewer;
            3x faster for small MLPs on CPU, where the per-step call costs
            as much as the step; 1 under MirroredStrategy, where Keras 3.15
            fails with more) or an integer >= 1, each a callback update.
        run_dir: where the run is written; empty means
            `saved_models/<preset>` (numbered `-2`, `-3`, ... if finished).
        seed: seeds the splits, the shuffling and the weights.
        overwrite: replace a finished run in `run_dir` instead of refusing.
        verbose: Keras progress output: 0 silent, 1 bars, 2 a line an epoch.
        inspect_every: epochs between two TensorBoard inspections of the
            validation split (a classifier's confusion matrix, per-class
            table and worst mistakes): `auto` (about 8 a run, and the last
            epoch), an integer >= 1, or 0 for none. The test split's are
            written once, at the end, whatever this says.
        profile: `START,END`: trace training steps START to END (1-based)
            for TensorBoard's Profile dashboard (`kerasdl.profiling`);
            empty (the default) traces nothing.
        variants: TFLite variants to export, comma-separated, from float32
            (always exported: the reference), float16, dynamic, int8.
        int8_io: input/output type of the int8 variant: `float` (the model
            quantizes inside), `int8` or `uint8` (the card records the scale
            and zero point).
        allow_flex: let TFLite use TensorFlow (Flex) ops; a phone app then
            needs the Flex delegate. Off: builtin ops only.
        image_size: side of the square that image data is resized to:
            `auto` (the images' largest side, at most 32: a folder of 28x28
            digits trains at 28, nothing small is upscaled, photos shrink
            to 32) or an integer.
        cache: file data (`images:`, `masks:`, ...): where the decoded
            training and validation examples are kept after the first epoch
            (`kerasdl.data.cache_plan`): `auto` (memory if they fit a
            budget, else a file under the run directory), `memory`, `disk`
            or `none` (decoded every epoch).
        label: label column of `csv:` data (name or 0-based index); empty
            picks a column named label, target, class or species, else the
            last one.
        text_column: text column of a `text:` table (name or 0-based index);
            empty picks a column named text, message, review, ..., else the
            one with the longest cells.
        vocabulary_size: most distinct token ids for text data (the most
            frequent training words; padding and [UNK] included).
        sequence_length: token ids per text; longer texts are cut, shorter
            ones padded.
        sample_rate: `audio:` data: Hz every clip is resampled to.
        clip_seconds: `audio:` data: each clip's length (cut or padded at
            its end); `auto`: the 95th percentile of the clips' lengths.
        label_pattern: `audio:` data: regular expression whose first group
            in a file name is the label; empty: the text before the first _.
        group_pattern: `audio:` data: the same for a group (a speaker);
            test then holds whole groups out. Empty: no groups.
        window: `synthesize`: samples of each training example, a random
            stretch of a clip's audio (the whole clip if it is shorter).
        fine_tune_epochs: for a transfer model, epochs of the second phase,
            after the head has trained over the frozen backbone; 0 skips it.
        fine_tune_layers: backbone layers (from the top, BatchNorm not
            counted) that the second phase trains.
        fine_tune_learning_rate: Adam's learning rate in the second phase.
        fused_lstm: export LSTMs as fused TFLite ops (smaller, faster), which
            take a batch of 1 and keep state between calls: the phone app
            must reset the interpreter's variable tensors before each input.
            Off: stateless unrolled LSTMs.
    """

    preset: str
    description: str = ""
    data: str = "digits"
    task: str = ""
    loss: str = ""
    class_weights: str = ""
    mosaic: float = 0.0
    direction: str = "AtoB"
    model: str = "cnn"
    model_params: dict = dataclasses.field(default_factory=dict)
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    early_stopping: int = 10
    reduce_lr: int = 0
    monitor: str = "val_loss"
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    backend: str = "auto"
    strategy: str = "auto"
    precision: str = "auto"
    jit_compile: str = "auto"
    steps_per_execution: str = "auto"
    run_dir: str = ""
    seed: int = 42
    overwrite: bool = False
    verbose: int = 1
    inspect_every: str = "auto"
    profile: str = ""
    variants: str = ",".join(TFLITE_VARIANTS)
    int8_io: str = "float"
    allow_flex: bool = False
    fused_lstm: bool = False
    image_size: str = "auto"
    cache: str = "auto"
    label: str = ""
    text_column: str = ""
    vocabulary_size: int = 20000
    sequence_length: int = 64
    sample_rate: int = 8000
    clip_seconds: str = "auto"
    label_pattern: str = ""
    group_pattern: str = ""
    window: int = 4096
    fine_tune_epochs: int = 0
    fine_tune_layers: int = 20
    fine_tune_learning_rate: float = 1e-5

    def variant_names(self):
        """The variants to export, float32 first."""
        return parse_variants(self.variants)

    def resolved_run_dir(self):
        return Path(self.run_dir) if self.run_dir else Path("saved_models") / self.preset

    def to_dict(self):
        """Flat KEY: VALUE mapping in the command-line spelling (without `preset`)."""
        flat = {}
        for field in dataclasses.fields(self):
            if field.name == "preset":
                continue  # chosen by name, not set as a key
            if field.name == "model_params":
                for key, value in self.model_params.items():
                    flat[f"model.{key}"] = list(value) if isinstance(value, tuple) else value
            else:
                flat[field.name] = getattr(self, field.name)
        return flat


# What a run directory written before a key existed meant by it: runs started
# before lr_schedule halved on a plateau when reduce_lr was set (constant when
# not), which `plateau` still does. Other new keys meant their default.
LEGACY_VALUES = {"lr_schedule": "plateau"}

# Keys a user may set, with their types; `preset` is chosen by name instead.
_SETTABLE = {f.name: f.type for f in dataclasses.fields(Config)}
for _name in ("preset", "model_params"):
    _SETTABLE.pop(_name)


def preset_names():
    """Names of the presets shipped in the package, sorted."""
    folder = resources.files("kerasdl") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_preset(name):
    """The preset's raw KEY: VALUE mapping, as written in its YAML file."""
    if name not in preset_names():
        raise UserError(f"Unknown preset {name!r}; choose one of: {', '.join(preset_names())}")
    text = (resources.files("kerasdl") / "presets" / f"{name}.yaml").read_text()
    return yaml.safe_load(text) or {}


def make_config(preset, overrides=None):
    """Builds a validated `Config` from a preset name and KEY=VALUE overrides.

    Args:
        preset: a name from `preset_names()`.
        overrides: mapping of key to value; values may be strings as typed on
            the command line (`"5"`, `"32,64"`, `"true"`) or Python values.

    Returns:
        A `Config` whose every value has its declared type and passed its check.

    Example:
        >>> make_config("digits_cnn", {"epochs": "3"}).epochs
        3
    """
    settings = dict(read_preset(preset))
    overrides = dict(overrides or {})
    if "model" in overrides and overrides["model"] != settings.get("model"):
        # The preset's hyperparameters belong to its own family.
        settings = {k: v for k, v in settings.items() if not k.startswith("model.")}
    settings.update(overrides)
    return config_from_settings(preset, settings)


def config_from_settings(preset, settings):
    """Builds a validated `Config` from a flat KEY: VALUE mapping."""
    config = Config(preset=preset)
    model_values = {}
    for key, value in settings.items():
        if key.startswith("model."):
            model_values[key[len("model.") :]] = value
        elif key not in _SETTABLE:
            allowed = ", ".join(sorted(_SETTABLE)) + ", model.<hyperparameter>"
            raise UserError(f"Unknown config key {key!r}; allowed keys: {allowed}")
        else:
            setattr(config, key, _check(key, coerce(key, value, _SETTABLE[key])))
    config.model_params = _model_params(config.model, model_values)
    config.task = task_for(config.model, config.task)
    check_task_settings(config)
    return config


def model_param_defaults(family):
    """The keyword arguments (with defaults) of a family's build function."""
    from kerasdl.models import builders

    known = builders()
    if family not in known:
        raise UserError(f"Unknown model {family!r}; choose one of: {', '.join(sorted(known))}")
    signature = inspect.signature(known[family])
    return {name: p.default for name, p in signature.parameters.items() if p.default is not inspect.Parameter.empty}


def _model_params(family, values):
    defaults = model_param_defaults(family)
    # Every hyperparameter is recorded, defaults included, so a run can be
    # rebuilt from its config.yaml even if a default changes later.
    params = dict(defaults)
    for name, value in values.items():
        if name not in defaults:
            allowed = ", ".join(f"model.{k}" for k in defaults)
            raise UserError(f"Unknown key 'model.{name}' for model {family!r}; allowed: {allowed}")
        params[name] = coerce(f"model.{name}", value, type(defaults[name]))
    return params


def _check(key, value):
    if key in CHECKS:
        ok, allowed = CHECKS[key]
        if not ok(value):
            raise UserError(f"{key}={value!r} is out of range; allowed: {allowed}")
    return value


def as_read_now(saved, preset):
    """A run's saved KEY: VALUE mapping as this version of kerasdl reads it:
    keys added since the run started take their legacy value or default, and
    every known key's value its current type (`image_size: 28`, written
    before image_size=auto, reads as "28"). A value that no longer passes
    stays as written, so a comparison shows it."""
    settings = Config(preset=preset).to_dict() | LEGACY_VALUES | saved
    for key, value in settings.items():
        if key in _SETTABLE:
            try:
                settings[key] = coerce(key, value, _SETTABLE[key])
            except UserError:
                pass
    if not settings["task"]:  # written before tasks: the model family's task
        try:
            settings["task"] = task_for(settings["model"])
        except UserError:
            pass
    return settings


def load_config(path):
    """Rebuilds a run's `Config` from its `config.yaml`."""
    path = Path(path)
    try:
        saved = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"Cannot read {path}: {error}") from None
    preset = saved.pop("preset", None) if isinstance(saved, dict) else None
    if not preset:
        raise UserError(f"{path} names no preset; is it a kerasdl run directory?")
    for informational in ("versions", "resolved"):
        saved.pop(informational, None)
    return config_from_settings(preset, LEGACY_VALUES | saved)
