import pytest
import yaml

from kerasdl.config import make_config
from kerasdl.errors import UserError
from kerasdl.rundir import open_run_dir, plan_run_dir, run_state


def _write_run(path, config, finished):
    path.mkdir(parents=True)
    document = {"preset": config.preset} | config.to_dict() | {"versions": {"keras": "3"}}
    (path / "config.yaml").write_text(yaml.safe_dump(document))
    if finished:
        (path / "metrics.json").write_text("{}")


def test_a_new_run_goes_to_saved_models_preset(in_tmp):
    plan = plan_run_dir(make_config("iris_ann"))
    assert plan.path == in_tmp.joinpath("saved_models/iris_ann").relative_to(in_tmp)
    assert not plan.resume and not plan.replace
    assert not (in_tmp / "saved_models").exists()  # planning writes nothing


def test_a_finished_default_run_is_kept_and_the_next_number_used(in_tmp):
    config = make_config("iris_ann")
    _write_run(in_tmp / "saved_models/iris_ann", config, finished=True)
    _write_run(in_tmp / "saved_models/iris_ann-2", config, finished=True)
    plan = plan_run_dir(config)
    assert str(plan.path) == "saved_models/iris_ann-3"
    assert "holds a finished run" in plan.note


def test_an_interrupted_run_with_the_same_settings_resumes(in_tmp):
    config = make_config("iris_ann", {"verbose": "0"})
    _write_run(in_tmp / "saved_models/iris_ann", config, finished=False)
    plan = plan_run_dir(make_config("iris_ann", {"verbose": "2"}))  # output detail may differ
    assert plan.resume and str(plan.path) == "saved_models/iris_ann"


def test_a_run_from_before_a_new_key_existed_resumes_when_the_key_keeps_its_default(in_tmp):
    config = make_config("iris_ann")
    _write_run(in_tmp / "saved_models/iris_ann", config, finished=False)
    saved = in_tmp / "saved_models/iris_ann/config.yaml"
    document = yaml.safe_load(saved.read_text())
    del document["backend"]  # written by a kerasdl without the key
    saved.write_text(yaml.safe_dump(document))
    plan = plan_run_dir(config)
    assert plan.resume
    plan.release()  # a plan holds the run's lock until released
    with pytest.raises(UserError, match=r"backend: 'auto' -> 'jax'"):
        plan_run_dir(make_config("iris_ann", {"backend": "jax"}))


def test_a_run_from_before_lr_schedule_and_image_size_auto_resumes_as_it_trained(in_tmp):
    """Such a run halved on a plateau (plateau now) and wrote image_size as an integer."""
    config = make_config("cnn_mnist")
    _write_run(in_tmp / "saved_models/cnn_mnist", config, finished=False)
    saved = in_tmp / "saved_models/cnn_mnist/config.yaml"
    document = yaml.safe_load(saved.read_text())
    del document["lr_schedule"]
    document["image_size"] = 28
    saved.write_text(yaml.safe_dump(document))
    plan = plan_run_dir(config)
    assert plan.resume
    plan.release()
    with pytest.raises(UserError, match=r"lr_schedule: 'plateau' -> 'cosine'"):
        plan_run_dir(make_config("cnn_mnist", {"lr_schedule": "cosine"}))


def test_an_interrupted_run_with_other_settings_is_not_mixed_in(in_tmp):
    _write_run(in_tmp / "saved_models/iris_ann", make_config("iris_ann"), finished=False)
    with pytest.raises(UserError, match=r"interrupted run with other settings \(epochs: 100 -> 5\)"):
        plan_run_dir(make_config("iris_ann", {"epochs": "5"}))


def test_an_explicit_finished_run_dir_needs_overwrite(in_tmp):
    config = make_config("iris_ann", {"run_dir": "mine"})
    _write_run(in_tmp / "mine", config, finished=True)
    with pytest.raises(UserError, match="holds a finished run; add overwrite=true"):
        plan_run_dir(config)
    plan = plan_run_dir(make_config("iris_ann", {"run_dir": "mine", "overwrite": "true"}))
    assert plan.replace
    open_run_dir(plan)
    assert run_state(in_tmp / "mine") == "empty"


def test_a_file_or_a_foreign_folder_is_refused(in_tmp):
    (in_tmp / "afile").write_text("x")
    with pytest.raises(UserError, match="run_dir 'afile' is a file, not a directory"):
        plan_run_dir(make_config("iris_ann", {"run_dir": "afile"}))
    (in_tmp / "photos").mkdir()
    (in_tmp / "photos" / "cat.jpg").write_text("x")
    with pytest.raises(UserError, match="not a kerasdl run"):
        plan_run_dir(make_config("iris_ann", {"run_dir": "photos", "overwrite": "true"}))


def test_a_folder_with_someone_elses_config_yaml_is_foreign(in_tmp):
    (in_tmp / "project").mkdir()
    (in_tmp / "project" / "config.yaml").write_text("name: my web app\n")
    (in_tmp / "project" / "metrics.json").write_text("{}")
    with pytest.raises(UserError, match="not a kerasdl run"):
        plan_run_dir(make_config("iris_ann", {"run_dir": "project", "overwrite": "true"}))
    assert (in_tmp / "project" / "config.yaml").exists()


def test_a_run_dir_below_a_file_is_refused(in_tmp):
    (in_tmp / "afile").write_text("x")
    with pytest.raises(UserError, match="inside .*afile', which is a file"):
        plan_run_dir(make_config("iris_ann", {"run_dir": "afile/deeper/run"}))
