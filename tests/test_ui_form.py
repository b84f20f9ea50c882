"""Controls generated from TrainConfig's metadata, and the one function that reads them back."""

import math
from dataclasses import fields

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.ui import data_tab, hyperparams_tab, presets, tokenizer_tab
from bertstudio.ui.app import config_form
from bertstudio.ui.form import ALL_ROWS, NO_COLUMN, from_log, log_value, make_control


@pytest.fixture(scope="module")
def tabs(tmp_path_factory):
    with gr.Blocks():
        data = data_tab.build()
        tok = tokenizer_tab.build("bundled")
        hp = hyperparams_tab.build(model="bundled")
    form = config_form(data, tok, hp, tmp_path_factory.mktemp("runs"))
    return data, tok, hp, form


def _defaults(form):
    """The widget values a fresh page shows."""
    return [control.component.value for control in form.controls]


def _set(form, values, **changes):
    values = list(values)
    for name, value in changes.items():
        values[form.controls.index(form.control(name))] = value
    return values


def test_controls_follow_the_field_metadata():
    with gr.Blocks():
        lr, batch, precision, keep, seed, name = (make_control(n) for n in (
            "learning_rate", "batch_size", "precision", "keep_best", "seed", "run_name"))
    meta = next(f for f in fields(TrainConfig) if f.name == "learning_rate").metadata
    assert isinstance(lr.component, gr.Slider)
    assert (lr.component.minimum, lr.component.maximum) == (math.log10(meta["min"]), math.log10(meta["max"]))
    assert isinstance(batch.component, gr.Slider) and (batch.component.minimum, batch.component.maximum) == (1, 256)
    assert batch.component.label == "Batch size" and "memory runs out" in batch.component.info
    assert isinstance(precision.component, gr.Radio)
    assert [c[1] for c in precision.component.choices] == ["auto", "fp32", "bf16", "fp16"]
    assert isinstance(keep.component, gr.Checkbox) and keep.component.value is True
    assert isinstance(seed.component, gr.Number)  # 2**31 positions: a slider would be useless
    assert isinstance(name.component, gr.Textbox)


def test_an_optional_number_box_reads_a_cleared_box_as_not_set():
    """The browser sends a cleared number box as 0. Refused against the field's minimum (1), that
    failed every event the form feeds ("Error" on the summary, the plan, the Train button)."""
    with gr.Blocks():
        steps = make_control("max_steps")
    assert isinstance(steps.component, gr.Number) and steps.component.minimum == 0
    steps.component.preprocess(0)  # gradio's own bounds check lets it through
    assert steps.read(0) is None and steps.read(None) is None and steps.read(250) == 250
    with pytest.raises(StudioError):
        TrainConfig(max_steps=0).validate()  # the config itself still wants a real limit


@pytest.mark.parametrize("rate", [5e-5, 3e-5, 2e-5, 1e-4, 1e-6, 1e-3])
def test_log_slider_gives_back_the_usual_learning_rates_exactly(rate):
    assert from_log(log_value(rate)) == rate


def test_every_user_setting_has_exactly_one_control(tabs):
    *_, form = tabs
    names = [control.name for control in form.controls]
    assert len(names) == len(set(names))
    # Extra unlabeled files for continued pretraining are a command-line option for now
    # (`bertstudio pretrain --unlabeled-data`); the studio adapts on the training file's texts.
    set_elsewhere = {"data", "validation_data", "output_dir", "unlabeled_data"}
    assert set(names) | set_elsewhere == set(TrainConfig().to_dict())


def test_fresh_form_builds_the_default_config_with_the_chosen_files(tabs, tmp_path):
    *_, form = tabs
    values = _set(form, _defaults(form), text_column="review", label_column="stars")
    config = form.build_config("train.csv", None, values)
    expected = TrainConfig(data="train.csv", model="bundled", text_column="review", label_column="stars",
                           output_dir=form.output_dir).replace(**presets.preset_values("Recommended", "bundled"))
    assert config == expected


def test_widget_values_are_converted_to_config_types(tabs):
    *_, form = tabs
    values = _set(form, _defaults(form), text_column="t", label_column="l", text_pair_column=NO_COLUMN,
                  learning_rate=log_value(3e-5), batch_size=16.0, max_rows="500", run_name="  ")
    config = form.build_config("d.csv", "v.csv", values)
    assert config.learning_rate == 3e-5 and config.batch_size == 16 and isinstance(config.batch_size, int)
    assert config.text_pair_column is None and config.max_rows == 500 and config.run_name is None
    assert config.validation_data == "v.csv"
    assert form.build_config("d.csv", None, _set(form, values, max_rows=ALL_ROWS)).max_rows is None


def test_a_bad_value_is_refused_by_its_label(tabs):
    *_, form = tabs
    values = _set(form, _defaults(form), text_column="x", label_column="x")
    with pytest.raises(StudioError, match="label column is also used"):
        form.build_config("d.csv", None, values)
    with pytest.raises(StudioError, match="Seed"):
        form.build_config("d.csv", None, _set(form, _defaults(form), seed=-1))


def test_presets_change_only_their_own_settings(tabs):
    *_, form = tabs
    updates = presets.apply_preset(form, "Quick try", "bert-base-uncased")
    by_name = dict(zip((c.name for c in presets.preset_controls(form)), updates, strict=True))
    assert by_name["epochs"] == 1 and by_name["batch_size"] == 16
    assert math.isclose(from_log(by_name["learning_rate"]), 5e-5)
    # Quick try names no weight decay, which another preset sets: left as the user has it
    assert by_name["weight_decay"] == gr.skip()
    assert not {"max_length", "text_column", "seed", "model"} & set(by_name)  # never a preset's outputs


def test_a_config_file_fills_the_form_but_only_with_columns_the_file_has(tabs, tmp_path):
    data, _, _, form = tabs
    from bertstudio.data.tabular import read_table

    table = read_table(b"review,stars\ngood,5\nbad,1\n", name="d.csv")
    loaded = data_tab.LoadedData(path="d.csv", table=table)
    path = tmp_path / "config.json"
    path.write_text(TrainConfig(epochs=7, text_column="review", label_column="missing").to_json())
    updates = hyperparams_tab.load_config_file(form, loaded, str(path))
    by_name = dict(zip([c.name for c in form.controls] + ["problem"], updates))
    assert by_name["epochs"] == 7 and by_name["text_column"] == "review" and by_name["problem"] == ""
    assert by_name["label_column"] == gr.skip()


def test_a_broken_config_file_is_explained_beside_the_upload(tabs, tmp_path):
    *_, form = tabs
    path = tmp_path / "config.json"
    path.write_text('{"epochs": "three"}')
    problem = hyperparams_tab.load_config_file(form, None, str(path))[-1]
    assert "epochs" in problem and "whole number" in problem


def test_a_control_can_start_at_a_given_value_instead_of_the_default():
    with gr.Blocks():
        epochs = make_control("epochs", value=6)
        rate = make_control("learning_rate", value=5e-4)
    assert epochs.component.value == 6 and from_log(rate.component.value) == 5e-4


# --- issue #9: the task's own controls -------------------------------------------------------------

def test_the_task_switch_offers_detection_first_then_each_task_by_its_plain_name(tabs):
    data, *_ = tabs
    assert data.task.component.choices == [("Detect automatically", "auto"), ("One label per row", "single_label"),
                                           ("Several labels per row", "multi_label"),
                                           ("A number (score)", "regression")]
    assert data.task.component.value == "auto"


def test_the_separator_reads_nothing_chosen_as_find_it_in_the_file(tabs):
    data, *_ = tabs
    control = data.separator
    assert [value for _, value in control.component.choices] == [",", ";", "|"]
    assert control.read(None) is None and control.read(";") == ";"
    assert control.show("\t") is None and control.show("|") == "|"  # a value the radio cannot show


def test_label_columns_read_as_the_configs_comma_separated_names(tabs):
    data, *_, form = tabs
    control = data.label_columns
    assert control.read(["joy", "anger"]) == "joy,anger" and control.read([]) is None
    assert control.read("joy, anger") == "joy,anger"  # as the browser keeps it
    assert control.show("joy,anger") == ["joy", "anger"] and control.show(None) == []
    config = form.build_config("d.csv", None, _set(form, _defaults(form), task="multi_label",
                                                  label_separator="|", label_columns=["joy", "anger"]))
    assert (config.task, config.label_separator, config.label_column_names()) == ("multi_label", "|",
                                                                                   ("joy", "anger"))


def test_a_config_naming_label_columns_shows_them_only_with_a_file_that_has_them(tabs):
    *_, form = tabs
    from bertstudio.data.tabular import read_table

    table = read_table(b"text,joy,anger\nhi,1,0\nho,0,1\n", name="d.csv")
    config = TrainConfig(task="multi_label", label_columns="joy,anger")
    at = form.controls.index(form.control("label_columns"))
    update = form.updates_for(config, table=table)[at]
    assert update["value"] == ["joy", "anger"] and update["choices"] == ["joy", "anger"]
    assert form.updates_for(config, table=None)[at] == gr.skip()
    assert form.updates_for(config.replace(label_columns="joy,fear"), table=table)[at] == gr.skip()
