"""The Hyperparameters tab's presets: what each sets for a model of a given size, the line that
names those values, and the handlers that apply one and highlight the preset the form still equals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from bertstudio.recommend import Recommendation
    from bertstudio.ui.form import ConfigForm, FieldControl

# Presets change only the settings they name; everything else stays as the user left it. What a
# preset sets depends on the model's size: BERT-sized models fine-tune at the BERT paper's rates
# (2e-5 to 5e-5), while a tiny one such as the bundled model barely moves at them and wants about
# ten times the rate and more epochs (the README's command reaches 0.92 accuracy with 5e-4).
SMALL_MODEL_PARAMETERS = 10e6  # the bundled model has 1.3M, bert-tiny 4.4M; MiniLM-L6 (23M) is BERT-like
# "Recommended" follows the file once one is loaded: the learning rate, epochs and early stopping
# measured for its number of rows and the model's size (bertstudio/recommend.py, README), each with
# its reason; before that, and for the other presets, the fixed values below.
FITS_THE_DATA = "Recommended"
_SHARED = dict(warmup_ratio=0.1, scheduler="linear", eval_strategy="epoch", gradient_accumulation_steps=1)
BERT_PRESETS: dict[str, dict[str, Any]] = {
    "Quick try": dict(_SHARED, epochs=1, learning_rate=5e-5, batch_size=16, early_stopping_patience=0),
    "Recommended": dict(_SHARED, epochs=3, learning_rate=3e-5, batch_size=32, weight_decay=0.01,
                        early_stopping_patience=0, keep_best=True),
    "Small dataset": dict(_SHARED, epochs=8, learning_rate=3e-5, batch_size=16, weight_decay=0.01,
                          early_stopping_patience=2, metric_for_best="auto", keep_best=True),
}
SMALL_MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "Quick try": dict(_SHARED, epochs=2, learning_rate=5e-4, batch_size=16, early_stopping_patience=0),
    "Recommended": dict(_SHARED, epochs=6, learning_rate=5e-4, batch_size=16, weight_decay=0.01,
                        early_stopping_patience=0, keep_best=True),
    "Small dataset": dict(_SHARED, epochs=12, learning_rate=5e-4, batch_size=8, weight_decay=0.01,
                          early_stopping_patience=3, metric_for_best="auto", keep_best=True),
}
PRESET_NAMES = tuple(BERT_PRESETS)
DEFAULT_PRESET = "Recommended"  # applied to the form at start, so the highlighted preset is the truth
PRESET_PURPOSE = {
    "Quick try": "to check that everything works",
    "Recommended": "a good first real run",
    "Small dataset": "a few hundred rows: stops when it stops improving",
}


def presets_for(model: str | None, folder: str | None = None) -> dict[str, dict[str, Any]]:
    """The presets' settings for `model` (its local `folder` when known), chosen by its size."""
    from bertstudio.ui.estimate import model_size

    if not model or not model.strip():
        return BERT_PRESETS
    small = model_size(model.strip(), _folder(model, folder)).total < SMALL_MODEL_PARAMETERS
    return SMALL_MODEL_PRESETS if small else BERT_PRESETS


def preset_values(name: str, model: str | None, folder: str | None = None,
                  max_epochs: int | None = None, rows: int | None = None) -> dict[str, Any]:
    """What the preset `name` sets for this model, its epochs within a shared demo's `max_epochs`;
    with the file's number of labelled `rows`, "Recommended" takes the settings measured for them."""
    preset = dict(presets_for(model, folder)[name])
    advice = recommendation(name, model, folder, rows)
    if advice is not None:
        preset.update(advice.settings())
    if max_epochs is not None:
        preset["epochs"] = min(preset["epochs"], max_epochs)
    return preset


def recommendation(name: str, model: str | None, folder: str | None, rows: int | None) -> "Recommendation | None":
    """The measured settings "Recommended" takes for a file of `rows` rows and this model; None for
    the other presets, or before a file is loaded."""
    from bertstudio.recommend import recommend
    from bertstudio.ui.estimate import model_size

    if name != FITS_THE_DATA or not rows:
        return None
    parameters = model_size(model.strip(), _folder(model, folder)).total if model and model.strip() else None
    return recommend(rows, int(parameters) if parameters else None)


def _folder(model: str, folder: str | None) -> str | None:
    from bertstudio.models import resolve_model

    if folder is not None:
        return folder
    try:
        return resolve_model(model)
    except StudioError:  # the Tokenizer tab says what is wrong with the name
        return None


def labelled_rows(prepared: Any) -> int | None:
    """The rows a prepared file trains and validates on, which is what the measurements counted."""
    report = getattr(prepared, "report", None)
    return report.train_size + report.validation_size if report is not None else None


def rate_words(rate: float) -> str:
    """A learning rate as people write it: 5e-4, 3e-5, 2.5e-5."""
    mantissa, exponent = f"{rate:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def preset_help(model: str | None, folder: str | None = None, max_epochs: int | None = None,
                rows: int | None = None) -> str:
    """One line per preset naming the values it applies, made from those values so it cannot drift;
    with a file loaded, the reasons for "Recommended"'s values follow on their own line."""
    small = presets_for(model, folder) is SMALL_MODEL_PRESETS
    lines = []
    for name in PRESET_NAMES:
        values = preset_values(name, model, folder, max_epochs, rows)
        epochs = values["epochs"]
        stopping = ", early stopping on" if values.get("early_stopping_patience") else ""
        purpose = f"measured for {rows:,} rows" if name == FITS_THE_DATA and rows else PRESET_PURPOSE[name]
        lines.append(f"**{name}**: {epochs} epoch{'s' if epochs != 1 else ''}{stopping}, learning rate "
                     f"{rate_words(values['learning_rate'])}, batch {values['batch_size']} — {purpose}")
    model_words = ("a small model like this one learns at about ten times BERT's rate" if small
                   else "BERT-sized models learn at the BERT paper's rates")
    text = " · ".join(lines) + f" *(The values follow the model on the Tokenizer tab: {model_words}.)*"
    advice = recommendation(FITS_THE_DATA, model, folder, rows)
    if advice is None:
        return text + f" *{FITS_THE_DATA} follows your file once the Data tab has loaded one.*"
    if max_epochs is not None and advice.epochs > max_epochs:
        reasons = advice.explain() + [f"This demo allows at most {max_epochs} epochs, so it trains {max_epochs}."]
    else:
        reasons = advice.explain()
    return text + f"\n\n**Why {FITS_THE_DATA} sets these for your file:** " + " ".join(reasons)


# --- handlers ------------------------------------------------------------------------------------

def apply_preset(form: "ConfigForm", name: str, model: str | None = None,
                 max_epochs: int | None = None, rows: int | None = None) -> list[Any]:
    """Widget values for `preset_controls`: the preset's settings for `model` and a file of `rows`
    rows (epochs within `max_epochs`); the settings this preset does not name are left untouched."""
    preset = preset_values(name, model, max_epochs=max_epochs, rows=rows)
    updates = form.updates_for(TrainConfig().replace(**preset), names=set(preset))
    governed = preset_controls(form)
    return [update for control, update in zip(form.controls, updates) if control in governed]


def preset_controls(form: "ConfigForm") -> list[FieldControl]:
    """The controls a preset may set, in form order: the outputs of a preset and of a new model.
    Never the model itself, whose change re-applies the preset: an event must not feed its own
    trigger."""
    names = governed_settings()
    return [control for control in form.controls if control.name in names]


def preset_buttons(selected: str | None) -> list[Any]:
    """The preset buttons with only the preset the form still equals highlighted."""
    return [gr.update(variant="primary" if name == selected else "secondary") for name in PRESET_NAMES]


def governed_settings() -> set[str]:
    """Every setting some preset sets: editing one by hand leaves the preset."""
    return {name for presets in (BERT_PRESETS, SMALL_MODEL_PRESETS) for preset in presets.values()
            for name in preset}


def choose_preset(form: "ConfigForm", name: str, model: str | None, prepared: Any = None,
                  max_epochs: int | None = None) -> list[Any]:
    """Outputs: `preset_controls`, the learning-rate box and its problem, the selected preset,
    then the preset buttons."""
    rows = labelled_rows(prepared)
    rate = preset_values(name, model, max_epochs=max_epochs, rows=rows)["learning_rate"]
    return [*apply_preset(form, name, model, max_epochs, rows), rate, "", name, *preset_buttons(name)]


def follow_model(form: "ConfigForm", selected: str | None, model: str | None, prepared: Any = None,
                 *current: Any, max_epochs: int | None = None) -> list[Any]:
    """A new model or a new file: the presets' text names their values, and a preset the form
    still equals is applied again for them. `current`: the `preset_controls`' widget values when
    the change happened; only the settings that change are sent, so a late answer (a file re-read
    with the same number of rows) cannot undo what a person typed meanwhile. Outputs:
    `preset_controls`, the learning-rate box and its problem, then the presets' text."""
    rows = labelled_rows(prepared)
    text = preset_help(model, max_epochs=max_epochs, rows=rows)
    keep = [gr.skip()] * (len(preset_controls(form)) + 2)
    if selected not in PRESET_NAMES:
        return keep + [text]
    updates = apply_preset(form, selected, model, max_epochs, rows)
    if current:
        updates = [gr.skip() if _shows(update, now) else update for update, now in zip(updates, current)]
    if all(update == gr.skip() for update in updates):
        return keep + [text]
    rate = preset_values(selected, model, max_epochs=max_epochs, rows=rows)["learning_rate"]
    return [*updates, rate, "", text]


def _shows(update: Any, value: Any) -> bool:
    """Whether a widget showing `value` already shows `update` (a plain widget value)."""
    if isinstance(update, dict):  # a gr.update with choices: always sent
        return False
    if isinstance(update, float) and isinstance(value, (int, float)):
        return abs(update - value) < 1e-9
    return update == value


def leave_preset() -> list[Any]:
    """Outputs: the selected preset (none), then the preset buttons."""
    return [None, *preset_buttons(None)]
