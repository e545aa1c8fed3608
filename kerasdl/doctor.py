"""`kerasdl doctor`: what hardware and libraries this machine offers kerasdl."""

import os
import platform

from kerasdl.cpu import cpu_flags, describe_cpu, vector_extensions
from kerasdl.errors import first_line
from kerasdl.versions import library_versions


def jax_line():
    """What `backend=jax` would train on, or how to get JAX."""
    try:
        import jax
    except ImportError:
        return "JAX: not installed (backend=jax, the Colab TPU path, needs it); fix: pip install 'kerasdl[jax]'"
    try:
        devices = jax.devices()
    except RuntimeError as error:  # e.g. a TPU held by another process
        return f"JAX: {jax.__version__}, cannot open its devices: {first_line(error)}"
    kinds = ", ".join(sorted({f"{device.platform} x{len(jax.devices(device.platform))}" for device in devices}))
    how = "data parallel (keras.distribution.DataParallel)" if len(devices) > 1 else "one device"
    return f"JAX: {jax.__version__}, devices: {kinds}; backend=jax would train on {devices[0].platform}, {how}"


def report():
    """Lines describing devices, the `auto` choices and library versions."""
    import tensorflow as tf

    from kerasdl.distribute import (
        STEPS_PER_EXECUTION_AUTO,
        describe_strategy,
        resolve_jit,
        resolve_precision,
        resolve_steps_per_execution,
        resolve_strategy,
        tpu_name,
    )

    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores; CPU: {describe_cpu()}",
        f"vector extensions: {vector_extensions(cpu_flags())}",
        "seeded runs repeat on CPUs with the same kernels and library versions; on other kernels a run may end "
        "a few test examples apart",
    ]
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        capability = ".".join(str(part) for part in details.get("compute_capability", ()))
        lines.append(f"GPU: {details.get('device_name', gpu.name)} (compute capability {capability or '?'})")
    if not gpus:
        lines.append(
            "GPU: none visible to TensorFlow"
            + ("" if tf.test.is_built_with_cuda() else " (this TensorFlow has no CUDA)")
        )
    tpu = tpu_name()
    if tpu is None:
        lines.append("TPU: none (TPU_NAME and COLAB_TPU_ADDR unset; not a TPU VM)")
    else:
        lines.append(f"TPU: {tpu or os.environ.get('COLAB_TPU_ADDR')} (strategy=tpu on TensorFlow; backend=jax on JAX)")
    lines.append(f"TF_CONFIG: {'set' if os.environ.get('TF_CONFIG') else 'unset (single machine)'}")
    lines.append(jax_line())
    strategy = resolve_strategy("auto")
    precision, reason = resolve_precision("auto", strategy)
    lines.append(f"strategy=auto -> {describe_strategy(strategy)}")
    lines.append(f"precision=auto -> {precision} ({reason})")
    jit, jit_reason = resolve_jit("auto", strategy)
    lines.append(f"jit_compile=auto -> {str(jit).lower()} ({jit_reason})")
    # An epoch longer than the auto value: what a run's data does not cap.
    steps, steps_reason = resolve_steps_per_execution("auto", STEPS_PER_EXECUTION_AUTO + 1, strategy)
    why = "or one epoch's steps if fewer" if steps > 1 else steps_reason
    lines.append(f"steps_per_execution=auto -> {steps} ({why})")
    lines.append("versions: " + ", ".join(f"{name} {version}" for name, version in library_versions().items()))
    for module, fix in (
        ("tensorboard", "pip install 'tensorboard>=2.21,<2.22'"),
        ("tensorflow_datasets", "pip install 'tensorflow-datasets>=4.9,<5'"),
        ("ai_edge_litert", "pip install 'ai-edge-litert>=2.1,<3'"),
    ):
        try:
            __import__(module)
        except ImportError:
            lines.append(f"missing: {module}; fix: {fix}")
    return lines
