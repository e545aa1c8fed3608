"""`profile=START,END`: a trace of training steps START to END for
TensorBoard's Profile dashboard (tensorboard-plugin-profile), opt-in.

Keras's TensorBoard callback does the tracing (`profile_batch`); it counts
its batch hooks, which run once per execution of `steps_per_execution`
steps, so the steps the user names become the executions that hold them.
The trace (`logs/train/plugins/profile/<time>/*.xplane.pb`) is written by
TensorFlow's own profiler; only viewing it needs the plugin.

On the JAX backend Keras traces with `jax.profiler` on Python 3.12 or newer
only (it turns profiling off, with a warning, on older Pythons), so there
this is refused up front with the reason.
"""

import sys

from kerasdl.errors import UserError


def parse_profile(setting):
    """`(start, end)` training steps (1-based, inclusive) from `START,END`, or None for "".

    Example:
        >>> parse_profile("10,20"), parse_profile("")
        ((10, 20), None)
    """
    if not setting:
        return None
    parts = [part.strip() for part in str(setting).split(",")]
    if len(parts) != 2 or not all(part.isascii() and part.isdigit() for part in parts):
        raise UserError(f"profile must be START,END training steps (e.g. 10,20) or empty, got {setting!r}")
    start, end = int(parts[0]), int(parts[1])
    if not 1 <= start <= end:
        raise UserError(f"profile must have 1 <= START <= END, got {setting!r}")
    return start, end


def profile_batches(setting, steps_per_execution=1):
    """Keras's `profile_batch` for `setting`: the (1-based) executions that
    hold steps START to END, or 0 for no profiling.

    Example:
        >>> profile_batches("10,20", steps_per_execution=16), profile_batches("")
        ((1, 2), 0)
    """
    steps = parse_profile(setting)
    if steps is None:
        return 0
    per_call = max(1, int(steps_per_execution))
    return tuple(-(-step // per_call) for step in steps)


def check_profile_backend(setting, backend):
    """A `UserError` where Keras cannot profile on `backend` in this Python."""
    if parse_profile(setting) and backend == "jax" and sys.version_info < (3, 12):
        raise UserError(
            f"profile={setting} needs Python 3.12 or newer on the JAX backend (Keras traces with jax.profiler "
            f"there); this is Python {sys.version_info.major}.{sys.version_info.minor}: use backend=tensorflow "
            "or leave profile empty"
        )
