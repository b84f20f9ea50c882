"""Hyperparameters tab handlers: presets within a shared demo's limits, and config files of every shape."""

import html

import gradio as gr
import pytest

from bertstudio.hosting import HostingSettings
from bertstudio.ui import data_tab, hyperparams_tab, tokenizer_tab
from bertstudio.ui.app import config_form

HOSTED = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_EPOCHS": "4",
                                   "BERTSTUDIO_MODELS": "bundled"})


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    with gr.Blocks():
        data = data_tab.build()
        tok = tokenizer_tab.build("bundled")
        hp = hyperparams_tab.build(max_epochs=HOSTED.max_epochs)
    return config_form(data, tok, hp, tmp_path_factory.mktemp("runs"))


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
    updates = hyperparams_tab.apply_preset(form, "Small dataset", HOSTED.max_epochs)
    assert updates[form.controls.index(form.control("epochs"))] == 4
    assert hyperparams_tab.apply_preset(form, "Small dataset")[form.controls.index(form.control("epochs"))] == 8


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
