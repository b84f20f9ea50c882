"""Helpers for the Data and Hyperparameters tab tests: the page's config form, its values, a file written."""

import gradio as gr

from bertstudio.ui import data_tab, hyperparams_tab, tokenizer_tab
from bertstudio.ui.app import config_form


def page_form(runs_dir, **hyperparams):
    """The ConfigForm of a page built from the Data, Tokenizer and Hyperparameters tabs."""
    with gr.Blocks():
        data = data_tab.build()
        tok = tokenizer_tab.build("bundled")
        hp = hyperparams_tab.build(**hyperparams)
    return config_form(data, tok, hp, runs_dir)


def values(form, **chosen):
    """The form's widget values as a fresh page shows them, with `chosen` (config field: widget value) set."""
    out = [control.component.value for control in form.controls]
    for name, value in chosen.items():
        out[form.controls.index(form.control(name))] = value
    return out


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)
