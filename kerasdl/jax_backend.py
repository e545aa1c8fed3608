"""Training on Keras's JAX backend: the devices JAX sees, one host, data parallel.

Current Colab TPU runtimes ship JAX and no TensorFlow that can drive their
TPU, so `backend=jax` is kerasdl's TPU path there (and works on GPUs and
CPUs). The models are pure Keras 3 and `tf.data` still feeds them; what
changes is who runs the training step:

- Several devices train under `keras.distribution.DataParallel`: the
  variables are replicated, each batch is split across the devices, and
  XLA inserts the gradient all-reduce. Every shard must have the same
  shape, so training batches are whole (`drop_remainder`, reshuffled every
  epoch) and the validation split is trimmed to a multiple of the devices.
- The test split is evaluated exactly, every example, on one device by a
  detached copy of the trained model, which is also what gets exported.
- Exporting (SavedModel, TFLite) is TensorFlow's job: `kerasdl.export.from_jax`
  runs it in a child process on the TensorFlow backend from the saved
  `.keras` file, and checks that both backends compute the same outputs.

`JaxDevices` stands where a `tf.distribute.Strategy` stands in the
TensorFlow path (`num_replicas_in_sync`, `scope()`), so `training.py` has
one flow for both.
"""

import contextlib
import dataclasses
import importlib.util
import os

from kerasdl.errors import UserError, first_line

CHANGE_BACKEND = (
    "set KERAS_BACKEND={backend} before Python imports keras (a notebook: restart the runtime first), "
    "or use the command, which does it for you"
)


def on_jax():
    """True when this process's Keras runs on JAX."""
    import keras

    return keras.backend.backend() == "jax"


def select_backend(name):
    """Makes the `kerasdl` command's Keras run on `name` (`auto` keeps
    KERAS_BACKEND, else TensorFlow). Call before anything imports keras:
    this module imports it only inside the functions below."""
    if name == "auto":
        return
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise UserError("backend=jax needs JAX: pip install 'kerasdl[jax]' (Colab TPU runtimes have it already)")
    os.environ["KERAS_BACKEND"] = name


def check_backend(name, profile=""):
    """A `UserError` unless this process's Keras runs on backend `name`
    (`auto`: any) and can trace the `profile` setting there."""
    import keras

    from kerasdl.profiling import check_profile_backend

    check_profile_backend(profile, keras.backend.backend())

    if name not in ("auto", keras.backend.backend()):
        raise UserError(
            f"backend={name}, but Keras in this process already runs on {keras.backend.backend()}; "
            + CHANGE_BACKEND.format(backend=name)
        )


@dataclasses.dataclass(frozen=True)
class JaxDevices:
    """The devices one JAX run trains on, and how.

    Attributes:
        devices: the `jax.Device`s, all of one platform.
        distribution: `keras.distribution.DataParallel` over them, or None
            for one device.
    """

    devices: tuple
    distribution: object = None

    @property
    def num_replicas_in_sync(self):
        return len(self.devices)

    @property
    def platform(self):
        return self.devices[0].platform

    @property
    def even_batches(self):
        """Whether every batch must split evenly across the devices."""
        return self.distribution is not None

    def scope(self):
        """Variables created and steps run inside are laid out over the devices."""
        return self.distribution.scope() if self.distribution else contextlib.nullcontext()

    def default_device(self):
        """Arrays made inside, and computations on them, go to the first device."""
        import jax

        return jax.default_device(self.devices[0])

    def describe(self):
        names = ", ".join(f"{device.platform}:{device.id}" for device in self.devices)
        if self.distribution is None:
            return f"JAX, one device ({names})"
        return f"JAX DataParallel (keras.distribution), {len(self.devices)} replicas ({names})"


def resolve_jax_devices(name="auto"):
    """Returns the `JaxDevices` for `strategy=name` on the JAX backend.

    `auto` takes every device of JAX's default platform (TPU, else GPU, else
    CPU), data parallel when there are several; `mirrored` is data parallel
    over them even if there is one; `cpu`, `gpu` and `tpu` ask for that
    platform. `multi_worker` runs on the TensorFlow backend only.
    """
    import jax
    import keras

    if name == "multi_worker":
        raise UserError(
            "strategy=multi_worker runs on the TensorFlow backend (MultiWorkerMirroredStrategy); "
            "with backend=jax kerasdl trains on the devices of one machine, data parallel"
        )
    if name not in ("auto", "mirrored", "cpu", "gpu", "tpu"):
        raise UserError(f"Unknown strategy {name!r}; choose one of: auto, cpu, gpu, mirrored, tpu (backend=jax)")
    try:
        available = jax.devices()
    except RuntimeError as error:
        # A TPU serves one process: another one (a notebook kernel that
        # imported jax, an earlier run) may hold it.
        raise UserError(
            f"JAX cannot open its devices ({first_line(error)}); if another process holds the TPU "
            "(a notebook kernel that used jax, an earlier run), stop it and run again"
        ) from None
    platforms = ", ".join(sorted({device.platform for device in available}))
    if name == "cpu":
        devices = tuple(jax.devices("cpu")[:1])
    elif name in ("gpu", "tpu"):
        devices = tuple(device for device in available if device.platform == name)
        if not devices:
            raise UserError(f"strategy={name} but JAX sees no {name.upper()} (it sees: {platforms}); use strategy=auto")
    else:
        devices = tuple(available)
    if devices[0].platform == "gpu":
        _keep_tensorflow_off_gpus()
    if len(devices) == 1 and name != "mirrored":
        return JaxDevices(devices)
    return JaxDevices(devices, keras.distribution.DataParallel(devices=list(devices)))


def jax_precision(name, devices):
    """`(policy, reason)` for `precision=name` on the JAX backend."""
    if name != "auto":
        return name, "set by precision="
    if devices.platform == "tpu":
        return "mixed_bfloat16", "TPU: bfloat16 is native"
    if devices.platform == "gpu":
        capability = str(getattr(devices.devices[0], "compute_capability", "0"))
        if float(capability or 0) >= 7.0:
            return "mixed_float16", f"GPU with compute capability {capability} has tensor cores"
        return "float32", f"GPU compute capability {capability} < 7.0"
    return "float32", "CPU under JAX: kerasdl's bfloat16 probe measures the TensorFlow backend only"


def jax_jit(name):
    """`(jit_compile, reason)` on the JAX backend, where XLA is how steps run."""
    if name == "false":
        return False, "set by jit_compile= (JAX then runs every step op by op: slow)"
    return True, "JAX compiles every step with XLA" if name == "auto" else "set by jit_compile="


def _keep_tensorflow_off_gpus():
    """tf.data only feeds JAX here; a TensorFlow that saw the GPUs would
    take their memory for itself when its runtime starts."""
    import tensorflow as tf

    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow's runtime has started already
        pass
