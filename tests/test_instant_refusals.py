"""Refusals that need no TensorFlow answer before it loads (issue 22's
"refusals are instant"): importing it takes seconds here, so each case
checks, in a fresh process, that the command exited 2 without importing it."""

import json
import subprocess
import sys

import pytest

CHECK = """
import json, sys
from kerasdl.cli import main
status = main(sys.argv[1:])
print(json.dumps([status, "tensorflow" in sys.modules]))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "no_such_preset"],
        ["train", "iris_ann", "no_such_key=1"],
        ["train", "iris_ann", "epochs=-1"],
        ["predict", "NO_RUN", "x.png"],
        ["evaluate", "NO_RUN"],
        ["export", "NO_RUN"],
    ],
)
def test_a_refusal_that_needs_no_tensorflow_answers_before_it_loads(argv, tmp_path):
    done = subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, cwd=tmp_path)
    status, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == 2 and not imported, done.stderr
    assert done.stderr.startswith("kerasdl: error: ") and done.stderr.count("\n") == 1
