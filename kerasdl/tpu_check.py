"""`kerasdl doctor --preset NAME`: would this preset train on a TPU?

A TPU runs only programs that XLA compiled for fixed shapes, and a Cloud TPU
bills from the minute it starts. This check compiles one training step the
way a TPU runs it (XLA, `mixed_bfloat16`, a full batch of fixed shape) on the
machine at hand and names what would fail there, so a user learns it before
paying for one.
"""

import re
import time
import warnings

import keras
import tensorflow as tf

from kerasdl import tasks
from kerasdl.data import load_dataset_for
from kerasdl.data.dataset import first_few
from kerasdl.distribute import precision_policy
from kerasdl.errors import UserError
from kerasdl.finetune import freeze_backbone
from kerasdl.jax_backend import on_jax
from kerasdl.models import build_model
from kerasdl.training import compile_model

# What Keras warns when compile() turns XLA off; check_model names the layers instead.
_XLA_OFF_WARNING = "Model doesn't support `jit_compile=True`"


def check_tpu_readiness(config, log=print):
    """Trains a preset's model for one XLA step on one batch of its own data.

    The data is loaded and the model built and compiled exactly as
    `kerasdl.training.train` does, under the `mixed_bfloat16` policy a TPU
    uses, with XLA on; nothing is written to disk.

    Args:
        config: the run's `Config` (`kerasdl.config.make_config`).
        log: where the verdict and each problem go, one line each (`print`).

    Returns:
        The problems found, one line each; empty when the preset is ready.

    Example:
        >>> check_tpu_readiness(make_config("breast_cancer_ann"))
        TPU readiness of breast_cancer_ann: ready (one XLA training step in mixed_bfloat16 ...)
        []
    """
    if on_jax():
        # The check traces TensorFlow's XLA training step; the model is the same on either backend.
        raise UserError(
            "the TPU readiness check runs on Keras's TensorFlow backend, and this process runs JAX; "
            "use `kerasdl doctor --preset NAME`, which runs it on TensorFlow"
        )
    dataset = load_dataset_for(config)
    for note in dataset.notes:
        log(note)
    train_size = dataset.size("train")
    if train_size < config.batch_size:
        # A TPU needs every batch full (drop_remainder), so such a split trains on nothing.
        problems = [
            f"the train split has {train_size} examples, fewer than one batch of batch_size={config.batch_size}; "
            "a TPU drops incomplete batches, so nothing would train: lower batch_size or add data"
        ]
    else:
        keras.utils.set_random_seed(config.seed)
        with precision_policy("mixed_bfloat16"):
            model = build_model(config.model, dataset.info, **config.model_params)
            freeze_backbone(model, config)
            _without_cudnn(model)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=re.escape(_XLA_OFF_WARNING))
                # With the run's learning-rate schedule: its step is part of the compiled graph.
                steps_per_epoch = -(-train_size // config.batch_size)
                compile_model(model, config, jit_compile=True, steps_per_epoch=steps_per_epoch)
            start = time.perf_counter()
            one_shape = getattr(tasks.get(config.task), "ONE_SHAPE_BATCHES", False)
            problems = check_model(model, *dataset.sample("train", config.batch_size), one_shape_batches=one_shape)
            seconds = time.perf_counter() - start
    for problem in problems:
        log(f"TPU problem: {problem}")
    if problems:
        log(f"TPU readiness of {config.preset}: not ready ({len(problems)} problem{'s' * (len(problems) > 1)})")
    else:
        device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
        log(
            f"TPU readiness of {config.preset}: ready (one XLA training step in mixed_bfloat16 with static shapes, "
            f"batch {config.batch_size}, compiled and ran in {seconds:.1f} s on {device})"
        )
    return problems


def check_model(model, features, labels, one_shape_batches=False):
    """What would stop `model` from training on a TPU, found on this machine.

    Args:
        model: a `keras.Model` compiled with `jit_compile=True`.
        features: one batch of inputs, as `model.fit` takes them.
        labels: the batch's labels.
        one_shape_batches: the training data gives every batch one shape
            (fixed-length stretches), so a dynamic axis of the model's
            inputs costs one program, not one per batch.

    Returns:
        The problems, one line each; empty when one XLA training step on the
        batch compiled and ran.

    Example:
        >>> model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
        >>> check_model(model, features[:32], labels[:32])
        []
    """
    problems = []
    strings = False
    for tensor in model.inputs:
        shape = tuple(tensor.shape)
        if None in shape[1:] and not one_shape_batches:
            problems.append(
                f"input {tensor.name!r} has the dynamic shape {shape}: a TPU compiles a program per shape "
                "(or fails); give every axis but the batch a fixed size, e.g. pad sequences to one length"
            )
        if tensor.dtype == "string":
            strings = True
            problems.append(
                f"input {tensor.name!r} is a string tensor: TPUs run no string ops; tokenise in tf.data, "
                "before the model (kerasdl's text data arrives as token ids)"
            )
    string_ops = _string_ops(model, features)
    if string_ops:
        problems.append(f"string ops inside the model, which a TPU cannot run: {first_few(string_ops)}")
    if strings:
        return problems  # XLA would refuse the step's string argument before any layer ran
    if not model.jit_compile:
        # Keras 3 checks every layer's `supports_jit` in compile() and, if
        # one says no, warns once and trains without XLA. A TPU has no such
        # way out, and the step below would prove nothing.
        # _flatten_layers() is what Keras itself walks to decide.
        refusing = [
            f"{layer.name} ({type(layer).__name__})" for layer in model._flatten_layers() if not layer.supports_jit
        ]
        return problems + [
            "Keras turned XLA off for this model, and a TPU runs XLA only; layers without XLA support "
            f"(supports_jit=False): {first_few(refusing) or 'none found (jit_compile was off from the start?)'}"
        ]
    try:
        model.train_on_batch(features, labels)
    except tf.errors.OpError as error:
        problems.extend(_xla_problems(error))
    return problems


def _string_ops(model, features):
    """`name (Type)` of each op in the model's forward pass that reads or makes strings."""
    graph = tf.function(lambda batch: model(batch, training=True)).get_concrete_function(features).graph
    return [
        f"{op.name} ({op.type})"
        for op in graph.get_operations()
        if op.type != "Placeholder" and any(tensor.dtype == tf.string for tensor in [*op.inputs, *op.outputs])
    ]


def _xla_problems(error):
    """One line per op XLA could not compile, else the error's first line, no traceback."""
    message = error.message or str(error)
    unsupported = re.findall(
        r"(\w+) \(No registered '\w+' OpKernel for \w+ devices compatible with node \{\{node ([^}]+)\}\}", message
    )
    if unsupported:
        return [
            f"XLA cannot compile op {op_type} (node {node}): it has no XLA kernel, so a TPU cannot run it"
            for op_type, node in dict.fromkeys(unsupported)
        ]
    # Graph names such as __inference_one_step_on_data_451[_XlaMustCompile=true,...] say nothing to a user.
    first = re.sub(r"__inference_\w+(\[[^\]]*\])?", "the training step", message.strip().splitlines()[0])
    nodes = list(dict.fromkeys(re.findall(r"\{\{node ([^}]+)\}\}", message)))
    return [f"XLA failed on the training step ({type(error).__name__}): {first[:300]}"] + [
        f"XLA names node {node}" for node in nodes
    ]


def _without_cudnn(model):
    """LSTM and GRU layers on their XLA path, as on a TPU.

    On a machine with a GPU, Keras gives LSTM and GRU layers the cuDNN
    kernel, which XLA cannot compile, and so turns XLA off for the whole
    model. A TPU has no cuDNN; there the layers take their XLA path, which
    this selects on any machine. (Not run on a GPU yet: this project's
    machine has none; the test marks an LSTM the way Keras does there.)
    """
    for layer in model._flatten_layers():
        if isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)) and layer.use_cudnn is not False:
            layer.use_cudnn = False
            layer.supports_jit = True
