import pytest

from bertstudio.tasks.metrics import classification_metrics, is_improvement


def test_metrics_match_hand_computed_values():
    gold = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(gold, pred, ["a", "b", "c"], loss=0.25)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert m["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["loss"] == 0.25


def test_a_class_never_predicted_scores_zero_not_an_error():
    m = classification_metrics([0, 1], [0, 0], ["a", "b"])
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_loss_improves_downwards_and_scores_upwards():
    assert is_improvement("loss", 0.1, 0.2) and not is_improvement("loss", 0.3, 0.2)
    assert is_improvement("accuracy", 0.9, 0.8) and not is_improvement("macro_f1", 0.8, 0.8)
    assert is_improvement("accuracy", 0.0, None)
