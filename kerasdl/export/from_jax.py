"""Exporting a model trained on the JAX backend: TensorFlow does it, in a child process.

Keras can trace a JAX model into a SavedModel itself (`model.export`, via
jax2tf, which wraps StableHLO in `XlaCallModule` ops; a small convnet
traced that way did convert to builtin-only TFLite here). kerasdl's export
does more than trace, though: a float32 copy of a mixed-precision model, a
`serve_raw` signature that tokenises with TensorFlow ops, LSTMs written for
TFLite's fused or unrolled kernels, int8 calibration, and the parity checks,
all written for Keras on TensorFlow. The `.keras` file is backend-neutral,
so the parent saves the trained model and a child process on the
TensorFlow backend (one process runs one Keras backend) rebuilds it, checks
that it computes what the JAX model computed on the test split (float32
copies on both sides, every probability within MAX_DIFFERENCE), and runs
that same export: a JAX-trained run ships the same files, checked the same
way, as a TensorFlow-trained one.

Run as `python -m kerasdl.export.from_jax RUN_DIR HANDOFF_DIR` by
`export_from_jax`; not a command for users (they have `kerasdl export`).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

from kerasdl.errors import RunFailed, UserError, first_line

# The test examples both backends run, each on a float32 copy of the model;
# no probability may differ by more than MAX_DIFFERENCE. Rounding differs
# (TPUs multiply float32 matrices in bfloat16 passes by default), a wrong
# weight or layer differs by far more.
PARITY_EXAMPLES = 256
MAX_DIFFERENCE = 0.01


def export_from_jax(run_dir, model, dataset, metrics, log=print):
    """Exports `model` (trained on JAX, on one device) into `run_dir`; returns the model card.

    Raises:
        RunFailed: the TensorFlow rebuild disagrees with the JAX model, or
            the export itself failed (its one line is the message).
    """
    run_dir = Path(run_dir)
    handoff = Path(tempfile.mkdtemp(prefix=".jax-handoff-", dir=run_dir))
    try:
        model.save(handoff / "trained.keras")
        inputs = dataset.sample("test", PARITY_EXAMPLES)[0]
        np.save(handoff / "inputs.npy", inputs)
        np.save(handoff / "outputs.npy", _float32_outputs(model, inputs))
        (handoff / "metrics.json").write_text(json.dumps(metrics))
        log("exporting on the TensorFlow backend (a child process) from the JAX-trained weights")
        sys.stdout.flush()  # this process's lines first, then the child's
        child = subprocess.run(
            [sys.executable, "-m", "kerasdl.export.from_jax", str(run_dir), str(handoff)],
            # The export needs no accelerator, and this process's JAX holds the GPU's memory.
            env=os.environ | {"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""},
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        errors = [line for line in child.stderr.splitlines() if line.startswith("kerasdl: error: ")]
        for line in child.stderr.splitlines():
            if line not in errors:
                print(line, file=sys.stderr)  # warnings the child printed
        if child.returncode != 0:
            reason = errors[-1].removeprefix("kerasdl: error: ") if errors else f"exit status {child.returncode}"
            raise RunFailed(f"exporting the JAX-trained model failed: {reason}")
    finally:
        shutil.rmtree(handoff, ignore_errors=True)
    return json.loads((run_dir / "model_card.json").read_text())


def _export_in_tensorflow(run_dir, handoff):
    """The child's work: rebuild on TensorFlow, compare with JAX, export."""
    import keras

    from kerasdl.config import load_config
    from kerasdl.data import load_dataset_for
    from kerasdl.export import export_run
    from kerasdl.keras_file import load_keras_file

    if keras.backend.backend() != "tensorflow":
        raise RunFailed(f"the export process runs Keras on {keras.backend.backend()}, not tensorflow")
    config = load_config(run_dir / "config.yaml")
    dataset = load_dataset_for(config)
    model = load_keras_file(handoff / "trained.keras")
    inputs, expected = np.load(handoff / "inputs.npy"), np.load(handoff / "outputs.npy")
    got = _float32_outputs(model, inputs)
    agreement = float(np.mean(got.argmax(-1) == expected.argmax(-1)))
    difference = float(np.max(np.abs(got - expected)))
    line = (
        f"TensorFlow's rebuild of the JAX-trained model: same class on {agreement:.1%} of {len(inputs)} "
        f"test examples, largest probability difference {difference:.2g}"
    )
    if difference > MAX_DIFFERENCE:
        raise RunFailed(f"{line}, above {MAX_DIFFERENCE}: the backends compute different models")
    print(line, flush=True)
    metrics = json.loads((handoff / "metrics.json").read_text())
    export_run(run_dir, model, dataset, config, metrics, log=print)


def _float32_outputs(model, inputs):
    """What a float32 copy of `model` computes (as exports compute), on either backend."""
    from kerasdl.export.portable import portable_copy

    return np.asarray(portable_copy(model).predict(inputs, verbose=0), dtype=np.float32)


def main(argv):
    from kerasdl.quiet import quiet_tensorflow

    quiet_tensorflow()
    try:
        _export_in_tensorflow(*map(Path, argv))
    except (UserError, RunFailed) as error:
        print(f"kerasdl: error: {error}", file=sys.stderr)
        return error.exit_status
    except Exception as error:  # noqa: BLE001 (the parent shows one line; KERASDL_VERBOSE=1 the traceback)
        if os.environ.get("KERASDL_VERBOSE") == "1":
            traceback.print_exc()
        print(f"kerasdl: error: {type(error).__name__}: {first_line(error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
