import json

import pytest

from bertstudio.config import TrainConfig, field_specs
from bertstudio.errors import StudioError


def test_defaults_follow_the_bert_paper():
    config = TrainConfig()
    assert config.learning_rate in (5e-5, 3e-5, 2e-5)
    assert config.batch_size in (16, 32)
    assert config.epochs == 3 and config.warmup_ratio == 0.1 and config.weight_decay == 0.01
    assert config.max_length == 128 and config.truncation == "start" and config.max_grad_norm == 1.0
    assert config.validation_split == 0.1 and config.scheduler == "linear" and config.precision == "auto"


def test_config_round_trips_through_json():
    config = TrainConfig(data="x.csv", model="bundled", learning_rate=2e-5, epochs=1, text_pair_column="b",
                         clean_strip_html=True, max_rows=500, truncation="head_tail")
    assert TrainConfig.from_json(config.to_json()) == config


def test_every_field_has_label_help_and_group():
    for spec in field_specs():
        assert spec.metadata.get("label") and spec.metadata.get("help") and spec.metadata.get("group"), spec.name


@pytest.mark.parametrize("changes, words", [
    ({"learning_rate": 0.5}, "Learning rate"),
    ({"batch_size": 0}, "Batch size"),
    ({"epochs": 500}, "Epochs"),
    ({"truncation": "middle"}, "start, end, head_tail"),
    ({"scheduler": "exotic"}, "linear"),
    ({"max_length": 4}, "Max length"),
    ({"model": "  "}, "bundled"),
    ({"text_column": "a", "text_pair_column": "a"}, "second text column"),
    ({"text_column": "a", "label_column": "a"}, "label column"),
])
def test_out_of_range_settings_are_refused_with_the_setting_named(changes, words):
    with pytest.raises(StudioError) as caught:
        TrainConfig(**changes).validate()
    assert words in caught.value.message


def test_unknown_keys_are_refused_and_known_keys_listed():
    with pytest.raises(StudioError) as caught:
        TrainConfig.from_dict({"epochs": 2, "learnin_rate": 1e-5})
    assert "learnin_rate" in caught.value.message and "learning_rate" in caught.value.message


@pytest.mark.parametrize("raw", [{"epochs": "three"}, {"batch_size": 16.5}, {"keep_best": "yes"},
                                 {"model": 7}, {"learning_rate": True}, {"epochs": None}])
def test_wrong_types_are_refused_in_plain_words(raw):
    with pytest.raises(StudioError) as caught:
        TrainConfig.from_dict(raw)
    assert list(raw)[0] in caught.value.message


def test_whole_float_for_an_int_setting_is_accepted():
    assert TrainConfig.from_dict({"epochs": 2.0}).epochs == 2


def test_broken_json_names_the_line():
    with pytest.raises(StudioError, match="line 1"):
        TrainConfig.from_json("{epochs: 2}")
    with pytest.raises(StudioError, match="JSON object"):
        TrainConfig.from_json(json.dumps([1, 2]))


def test_absurd_json_is_refused_in_plain_words_not_a_traceback():
    with pytest.raises(StudioError, match="nested far too deeply"):
        TrainConfig.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StudioError, match="number far too long"):
        TrainConfig.from_json('{"epochs": ' + "9" * 5000 + "}")


def test_a_config_written_before_tasks_existed_still_loads_as_auto():
    old = {key: value for key, value in TrainConfig(model="bundled").to_dict().items()
           if key not in ("task", "label_separator", "label_columns", "weight_rare_labels")}
    old["metric_for_best"] = "macro_f1"
    config = TrainConfig.from_dict(old)
    assert config.task == "auto" and config.metric_for_best == "macro_f1"
    assert config.label_separator is None and config.label_columns is None and config.weight_rare_labels


def test_task_settings_default_to_auto_and_round_trip():
    assert TrainConfig().task == "auto" and TrainConfig().metric_for_best == "auto"
    config = TrainConfig(task="multi_label", label_separator="|", label_columns="joy, anger",
                         weight_rare_labels=False)
    assert TrainConfig.from_json(config.to_json()) == config
    assert config.label_column_names() == ("joy", "anger")


@pytest.mark.parametrize("changes, words", [
    ({"task": "ranking"}, "single_label, multi_label, regression"),
    ({"task": "single_label", "metric_for_best": "rmse"}, "macro_f1, accuracy, loss"),
    ({"task": "regression", "label_columns": "a,b"}, "multi_label"),
    ({"text_column": "joy", "label_columns": "joy,anger"}, "'joy' is both a text column and a label column"),
])
def test_task_settings_that_disagree_are_refused_in_plain_words(changes, words):
    with pytest.raises(StudioError, match=words):
        TrainConfig(**changes).validate()


def test_the_sheet_is_an_optional_data_setting_for_excel_that_round_trips():
    spec = next(spec for spec in field_specs() if spec.name == "sheet")
    assert spec.metadata["label"] == "Sheet" and spec.metadata["group"] == "data"
    assert "Excel" in spec.metadata["help"] and TrainConfig().sheet is None
    config = TrainConfig(data="book.xlsx", model="bundled", sheet="2024 reviews")
    assert TrainConfig.from_json(config.to_json()).sheet == "2024 reviews"
    old = {k: v for k, v in TrainConfig(data="d.csv").to_dict().items() if k != "sheet"}  # a run from before
    assert TrainConfig.from_dict(old).sheet is None
