"""Keeps TensorFlow's native log noise away from the user, and nothing else.

TensorFlow 2.21 logs from C++ through absl before `TF_CPP_MIN_LOG_LEVEL` takes
effect (oneDNN notices, CUDA probing on machines without a GPU, converter
chatter), so an environment variable is not enough. The command routes the
process's stderr through a filter that drops those known lines and passes
everything else (Python warnings, real errors) through unchanged.
"""

import atexit
import contextlib
import logging
import os
import re
import sys
import tempfile
import threading

_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:. ]+\s*\d+ \S+\.(cc|h):\d+\]"  # absl INFO / WARNING lines
    r"|E\d{4} [\d:. ]+\s*\d+ cuda_\w+\.cc:\d+\] failed call to cuInit"  # no GPU here
    r"|E\d{4} [\d:. ]+\s*\d+ util\.cc:\d+\] oneDNN supports DT_BOOL only"  # masks run on Eigen: not an error
    r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU"
    r"|To enable the following instructions: .* rebuild TensorFlow"  # 2nd line of cpu_feature_guard
    r")"
)


def is_noise(line):
    return bool(_NOISE.match(line))


def quiet_tensorflow():
    """Filters stderr of the whole process; call before importing TensorFlow.

    Set `KERASDL_VERBOSE=1` to see everything TensorFlow prints.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("KERASDL_VERBOSE") == "1":
        return
    # TensorFlow's Python logger: retracing notices and the like, which a
    # user cannot act on. Errors still show.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    real_stderr = os.dup(2)
    restore_copy = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward():
        with os.fdopen(read_end, "rb") as source, os.fdopen(real_stderr, "wb", buffering=0) as sink:
            for line in source:
                if not is_noise(line.decode(errors="replace")):
                    sink.write(line)

    thread = threading.Thread(target=forward, name="kerasdl-stderr-filter", daemon=True)
    thread.start()
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)

    def drain():
        # Closing the pipe's last writer ends `forward`; wait so that the
        # final lines (an error message, say) are not lost at exit.
        sys.stderr.flush()
        os.dup2(restore_copy, 2)
        thread.join(timeout=5)

    atexit.register(drain)


class _Captured:
    def __init__(self, path):
        self.path = path

    def tail(self, lines=3):
        try:
            with open(self.path, errors="replace") as handle:
                kept = [line.strip() for line in handle if line.strip() and not is_noise(line)]
        except OSError:
            return ""
        return " | ".join(kept[-lines:]) or "empty"


@contextlib.contextmanager
def captured_native_output():
    """Sends native stderr inside the block to a temporary file.

    The TFLite converter writes dozens of lines straight to file descriptor
    2; the caller shows `.tail()` only if the conversion fails.
    """
    sys.stderr.flush()
    with tempfile.NamedTemporaryFile(prefix="kerasdl-native-", suffix=".log", delete=False) as log:
        path = log.name
    saved = os.dup(2)
    target = os.open(path, os.O_WRONLY)
    os.dup2(target, 2)
    os.close(target)
    captured = _Captured(path)
    try:
        yield captured
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        with contextlib.suppress(OSError):
            os.unlink(path)
