"""Hyperparameters tab handlers: presets within a shared demo's limits, and config files of every shape."""

import html

import gradio as gr
import pytest

from bertstudio.hosting import HostingSettings
from bertstudio.ui import data_tab, hyperparams_tab, presets, tokenizer_tab
from bertstudio.ui.app import config_form
from bertstudio.ui.form import from_log, log_value
from ui_support import page_form

HOSTED = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_EPOCHS": "4",
                                   "BERTSTUDIO_MODELS": "bundled"})


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return page_form(tmp_path_factory.mktemp("runs"), max_epochs=HOSTED.max_epochs, model="bundled")


def _load(form, tmp_path, content: bytes, hosting=None):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    *updates, problem = hyperparams_tab.load_config_file(form, None, str(path), hosting)
    return updates, html.unescape(problem)


def _untouched(updates):
    return all(update == gr.skip() for update in updates)


def test_the_epochs_slider_stops_at_the_hosted_limit(form):
    assert form.control("epochs").component.maximum == 4


def test_a_preset_keeps_within_the_epoch_limit(form):
    updates = presets.apply_preset(form, "Small dataset", "bert-base-uncased", HOSTED.max_epochs)
    assert _value(form, updates, "epochs") == 4
    assert _value(form, presets.apply_preset(form, "Small dataset", "bert-base-uncased"), "epochs") == 8


def test_a_good_config_file_fills_the_form(form, tmp_path):
    updates, problem = _load(form, tmp_path, b'{"epochs": 2, "batch_size": 8}')
    assert problem == "" and updates[form.controls.index(form.control("epochs"))] == 2
    assert updates[form.controls.index(form.control("model"))] == gr.skip()  # the file names no model


@pytest.mark.parametrize("content, message", [
    (b'{"epochs": "two"}', "Setting 'epochs' must be a whole number"),
    (b'{"epochs": 2, "optimizer": "sgd"}', "unknown settings: optimizer"),
    (b'[1, 2]', "must be a JSON object"),
    (b'{"epochs": 2', "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a text JSON file"),
    (b"[" * 100_000, "nested far too deeply"),
    (b'{"seed": ' + b"9" * 5000 + b"}", "number far too long"),
    (b'{"model": "x"}' + b" " * 1_000_001, "far too big"),
])
def test_a_config_file_of_the_wrong_shape_is_refused_plainly_and_changes_nothing(form, tmp_path, content, message):
    updates, problem = _load(form, tmp_path, content)
    assert message in problem and _untouched(updates)


def test_a_config_past_the_hosted_limits_is_refused(form, tmp_path):
    updates, problem = _load(form, tmp_path, b'{"epochs": 9}', HOSTED)
    assert "at most 4 epochs" in problem and _untouched(updates)
    updates, problem = _load(form, tmp_path, b'{"model": "/srv/private-model"}', HOSTED)
    assert "offers only these models: bundled" in problem and _untouched(updates)


# --- presets that follow the model ----------------------------------------------------------------

def _value(form, updates, name):
    return updates[presets.preset_controls(form).index(form.control(name))]


def _rate(value):
    return from_log(value)


def test_the_preset_shown_selected_at_start_is_what_the_form_starts_with(form, tmp_path_factory):
    """The highlighted preset is the form's truth, for the bundled model and for a BERT-sized one."""
    for model in ("bundled", "bert-base-uncased"):
        with gr.Blocks():
            tok = tokenizer_tab.build(model)
            hp = hyperparams_tab.build(model=model)
            data = data_tab.build()
        fresh = config_form(data, tok, hp, tmp_path_factory.mktemp("runs"))
        selected = [b.value for b in hp.presets if b.variant == "primary"]
        assert selected == [hp.selected_preset.value] == ["Recommended"]
        config = fresh.build_config("d.csv", None, [c.component.value for c in fresh.controls])
        for name, value in presets.preset_values("Recommended", model).items():
            assert getattr(config, name) == value, (model, name)
        assert hp.learning_rate_box.value == config.learning_rate
    assert presets.preset_values("Recommended", "bundled")["learning_rate"] == 5e-4  # README's rate
    assert presets.preset_values("Recommended", "bert-base-uncased")["learning_rate"] == 3e-5


@pytest.mark.parametrize("model", ["bundled", "bert-base-uncased"])
def test_each_presets_text_names_the_values_it_applies(model):
    text = presets.preset_help(model)
    for name in presets.PRESET_NAMES:
        values = presets.preset_values(name, model)
        line = next(part for part in text.split(" · ") if part.startswith(f"**{name}**"))
        assert f"{values['epochs']} epoch" in line and f"batch {values['batch_size']}" in line
        assert f"learning rate {presets.rate_words(values['learning_rate'])}," in line
    assert "learning rate 5e-4" in presets.preset_help("bundled")


def test_a_new_model_reapplies_the_selected_preset_with_its_own_values(form):
    *updates, box, box_problem, text = presets.follow_model(form, "Recommended", "bert-base-uncased")
    assert _rate(_value(form, updates, "learning_rate")) == 3e-5 == box and _value(form, updates, "epochs") == 3
    assert "learning rate 3e-5" in text and box_problem == ""
    *updates, box, _, text = presets.follow_model(form, "Recommended", "bundled")
    assert _rate(_value(form, updates, "learning_rate")) == 5e-4 == box and "learning rate 5e-4" in text


def test_a_new_model_leaves_hand_made_settings_alone(form):
    *updates, box, _, text = presets.follow_model(form, None, "bert-base-uncased")
    assert all(update == gr.skip() for update in updates) and box == gr.skip()
    assert "learning rate 3e-5" in text  # the buttons' text still follows the model


def test_a_new_file_sends_only_the_settings_it_changes(form, sample_csv):
    """Recommended follows the file; its answer to a file re-read with the same number of rows
    arrives late on a busy machine, and must not undo a value typed in the meantime."""
    from bertstudio.config import TrainConfig
    from bertstudio.data.dataset import prepare_data

    prepared = prepare_data(TrainConfig(data=str(sample_csv)))
    governed = presets.preset_controls(form)
    before = [control.component.value for control in governed]  # the form as it starts: Recommended
    *updates, box, _, text = presets.follow_model(form, "Recommended", "bundled", prepared, *before)
    assert _rate(_value(form, updates, "learning_rate")) == 1e-3 == box and _value(form, updates, "epochs") == 10
    assert _value(form, updates, "batch_size") == gr.skip()  # 16 already: nothing sent for it
    assert "Why Recommended sets these for your file" in text
    shown = [before[i] if update == gr.skip() else update for i, update in enumerate(updates)]
    *again, box, _, _ = presets.follow_model(form, "Recommended", "bundled", prepared, *shown)
    assert all(update == gr.skip() for update in again) and box == gr.skip()


def test_choosing_a_preset_highlights_it_alone(form):
    out = presets.choose_preset(form, "Quick try", "bundled")
    governed = len(presets.preset_controls(form))
    *updates, box, _, selected = out[:governed + 3]
    buttons = out[governed + 3:]
    assert selected == "Quick try" and box == 5e-4 and _value(form, updates, "epochs") == 2
    assert [b["variant"] for b in buttons] == ["primary", "secondary", "secondary"]
    assert "learning_rate" in presets.governed_settings()


def test_a_typed_learning_rate_moves_the_slider_and_leaves_the_preset():
    slider, box, problem, selected, *buttons = hyperparams_tab.typed_learning_rate(2.5e-5, log_value(5e-4))
    assert from_log(slider) == 2.5e-5 == box and problem == "" and selected is None
    assert all(b["variant"] == "secondary" for b in buttons)
    slider, box, *_ = hyperparams_tab.typed_learning_rate(1.234e-4, log_value(5e-4))
    assert box == from_log(slider) == 1.2e-4  # shown as the slider keeps it


@pytest.mark.parametrize("typed, message", [(0.5, "from 1e-06 to 0.01"), (1e-9, "from 1e-06 to 0.01"),
                                            (None, "Type a learning rate")])
def test_a_typed_learning_rate_out_of_range_is_refused_beside_the_box(typed, message):
    slider, box, problem, selected, *buttons = hyperparams_tab.typed_learning_rate(typed, log_value(5e-4))
    assert message in html.unescape(problem)
    assert slider == box == selected == gr.skip() and all(b == gr.skip() for b in buttons)


def test_the_same_learning_rate_typed_again_keeps_the_preset():
    slider, box, problem, selected, *_ = hyperparams_tab.typed_learning_rate(5e-4, log_value(5e-4))
    assert slider == gr.skip() and selected == gr.skip() and box == 5e-4 and problem == ""


def test_a_loaded_config_file_leaves_the_preset(form, tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"epochs": 2}')
    out = hyperparams_tab.load_settings(form, None, str(path))
    assert out[len(form.controls)] == "" and out[len(form.controls) + 1] is None
    path.write_bytes(b'{"epochs": "two"}')
    assert hyperparams_tab.load_settings(form, None, str(path))[len(form.controls) + 1] == gr.skip()


# --- issue #9: the settings follow the task ------------------------------------------------------

def _offered(update):
    return [value for _, value in update["choices"]]


class _Prepared:
    """What `follow_task` reads of prepared data: the task in force."""

    def __init__(self, task):
        self.task = task


def test_metric_to_watch_offers_the_tasks_own_metrics_and_keeps_one_it_measures():
    metric, rare = hyperparams_tab.follow_task(_Prepared("regression"), "auto", "macro_f1")
    assert _offered(metric) == ["auto", "pearson", "spearman", "rmse", "mae", "r2", "loss"]
    assert metric["value"] == "auto" and rare["visible"] is False  # macro F1 means nothing for a number
    assert "Pearson" in metric["choices"][0][0]  # auto names the headline it stands for
    metric, rare = hyperparams_tab.follow_task(_Prepared("multi_label"), "auto", "macro_f1")
    assert "micro_f1" in _offered(metric) and metric["value"] == "macro_f1" and rare["visible"] is True


def test_a_chosen_task_sets_the_metrics_while_the_data_cannot_be_prepared():
    metric, rare = hyperparams_tab.follow_task(None, "multi_label", "accuracy")
    assert "subset_accuracy" in _offered(metric) and metric["value"] == "auto" and rare["visible"] is True
    assert hyperparams_tab.follow_task(None, "auto", "accuracy") == [gr.skip(), gr.skip()]


def test_the_page_starts_with_one_label_per_rows_metrics_and_the_rare_labels_option_hidden(form):
    metric = form.control("metric_for_best").component
    assert [value for _, value in metric.choices] == ["auto", "macro_f1", "accuracy", "loss"]
    rare = form.control("weight_rare_labels").component
    assert rare.visible is False and "rare" in rare.info


@pytest.mark.parametrize("model", ["bundled", "bert-base-uncased"])
def test_presets_name_no_metric_of_one_task(model):
    for name in presets.PRESET_NAMES:
        assert presets.preset_values(name, model).get("metric_for_best", "auto") == "auto"
    from bertstudio.config import TrainConfig

    for task in ("single_label", "multi_label", "regression"):  # every preset is valid for every task
        TrainConfig(task=task).replace(**presets.preset_values("Small dataset", model)).validate()


def test_a_preset_and_a_new_model_never_write_the_model(form):
    assert form.control("model") not in presets.preset_controls(form)
    assert len(presets.follow_model(form, "Recommended", "bundled")) == len(
        presets.preset_controls(form)) + 3


def test_a_config_file_watching_a_regression_metric_offers_that_metric(form, tmp_path):
    updates, problem = _load(form, tmp_path, b'{"task": "regression", "metric_for_best": "rmse"}')
    metric = updates[form.controls.index(form.control("metric_for_best"))]
    assert problem == "" and metric["value"] == "rmse" and "pearson" in _offered(metric)
    assert updates[form.controls.index(form.control("task"))] == "regression"
