import shutil

import pytest

from kerasdl.errors import UserError
from kerasdl.runs import evaluate_run, export_existing_run, load_run


def test_a_run_rebuilds_from_its_directory(iris_run):
    config, dataset, model = load_run(iris_run.run_dir)
    assert config.preset == "iris_ann" and config.epochs == 3
    assert model.get_layer("predictions").units == dataset.info.num_classes
    now, recorded = evaluate_run(iris_run.run_dir)
    assert now["accuracy"] == pytest.approx(recorded["accuracy"], abs=1e-6)


def test_reexport_with_other_variants_keeps_the_run_settings_file(iris_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(iris_run.run_dir, run_dir)
    card = export_existing_run(run_dir, variants="float32,dynamic", log=lambda line: None)
    assert set(card["variants"]) == {"float32", "dynamic"}
    assert not (run_dir / "model_int8.tflite").exists()
    assert (run_dir / "config.yaml").read_text() == (iris_run.run_dir / "config.yaml").read_text()


@pytest.mark.parametrize(
    "damage, message",
    [
        ("no_model", "has no model.keras; the run has not finished"),
        ("corrupt_model", "Cannot load"),
        ("no_config", "has no config.yaml"),
    ],
)
def test_broken_runs_are_user_errors(iris_run, tmp_path, damage, message):
    run_dir = tmp_path / "run"
    shutil.copytree(iris_run.run_dir, run_dir)
    if damage == "no_model":
        (run_dir / "model.keras").unlink()
    elif damage == "corrupt_model":
        (run_dir / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    else:
        (run_dir / "config.yaml").unlink()
    with pytest.raises(UserError, match=message):
        load_run(run_dir)


def test_the_python_api_takes_a_list_of_variants(iris_run, tmp_path):
    import kerasdl

    run_dir = tmp_path / "run"
    shutil.copytree(iris_run.run_dir, run_dir)
    card = kerasdl.reexport(run_dir, ["float32", "float16"])
    assert set(card["variants"]) == {"float32", "float16"}


def test_the_python_api_names_survive_importing_their_modules(iris_run):
    import kerasdl
    import kerasdl.export  # noqa: F401 - the package must not shadow an API function
    import kerasdl.prediction  # noqa: F401

    ((_, ranked),) = kerasdl.predict(iris_run.run_dir, ["5.1,3.5,1.4,0.2"], top=1)
    assert ranked[0][0] in {"setosa", "versicolor", "virginica"}
    assert callable(kerasdl.reexport) and callable(kerasdl.train)
