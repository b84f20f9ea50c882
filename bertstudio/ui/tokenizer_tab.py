"""Step 2, Tokenizer: pick a model, see texts as WordPiece chips, measure the dataset's token lengths, and
see one of the user's rows masked as pretraining masks it, with the model's guesses for each [MASK]."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import charts, masking_view, render
from bertstudio.ui.form import FieldControl, make_control
from bertstudio.ui.model_choices import model_choices, model_description  # noqa: F401  (the picker's list)

if TYPE_CHECKING:
    from bertstudio.data.dataset import PreparedData
    from bertstudio.hosting import HostingSettings
    from bertstudio.text.tokenization import LengthStats
    from bertstudio.ui.session import SessionObjects

EXAMPLE_TEXT = "The delivery was unbelievably quick, but the café's croissants arrived squashed."
HISTOGRAM_BINS = 40
NO_MASKING_YET = ("<p>Load a dataset on the Data tab to see one of its rows masked, or press "
                  "<b>Another row</b> for an example sentence.</p>")
MASKING_SETTINGS = ("mlm_probability", "whole_word_masking")  # read from the form where a tab has them


@dataclass
class TokenizedRows:
    """The loaded dataset's rows as the length statistics saw them (same order), per visitor."""

    model: str
    texts: list[str]
    pairs: list[str] | None
    stats: "LengthStats"
    order: list[int]  # row indices, longest first
    train_count: int | None = None  # the first rows are the training rows (all of them when None)


@dataclass
class TokenizerTab:
    model: FieldControl
    model_about: gr.Markdown
    model_problem: gr.HTML
    text: gr.Textbox
    pair: gr.Textbox
    max_length: FieldControl
    truncation: FieldControl
    chips: gr.HTML
    ids: gr.Dataframe
    length_chart: gr.Plot
    length_facts: gr.Markdown
    apply_suggested: gr.Button
    row_rank: gr.Slider
    row_chips: gr.HTML
    rows: gr.State
    mask_another: gr.Button
    mask_again: gr.Button
    mask_text: gr.Textbox
    mask_view: gr.HTML
    mask_guesses: gr.HTML
    mask_draw: gr.State  # [row draw, mask seed]: which row is shown and how it is masked

    @property
    def controls(self) -> list[FieldControl]:
        return [self.model, self.max_length, self.truncation]


def build(default_model: str, allowed_models: tuple[str, ...] | None = None) -> TokenizerTab:
    """`allowed_models` (a shared deployment's list) replaces the curated list and forbids typing
    any other model id or a folder."""
    gr.Markdown("BERT reads text as WordPiece tokens. Check how your texts are cut into pieces and how "
                "many tokens they take, before you train.", elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            spec_help = ("Pick from the list or type a Hugging Face model id or a local folder. "
                         "'bundled' works offline." if allowed_models is None else
                         "The models this shared demo offers. 'bundled' is the quickest.")
            if allowed_models is not None and default_model not in allowed_models:
                default_model = allowed_models[0]
            model = FieldControl("model", gr.Dropdown(choices=model_choices(allowed_models), value=default_model,
                                                      allow_custom_value=allowed_models is None, label="Model",
                                                      info=spec_help, elem_id="cfg-model"))
            model_about = gr.Markdown(model_description(default_model), elem_id="tok-model-about")
            model_problem = gr.HTML(elem_id="tok-model-problem")
            max_length = make_control("max_length", elem_id="cfg-max_length")
            truncation = make_control("truncation")
        with gr.Column(scale=3, min_width=300):
            text = gr.Textbox(value=EXAMPLE_TEXT, label="Text", lines=3, elem_id="tok-text")
            pair = gr.Textbox(label="Second text (optional, for sentence pairs)", lines=1, elem_id="tok-pair")
            chips = gr.HTML(elem_id="tok-chips")
            with gr.Accordion("Token ids", open=False):
                ids = gr.Dataframe(headers=render.TOKEN_TABLE_HEADERS, interactive=False, max_height=300,
                                   elem_id="tok-ids")
    gr.Markdown("### Your dataset through this tokenizer")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            length_chart = gr.Plot(charts.length_histogram_figure([], [], 128), show_label=False,
                                   elem_id="tok-lengths")
        with gr.Column(scale=2, min_width=300):
            length_facts = gr.Markdown("Load a dataset on the Data tab to measure its token lengths. "
                                       "The tokenizer check above works without one.", elem_id="tok-length-facts")
            apply_suggested = gr.Button("Use the suggested max length", visible=False, elem_id="tok-apply")
    with gr.Accordion("Browse rows through the tokenizer (longest first)", open=False):
        row_rank = gr.Slider(1, 2, value=1, step=1, label="Row, by length rank (1 = longest)",
                             elem_id="tok-row-rank")
        row_chips = gr.HTML(elem_id="tok-row-chips")
    masking = _build_masking()
    return TokenizerTab(model=model, model_about=model_about, model_problem=model_problem, text=text, pair=pair,
                        max_length=max_length, truncation=truncation, chips=chips, ids=ids,
                        length_chart=length_chart, length_facts=length_facts, apply_suggested=apply_suggested,
                        row_rank=row_rank, row_chips=row_chips, rows=gr.State(None), **masking)


def _build_masking() -> dict[str, Any]:
    gr.Markdown("### Masking preview: what continued pretraining asks of the model")
    gr.Markdown("Adapting a model to your texts hides some of their tokens and trains it to guess them back. "
                "Here is one of your training rows masked that way, and what the model now guesses for each "
                "[MASK].", elem_classes="tab-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            with gr.Row():
                another = gr.Button("Another row", size="sm", elem_id="tok-mask-another")
                again = gr.Button("Mask again", size="sm", elem_id="tok-mask-again")
            view = gr.HTML(NO_MASKING_YET, css_template=masking_view.CSS, elem_id="tok-mask-view")
            own = gr.Textbox(label="Or mask a text of your own (optional; Enter to mask it)", lines=1,
                             elem_id="tok-mask-text")
        with gr.Column(scale=2, min_width=300):
            gr.Markdown("#### The model's guesses for each [MASK]")
            guesses = gr.HTML(css_template=masking_view.CSS, elem_id="tok-mask-guesses")
    return dict(mask_another=another, mask_again=again, mask_text=own, mask_view=view, mask_guesses=guesses,
                mask_draw=gr.State([0, 0]))


# --- handlers ------------------------------------------------------------------------------------

def tokenizer_for(objects: "SessionObjects", model: str, progress: Any = None,
                  hosting: "HostingSettings | None" = None):
    """The visitor's tokenizer for `model`, loaded once (loading can take seconds); on a shared
    deployment only an allowed model, whatever name the page sent."""
    from bertstudio.models import load_tokenizer

    model = (model or "").strip()
    if not model:
        raise StudioError("Pick a model from the list, or type 'bundled'.")
    if hosting is not None:
        hosting.check_model(model)
    if objects.tokenizer_name != model:
        if progress is not None:
            progress(0.1, desc=f"Loading the tokenizer of {model}…")
        objects.tokenizer, objects.tokenizer_name = load_tokenizer(model), model
    return objects.tokenizer


def show_tokens(objects: "SessionObjects", model: str, text: str, pair: str, max_length: int,
                truncation: str, progress: Any = None, hosting: "HostingSettings | None" = None
                ) -> tuple[Any, Any, str, str]:
    """Outputs: the chips, the ids table, the model description, the problem beside the model picker."""
    from bertstudio.limits import MAX_TEXT_CHARS
    from bertstudio.text.token_preview import preview

    about = model_description(model)
    try:
        tokenizer = tokenizer_for(objects, model, progress, hosting)
        result = preview(tokenizer, text or "", pair or None, max_length=int(max_length), truncation=truncation,
                         max_chars=hosting.text_limit if hosting is not None else MAX_TEXT_CHARS)
    except StudioError as exc:
        return "", None, about, render.problem(exc.message)
    table = {"headers": render.TOKEN_TABLE_HEADERS, "data": render.token_table(result)}
    return render.token_chips(result), table, about, ""


def measure_dataset(objects: "SessionObjects", model: str, prepared: "PreparedData | None", max_length: int,
                    progress: Any = None, hosting: "HostingSettings | None" = None) -> tuple[Any, ...]:
    """Token lengths of every training and validation row. Outputs: rows state, chart, facts,
    apply button, row slider."""
    from bertstudio.text.tokenization import length_stats

    if prepared is None:
        return (None, charts.length_histogram_figure([], [], int(max_length)),
                "Load a dataset on the Data tab to measure its token lengths. The tokenizer check above "
                "works without one.", gr.update(visible=False), gr.update(maximum=2, value=1))
    texts = prepared.train.texts + prepared.validation.texts
    pairs = (prepared.train.pairs + prepared.validation.pairs) if prepared.train.pairs is not None else None
    try:
        tokenizer = tokenizer_for(objects, model, progress, hosting)
        if progress is not None:
            progress(0.5, desc=f"Measuring the token length of {len(texts):,} rows…")
        stats = length_stats(tokenizer, texts, pairs, max_length=int(max_length))
    except StudioError as exc:
        return (None, charts.length_histogram_figure([], [], int(max_length)), render.problem(exc.message),
                gr.update(visible=False), gr.update(maximum=2, value=1))
    rows = TokenizedRows(model=model, texts=texts, pairs=pairs, stats=stats, order=stats.rows_by_length(),
                         train_count=len(prepared.train.texts))
    chart, facts, button = length_view(rows, max_length)
    return rows, chart, facts, button, gr.update(minimum=1, maximum=max(2, len(texts)), value=1)


def length_view(rows: TokenizedRows | None, max_length: int) -> tuple[Any, str, Any]:
    """The histogram and numbers for the current max length: cheap, so it follows the slider live."""
    if rows is None:
        return gr.skip(), gr.skip(), gr.skip()
    stats = rows.stats
    edges, counts = stats.histogram(bins=_bins(stats))
    chart = charts.length_histogram_figure(edges, counts, int(max_length), stats.suggested_max_length)
    suggested = stats.suggested_max_length
    return (chart, render.length_summary(stats, int(max_length)),
            gr.update(visible=suggested != int(max_length), value=f"Use the suggested max length ({suggested})"))


def _bins(stats: "LengthStats") -> Any:
    """One bar per token count when the lengths span few values, else HISTOGRAM_BINS even bins."""
    low, high = int(stats.lengths.min()), int(stats.lengths.max())
    if high - low < 2 * HISTOGRAM_BINS:
        return [edge - 0.5 for edge in range(low, high + 2)]
    return HISTOGRAM_BINS


def suggested_length(rows: TokenizedRows | None) -> Any:
    return gr.skip() if rows is None else rows.stats.suggested_max_length


def show_row(objects: "SessionObjects", rows: TokenizedRows | None, rank: int, max_length: int,
             truncation: str) -> str:
    """The rank-th longest row of the dataset as chips, with the current max length and truncation."""
    from bertstudio.text.token_preview import preview

    if rows is None or not rows.order:
        return ""
    index = rows.order[min(max(int(rank), 1), len(rows.order)) - 1]
    try:
        tokenizer = tokenizer_for(objects, rows.model)
        result = preview(tokenizer, rows.texts[index], rows.pairs[index] if rows.pairs is not None else None,
                         max_length=int(max_length), truncation=truncation)
    except StudioError as exc:
        return render.problem(exc.message)
    return (f'<div class="tok-row-title">Row {index + 1:,} of the loaded data · '
            f'{rows.stats.lengths[index]:,} tokens</div>' + render.token_chips(result))


# --- masking preview -----------------------------------------------------------------------------

def masking_controls(controls: "list[FieldControl]") -> "list[FieldControl]":
    """The form's controls for the masking settings, where a tab has made them (the preview then
    follows them); a setting without one masks with TrainConfig's default."""
    return [control for control in controls if control.name in MASKING_SETTINGS]


def another_row(draw: list[int]) -> tuple[list[int], str]:
    """The next row, newly masked; the own-text box is emptied, as a typed text would hide the row."""
    return [int(draw[0]) + 1, int(draw[1]) + 1], ""


def mask_again(draw: list[int]) -> list[int]:
    return [int(draw[0]), int(draw[1]) + 1]


def pick_text(rows: TokenizedRows | None, row_draw: int) -> tuple[str, str] | None:
    """(text, title) of one training text, drawn at random by `row_draw`, or None without rows.

    Training rows only: pretraining never reads the rows fine-tuning validates on. A pair's two
    texts are two texts, as pretraining reads them."""
    import random

    if rows is None:
        return None
    count = len(rows.texts) if rows.train_count is None else rows.train_count
    per_row = 1 if rows.pairs is None else 2
    if count == 0:
        return None
    pick = random.Random(int(row_draw)).randrange(count * per_row)
    index, second = divmod(pick, per_row)
    text = rows.pairs[index] if second else rows.texts[index]
    which = " (its second text)" if second else ""
    return text, f"Training row {index + 1:,} of {count:,}{which}"


def show_masking(objects: "SessionObjects", model: str, rows: TokenizedRows | None, draw: list[int], own_text: str,
                 max_length: int, truncation: str, settings: dict[str, Any], progress: Any = None,
                 hosting: "HostingSettings | None" = None) -> tuple[str, str]:
    """One text masked with the masking settings, and the model's guesses. Outputs: the masked
    row (what it is, how it was masked, the chips), the guesses (or why there are none)."""
    from bertstudio.config import TrainConfig
    from bertstudio.limits import MAX_TEXT_CHARS
    from bertstudio.text.fill_mask import NO_HEAD, load_masked_lm, mask_text, top_guesses

    defaults = TrainConfig()
    probability = float(settings.get("mlm_probability", defaults.mlm_probability))
    whole_words = bool(settings.get("whole_word_masking", defaults.whole_word_masking))
    row_draw, seed = (int(value) for value in (draw or [0, 0]))
    picked = pick_text(rows, row_draw)
    if (own_text or "").strip():
        text, title = own_text, "Your text"
    elif picked is not None:
        text, title = picked
    else:
        text, title = EXAMPLE_TEXT, "An example sentence (load a dataset on the Data tab to see your own rows)"
    try:
        tokenizer = tokenizer_for(objects, model, progress, hosting)
        preview = mask_text(tokenizer, text, probability=probability, whole_words=whole_words, seed=seed,
                            max_length=int(max_length), truncation=truncation,
                            max_chars=hosting.text_limit if hosting is not None else MAX_TEXT_CHARS)
    except StudioError as exc:
        return render.problem(exc.message), ""
    view = (f'<div class="tok-row-title">{html.escape(title)}</div>' + masking_view.masking_facts(preview)
            + masking_view.masked_chips(preview))
    try:
        if progress is not None:
            progress(0.6, desc=f"Loading {model} to guess the hidden words…")
        mlm = load_masked_lm(model)
    except StudioError as exc:
        return view, render.problem(exc.message)
    if not mlm.has_head:  # the masking is still worth seeing: it is what adapting the model trains on
        return view, masking_view.warning(NO_HEAD)
    return view, masking_view.guesses_table(preview, top_guesses(mlm, tokenizer, preview))
