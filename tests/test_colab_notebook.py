"""scripts/colab_tpu.ipynb, executed cell by cell on this CPU, so it cannot rot."""

import contextlib
import json
import os
import signal
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "scripts" / "colab_tpu.ipynb"


def _with_parameters(notebook, **values):
    """Papermill's convention: a cell after the one tagged `parameters` overrides it."""
    (index,) = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    return notebook


def _stop_tensorboards(tmp_path):
    """The `%tensorboard` magic leaves its server running after the kernel ends."""
    from tensorboard import manager

    for info in manager.get_all():
        if str(tmp_path) in info.logdir:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)


def test_the_notebook_is_valid_and_marks_its_parameters():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["accelerator"] == "TPU"
    parameters = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(parameters) == 1 and "USE_ACCELERATOR = True" in parameters[0].source
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


@pytest.mark.slow
def test_the_notebook_trains_exports_and_bundles_on_a_cpu(tmp_path, monkeypatch):
    # As in Colab, `tensorboard` is on PATH (here: this virtual environment's bin/).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = _with_parameters(
        nbformat.read(NOTEBOOK, as_version=4),
        USE_ACCELERATOR=False,
        # The notebook's steps, not a model's quality: the smallest preset.
        PRESET="iris_ann",
        SETTINGS=["epochs=2", "model.hidden_units=4", "variants=float32,dynamic"],
        RUN_DIR=str(tmp_path / "run"),
    )
    try:
        NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
    finally:
        _stop_tensorboards(tmp_path)

    text = "\n".join(
        output.get("text", "") + json.dumps(output.get("data", {}))
        for cell in notebook.cells
        for output in cell.get("outputs", [])
    )
    assert "backend=jax would train on cpu" in text  # doctor, in its own process
    assert "Training iris_ann: ann on iris; JAX, one device (cpu:0)" in text
    assert "TensorFlow's rebuild of the JAX-trained model" in text
    assert "test accuracy:" in text
    (tensorboard,) = [cell for cell in notebook.cells if "%tensorboard" in cell.source]
    shown = json.dumps(tensorboard.outputs)
    assert "ERROR" not in shown and ("Launching TensorBoard" in shown or "<iframe" in shown), shown[:300]
    with zipfile.ZipFile(tmp_path / "run-bundle.zip") as bundle:
        names = sorted(Path(name).name for name in bundle.namelist() if not name.endswith("/"))
    assert names == ["labels.txt", "model.tflite", "model_card.json", "model_dynamic.tflite", "report.md"]
