"""Which devices train the model (`tf.distribute`) and in which precision.

`resolve_strategy` is the one place a strategy is chosen; training builds and
compiles the model inside its scope. Asking for hardware that is not there is
a `UserError` (one line), not a TensorFlow traceback.
"""

import contextlib
import functools
import glob
import importlib.util
import json
import os

import keras
import tensorflow as tf

from kerasdl import tasks
from kerasdl.errors import UserError, first_line
from kerasdl.jax_backend import JaxDevices, jax_jit, jax_precision, on_jax, resolve_jax_devices


def resolve_strategy(name="auto", log=print):
    """Returns the `tf.distribute.Strategy` for `name`.

    Args:
        name: one of
            - `auto`: a TPU if one is configured and reachable; else
              MultiWorkerMirroredStrategy if TF_CONFIG describes a cluster;
              else MirroredStrategy over several GPUs, OneDeviceStrategy on
              one GPU, or the default (CPU) strategy.
            - `cpu`: one CPU device.
            - `gpu`: every visible GPU (an error if there is none).
            - `mirrored`: synchronous data parallelism over every GPU, or
              over every logical CPU device when there is no GPU.
            - `multi_worker`: MultiWorkerMirroredStrategy from TF_CONFIG.
            - `tpu`: TPUStrategy on the TPU `tpu_name()` finds (`TPU_NAME`,
              `COLAB_TPU_ADDR`, or this machine as a TPU VM).

            On the JAX backend the devices JAX sees stand in for a strategy
            (`kerasdl.jax_backend.resolve_jax_devices`).

        log: where `auto` says why it fell back (a configured TPU that
            cannot be reached).

    Returns:
        A `tf.distribute.Strategy` (a `JaxDevices` on the JAX backend).

    Example:
        >>> strategy = resolve_strategy("cpu")
        >>> strategy.num_replicas_in_sync
        1
    """
    if on_jax():
        return resolve_jax_devices(name)
    # MultiWorkerMirroredStrategy must come before anything that starts
    # TensorFlow's runtime, listing devices included ("Collective ops must
    # be configured at program startup").
    if name == "multi_worker" or (name == "auto" and not _tpu_configured() and _cluster_configured()):
        if not _cluster_configured():
            raise UserError(
                "strategy=multi_worker needs TF_CONFIG describing the cluster "
                '(for example {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}})'
            )
        return _multi_worker()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if _tpu_configured():
            try:
                return _tpu_strategy()
            except UserError as error:
                log(f"strategy=auto: {error}; falling back to GPUs or the CPU")
        if _cluster_configured():
            return _multi_worker()
        if len(gpus) > 1:
            return _mirrored(tuple(gpu.name for gpu in gpus))
        if len(gpus) == 1:
            return tf.distribute.OneDeviceStrategy(gpus[0].name)
        return tf.distribute.get_strategy()
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "gpu":
        if not gpus:
            raise UserError("strategy=gpu but TensorFlow sees no GPU; run `kerasdl doctor` or use strategy=auto")
        if len(gpus) == 1:
            return tf.distribute.OneDeviceStrategy(gpus[0].name)
        return _mirrored(tuple(gpu.name for gpu in gpus))
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return _mirrored(tuple(device.name for device in devices))
    if name == "tpu":
        try:
            return _tpu_strategy()
        except UserError as error:
            raise UserError(f"strategy=tpu but {error}") from None
    raise UserError(f"Unknown strategy {name!r}; choose one of: auto, cpu, gpu, mirrored, multi_worker, tpu")


def describe_strategy(strategy):
    """One line, e.g. `MirroredStrategy, 2 replicas (CPU:0, CPU:1)`."""
    if isinstance(strategy, JaxDevices):
        return strategy.describe()
    devices = _devices(strategy)
    names = ", ".join(device.split("/")[-1].replace("device:", "") for device in devices)
    replicas = strategy.num_replicas_in_sync
    kind = type(strategy).__name__
    if kind == "_DefaultDistributionStrategy":
        kind = "default strategy"
    text = f"{kind}, {replicas} replica{'s' if replicas != 1 else ''}"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        from kerasdl.multi_worker import describe_task

        workers = strategy.extended._num_workers  # noqa: SLF001 (no public count)
        return f"MultiWorkerMirroredStrategy, {replicas} replicas on {workers} workers (this is {describe_task()})"
    return f"{text} ({names})" if names else text


def resolve_precision(name, strategy, probe=None):
    """Returns `(policy_name, reason)` for the requested precision.

    Args:
        name: `auto`, `float32`, `mixed_float16` or `mixed_bfloat16`.
        strategy: the run's `tf.distribute` strategy.
        probe: for a CPU with native bfloat16, `(key, measure)` as
            `kerasdl.precision_probe.bf16_decision` takes them: the run's own
            model timed in both precisions. None: a small convnet stands in.

    `auto` picks `mixed_bfloat16` on TPU, `mixed_float16` on GPUs with
    compute capability 7.0 or newer (tensor cores), and on a CPU
    `mixed_bfloat16` only where it has native bfloat16 *and* a short probe
    measured bfloat16 training clearly faster (`kerasdl.precision_probe`);
    `float32` elsewhere. Output layers stay float32 in every model.
    """
    if isinstance(strategy, JaxDevices):
        return jax_precision(name, strategy)
    if name != "auto":
        return name, "set by precision="
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16", "TPU: bfloat16 is native"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and _uses_gpu(strategy):
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        if capability >= (7, 0):
            return "mixed_float16", f"GPU with compute capability {capability[0]}.{capability[1]} has tensor cores"
        return "float32", f"GPU compute capability {capability[0]}.{capability[1]} < 7.0"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        # Each machine's probe could choose differently, and workers whose
        # variables differ in dtype cannot all-reduce.
        return "float32", "several workers on CPUs: a per-machine probe could disagree; set precision= to choose"
    from kerasdl.precision_probe import bf16_decision

    use_bf16, reason = bf16_decision(*probe) if probe else bf16_decision()
    return ("mixed_bfloat16" if use_bf16 else "float32"), reason


def resolve_jit(name, strategy):
    """Returns `(jit_compile, reason)` for `jit_compile=auto|true|false`.

    `auto`: XLA on TPU (required) and GPU (Keras's own default there); off
    on CPU. There, scripts/bench_training.py (5 rounds, medians) measured the
    keras.io convnet at 0.21-0.23x and the MLP at 0.82x of training without
    XLA, and an Embedding + LSTM(64) over 100 tokens at 1.02x (an earlier
    run's 1.91x did not repeat in later runs). `digits_rnn` end to end (10
    epochs) took 18.7 s with XLA against 12.3-13.4 s without: compiling
    costs more than it saves, so RNNs stay off too.
    """
    if isinstance(strategy, JaxDevices):
        return jax_jit(name)
    if name != "auto":
        return name == "true", "set by jit_compile="
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return True, "TPU: XLA is how TPUs run"
    if tf.config.list_physical_devices("GPU") and _uses_gpu(strategy):
        return True, "GPU"
    return False, "CPU: XLA measured slower for convolutions and MLPs"


STEPS_PER_EXECUTION_AUTO = 16


def resolve_steps_per_execution(value, steps_per_epoch, strategy=None, task=""):
    """Returns `(steps, reason)` for `steps_per_execution=auto|N`.

    Each call from Python into the compiled training graph costs about a
    millisecond, as much as a whole training step of a small model: the MLP
    of scripts/bench_training.py trained 3x faster with 16 steps per call
    than with 1. `auto` takes 16, or one epoch's steps if fewer (a longer
    execution would only be cut at the epoch's end). Under MirroredStrategy
    and MultiWorkerMirroredStrategy it keeps 1: Keras 3.15's multi-step
    loop fails there ("You must feed a value for placeholder tensor",
    keras-team/keras#19246; seen here with two CPU replicas). TPUStrategy,
    where Keras recommends several steps per execution, gets 16 (not run
    here: no TPU). A task whose every step costs far more than a call
    (`STEPS_PER_EXECUTION`, a detector's) keeps its own number.
    """
    mirrored = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)
    if value != "auto":
        if int(value) > 1 and isinstance(strategy, mirrored):
            raise UserError(
                f"steps_per_execution={value} fails under {type(strategy).__name__} in this Keras "
                "(keras-team/keras#19246); use steps_per_execution=auto or 1"
            )
        return int(value), "set by steps_per_execution="
    if isinstance(strategy, mirrored):
        return 1, "auto: 1 under MirroredStrategy (keras-team/keras#19246)"
    own = getattr(tasks.get(task), "STEPS_PER_EXECUTION", None) if task else None
    if own is not None:
        return own, f"auto: task={task}'s own"
    steps = max(1, min(STEPS_PER_EXECUTION_AUTO, steps_per_epoch))
    return steps, f"auto: {STEPS_PER_EXECUTION_AUTO}, or one epoch's {steps_per_epoch} steps if fewer"


def needs_even_batches(strategy):
    """Whether every batch must be whole and split evenly across replicas:
    on TPUs (XLA compiles one program per shape) and under JAX's DataParallel."""
    return isinstance(strategy, tf.distribute.TPUStrategy) or getattr(strategy, "even_batches", False)


@contextlib.contextmanager
def precision_policy(name):
    """Sets Keras's global dtype policy inside the block, restoring it after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@functools.cache
def _multi_worker():
    """The process's one MultiWorkerMirroredStrategy (TF allows only one per
    process), with kerasdl's fixes for Keras 3 under it installed."""
    from kerasdl.multi_worker import install_keras_fixes

    install_keras_fixes()
    return tf.distribute.MultiWorkerMirroredStrategy()


@functools.cache
def _mirrored(devices):
    """One MirroredStrategy per device set for the life of the process.

    A second MirroredStrategy over the same devices restarts the collective
    instance keys that the runtime has already bound to the first one's
    tensor shapes, so a second run in one process (a notebook, the tests)
    fails with "Shape mismatch in the collective instance". Reusing the
    strategy keeps the keys unique.
    """
    return tf.distribute.MirroredStrategy(list(devices))


def _devices(strategy):
    try:
        return tuple(strategy.extended.worker_devices)
    except (AttributeError, RuntimeError):  # the default strategy has none
        return ()


def _uses_gpu(strategy):
    devices = _devices(strategy)
    # The default strategy places work on a GPU whenever one is visible.
    return any("GPU" in device.upper() for device in devices) or not devices


def _cluster_configured():
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except json.JSONDecodeError:
        config = None
    cluster = config.get("cluster", {}) if isinstance(config, dict) else None
    if not isinstance(cluster, dict):
        raise UserError(
            'TF_CONFIG must be a JSON object like {"cluster": {"worker": [...]}, "task": {...}}; '
            f"got {os.environ.get('TF_CONFIG', '')[:60]!r}"
        )
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1


def tpu_name():
    """The TPU that `TPUClusterResolver` should connect to, or None for no TPU.

    `TPU_NAME` when set (a Cloud TPU node's name, or `local`); "" on a Colab
    TPU node, whose resolver finds it through `COLAB_TPU_ADDR`; `local` on a
    TPU VM, recognised by its TPU library and chips (`/dev/accel*` on v2-v4,
    `/dev/vfio/*` on v5e and later).
    """
    if os.environ.get("TPU_NAME"):
        return os.environ["TPU_NAME"]
    if os.environ.get("COLAB_TPU_ADDR"):
        return ""
    chips = glob.glob("/dev/accel[0-9]*") or glob.glob("/dev/vfio/[0-9]*")
    if chips and importlib.util.find_spec("libtpu") is not None:
        return "local"
    return None


def _tpu_configured():
    return tpu_name() is not None


def _tpu_strategy():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_name() or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UserError(
            f"no TPU was found ({first_line(error)}); use strategy=auto, or backend=jax where TensorFlow "
            "has no TPU support (Colab's TPU VMs)"
        ) from None
    return tf.distribute.TPUStrategy(resolver)
