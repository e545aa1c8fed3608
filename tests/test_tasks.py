"""The task layer: which task a run does, and classification's answers."""

import numpy as np
import pytest

from kerasdl import tasks
from kerasdl.config import as_read_now, make_config
from kerasdl.errors import UserError
from kerasdl.tasks import classify


def test_the_task_follows_the_model_family_when_not_given():
    assert make_config("digits_cnn").task == "classify"
    assert make_config("iris_ann", {"task": "classify"}).task == "classify"
    assert tasks.task_for("rnn") == "classify"


def test_an_unknown_task_is_one_line_naming_the_choices():
    with pytest.raises(UserError, match=r"Unknown task 'colorize'; choose one of: classify"):
        make_config("iris_ann", {"task": "colorize"})


def test_a_model_family_of_another_task_is_refused(monkeypatch):
    # A task whose models are not the family asked for: the mismatch is named.
    other = type("Other", (), {"MODEL_FAMILIES": ("unet",)})
    monkeypatch.setattr(tasks, "tasks", lambda: {"classify": classify, "segment": other})
    with pytest.raises(UserError, match=r"task=segment cannot use model=ann; its models: unet"):
        make_config("iris_ann", {"task": "segment"})


def test_a_run_saved_before_tasks_reads_as_its_familys_task():
    saved = make_config("iris_ann").to_dict()
    del saved["task"]
    assert as_read_now(saved, "iris_ann")["task"] == "classify"


def test_cards_written_before_tasks_are_classifiers():
    assert tasks.for_card({"task": "image classification"}) is classify
    assert tasks.for_card({"task": "classify"}) is classify


def test_classification_parity_compares_top1_and_probabilities():
    expected = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    actual = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]], dtype=np.float32)
    parity = classify.parity(expected, actual, labels=np.array([0, 1, 0]))
    assert parity.examples == 3
    assert parity.top1_agreement == pytest.approx(2 / 3)
    assert parity.max_abs_diff == pytest.approx(0.2)
    assert parity.accuracy == pytest.approx(2 / 3)
    assert "below 100%" in classify.parity_problem("float32", parity)
    assert classify.parity_cells(parity.as_dict()) == ["66.67%", "0.2", "66.67%"]


def test_classification_renders_the_top_classes_best_first():
    card = {"labels": ["cat", "dog", "fox"]}
    (ranked,) = classify.render(np.array([[0.2, 0.5, 0.3]]), card, top=2)
    assert ranked == [("dog", 0.5), ("fox", 0.3)]
    assert classify.format_prediction(ranked) == "dog (0.500), fox (0.300)"
