"""Tokenizer tab handlers: works without a dataset, measures one when loaded, browses longest rows."""

import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import prepare_data
from bertstudio.data.tabular import read_table
from bertstudio.ui import tokenizer_tab
from bertstudio.ui.session import SessionObjects


@pytest.fixture
def objects():
    made = SessionObjects()
    yield made
    made.close()


@pytest.fixture
def prepared():
    rows = ["text,label"] + [f"{'word ' * (i + 1)}end,{'ab'[i % 2]}" for i in range(20)]
    table = read_table("\n".join(rows).encode(), name="d.csv")
    return prepare_data(TrainConfig(data="d.csv"), table)


def test_the_tokenizer_check_works_with_no_dataset(objects, tiny_model_dir):
    chips, ids, about, problem = tokenizer_tab.show_tokens(objects, str(tiny_model_dir), "Hello <b>world</b>", "",
                                                          32, "start")
    assert problem == "" and "tok-special" in chips and "<b>" not in chips
    assert ids["data"][0][1] == "[CLS]" and ids["data"][-1][1] == "[SEP]"


def test_the_tokenizer_is_loaded_once_per_session(objects, tiny_model_dir):
    tokenizer_tab.show_tokens(objects, str(tiny_model_dir), "one", "", 32, "start")
    first = objects.tokenizer
    tokenizer_tab.show_tokens(objects, str(tiny_model_dir), "two", "", 32, "start")
    assert objects.tokenizer is first


def test_a_model_that_cannot_load_is_explained_beside_the_picker(objects, tmp_path):
    *_, problem = tokenizer_tab.show_tokens(objects, str(tmp_path / "nowhere" / "model"), "hi", "", 32, "start")
    assert "There is no folder" in problem and "Traceback" not in problem


def test_dataset_lengths_follow_the_max_length_slider(objects, tiny_model_dir, prepared):
    rows, chart, facts, button, slider = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 8)
    assert rows.stats.count == 20 and slider["maximum"] == 20
    assert "are cut" in facts and button["visible"] is True
    _, short_facts, _ = tokenizer_tab.length_view(rows, 8)
    _, long_facts, button = tokenizer_tab.length_view(rows, 64)
    assert short_facts.startswith("**") and "0.0% of rows are cut" in long_facts
    assert tokenizer_tab.suggested_length(rows) == rows.stats.suggested_max_length


def test_browsing_starts_with_the_longest_row(objects, tiny_model_dir, prepared):
    rows, *_ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 16)
    first = tokenizer_tab.show_row(objects, rows, 1, 16, "start")
    last = tokenizer_tab.show_row(objects, rows, 20, 16, "start")
    assert f"{rows.stats.max:,} tokens" in first and "tok-cut" in first
    assert "tok-cut" not in last


def test_without_a_dataset_the_measure_section_explains_itself(objects, tiny_model_dir):
    rows, chart, facts, button, _ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), None, 128)
    assert rows is None and "Load a dataset" in facts and button["visible"] is False


def test_a_shared_demo_refuses_models_off_its_list_and_local_folders(objects, tiny_model_dir):
    import html

    from bertstudio.hosting import HostingSettings

    hosting = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MODELS": "bundled"})
    for name in (str(tiny_model_dir), "/etc", "bert-base-uncased"):
        chips, _, _, problem = tokenizer_tab.show_tokens(objects, name, "hello", "", 32, "start", None, hosting)
        assert chips == "" and "offers only these models: bundled" in html.unescape(problem)
    assert objects.tokenizer is None  # nothing was loaded from the folder
    chips, _, _, problem = tokenizer_tab.show_tokens(objects, "bundled", "hello", "", 32, "start", None, hosting)
    assert problem == "" and "tok-special" in chips


def test_a_shared_demos_model_picker_offers_only_its_list_and_no_typing():
    import gradio as gr

    with gr.Blocks():
        tab = tokenizer_tab.build("bert-base-uncased", ("bundled", "prajjwal1/bert-tiny"))
    picker = tab.model.component
    assert [value for _, value in picker.choices] == ["bundled", "prajjwal1/bert-tiny"]
    assert picker.allow_custom_value is False and picker.value == "bundled"


def test_a_long_text_shows_its_first_tokens_and_says_how_many_more_there_are(objects, tiny_model_dir):
    import html

    from bertstudio.text.token_preview import SHOWN_TOKENS

    text = "word " * 5000
    chips, ids, _, problem = tokenizer_tab.show_tokens(objects, str(tiny_model_dir), text, "", 64, "head_tail")
    assert problem == ""
    listed = len(ids["data"])
    assert SHOWN_TOKENS < listed <= SHOWN_TOKENS + 64 and ids["data"][-1][0] > listed  # positions of the whole text
    summary = html.unescape(chips)
    assert f"the first {SHOWN_TOKENS:,} tokens are shown" in summary and "more are not shown" in summary
    assert "more tokens …" in summary  # the gap is marked where it is


def test_a_shared_demo_refuses_a_text_past_its_character_limit_with_the_limit_named(objects, tiny_model_dir):
    import html

    from bertstudio.hosting import HostingSettings

    hosting = HostingSettings(hosted=True, max_text_chars=100, models=(str(tiny_model_dir),))
    chips, _, _, problem = tokenizer_tab.show_tokens(objects, str(tiny_model_dir), "x" * 101, "", 32, "start",
                                                     None, hosting)
    assert chips == "" and "The text is 101 characters long, more than the 100" in html.unescape(problem)
    *_, problem = tokenizer_tab.show_tokens(objects, str(tiny_model_dir), "hello", "y" * 101, 32, "start",
                                            None, hosting)
    assert "The second text is 101 characters long" in html.unescape(problem)


def test_long_html_reviews_get_what_stays_cut_at_the_models_limit_and_what_to_do(objects, tiny_model_dir):
    long_review = "a fine film<br /><br />with a long middle " + "and more words " * 300 + "so I loved it"
    rows = ["text,label"] + [f'"{long_review}",{"ab"[i % 2]}' for i in range(6)] + [
        f"short text {i},{'ab'[i % 2]}" for i in range(14)]
    table = read_table("\n".join(rows).encode(), name="reviews.csv")
    prepared = prepare_data(TrainConfig(data="reviews.csv"), table)
    rows_state, _, facts, *_ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 512)
    assert rows_state.stats.model_max_length == 512 and rows_state.stats.model_cut_share == 0.3
    assert "**Suggested max length: 512**, as long as this model reads" in facts
    assert "Even at its limit of 512 tokens **30.0% of rows stay cut**, losing" in facts
    assert "covers" not in facts  # no claim that it covers 95% of rows
    assert "**head_tail**" in facts and "**Strip HTML tags**" in facts and "30% of rows hold HTML" in facts


# --- masking preview -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def guessing_model(tmp_path_factory):
    from masked_lm_support import save_tiny_masked_lm

    return save_tiny_masked_lm(tmp_path_factory.mktemp("run") / "model", favourite="film")


def test_the_masking_preview_shows_a_training_row_and_says_a_headless_model_cannot_guess(objects, tiny_model_dir,
                                                                                          prepared):
    rows, *_ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 32)
    view, guesses = tokenizer_tab.show_masking(objects, str(tiny_model_dir), rows, [0, 0], "", 32, "start", {})
    assert "saved without its word-guessing head" in guesses and "<code>bertstudio pretrain</code>" in guesses
    assert "fm-guess" not in guesses  # no noise shown as guesses
    assert f"of {len(prepared.train.texts):,}" in view and "tok-mask" in view and "[MASK]¹" in view
    assert "tok-special" in view  # drawn on the tab's own chips


def test_a_model_with_its_head_guesses_every_mask(objects, guessing_model, prepared):
    rows, *_ = tokenizer_tab.measure_dataset(objects, str(guessing_model), prepared, 32)
    view, guesses = tokenizer_tab.show_masking(objects, str(guessing_model), rows, [3, 3], "film film film film",
                                               32, "start", {"mlm_probability": 0.5})
    assert "word-guessing head" not in guesses and "Your text" in view
    masks = view.count('tok-mask" title=')  # the chips, not the legend
    assert masks >= 1 and guesses.count("<tr>") == masks + 1  # a header, then one row per [MASK]
    assert guesses.count("fm-hit") == masks and f"right for <b>{masks}</b> of {masks}" in guesses


def test_another_row_draws_a_new_row_and_mask_again_keeps_the_row(objects, tiny_model_dir, prepared):
    rows, *_ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 32)
    draw = [0, 0]
    titles = set()
    for _ in range(8):
        draw, own_text = tokenizer_tab.another_row(draw)
        assert own_text == ""  # a text typed in the box gives way to the row
        titles.add(tokenizer_tab.pick_text(rows, draw[0])[1])
    assert len(titles) > 3
    again = tokenizer_tab.mask_again(draw)
    assert again[0] == draw[0] and again[1] != draw[1]
    views = {tokenizer_tab.show_masking(objects, str(tiny_model_dir), rows, [draw[0], seed], "", 32, "start",
                                        {"mlm_probability": 0.5})[0] for seed in range(4)}
    assert len(views) > 1 and len({view.split("</div>")[0] for view in views}) == 1  # one row, other masks


def test_validation_rows_are_never_picked_for_the_preview(objects, tiny_model_dir, prepared):
    rows, *_ = tokenizer_tab.measure_dataset(objects, str(tiny_model_dir), prepared, 32)
    picked = {tokenizer_tab.pick_text(rows, draw)[0] for draw in range(300)}
    assert picked == set(prepared.train.texts) and not picked & set(prepared.validation.texts)


def test_a_pairs_two_texts_are_masked_one_at_a_time_as_pretraining_reads_them():
    rows = tokenizer_tab.TokenizedRows(model="m", texts=["a1", "b1"], pairs=["a2", "b2"], stats=None, order=[0, 1],
                                       train_count=1)
    assert {tokenizer_tab.pick_text(rows, draw)[0] for draw in range(50)} == {"a1", "a2"}


def test_the_preview_masks_with_the_forms_settings_and_an_example_without_data(objects, tiny_model_dir):
    view, _ = tokenizer_tab.show_masking(objects, str(tiny_model_dir), None, [0, 0], "", 64, "start",
                                         {"mlm_probability": 0.5, "whole_word_masking": True})
    assert "hides 50% of the tokens (whole words)" in view and "An example sentence" in view
    view, _ = tokenizer_tab.show_masking(objects, str(tiny_model_dir), None, [0, 0], "", 64, "start", {})
    assert "hides 15% of the tokens:" in view  # TrainConfig's defaults without controls on the page


def test_the_masking_preview_on_a_shared_demo_refuses_models_off_its_list(objects, tiny_model_dir):
    import html

    from bertstudio.hosting import HostingSettings

    hosting = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MODELS": "bundled"})
    view, guesses = tokenizer_tab.show_masking(objects, str(tiny_model_dir), None, [0, 0], "", 32, "start", {},
                                               None, hosting)
    assert "offers only these models: bundled" in html.unescape(view) and guesses == ""


def test_the_masking_settings_are_found_among_the_forms_controls():
    import gradio as gr

    from bertstudio.ui.form import make_control

    with gr.Blocks():
        controls = [make_control(name) for name in ("learning_rate", "mlm_probability", "whole_word_masking")]
    assert [c.name for c in tokenizer_tab.masking_controls(controls)] == ["mlm_probability", "whole_word_masking"]


def test_the_model_picker_is_refreshed_on_page_load_and_when_the_tokenizer_tab_opens(tmp_path, monkeypatch):
    """Its list holds the adapted runs, which change as pretraining runs end (see test_model_choices)."""
    from bertstudio.models import CURATED_MODELS
    from bertstudio.ui.app import AppSettings, build_app
    from bertstudio.worker import JobManager

    demo = build_app(AppSettings(runs_dir=tmp_path), JobManager())
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in demo.config["components"]}
    triggers = {tuple(target) for dep in demo.config["dependencies"] if ids["cfg-model"] in dep["outputs"]
                for target in dep["targets"]}
    assert (ids["tab-tokenizer"], "select") in triggers
    assert any(event == "load" for _, event in triggers)
    assert tokenizer_tab.model_choices() == [(name, name) for name, _ in CURATED_MODELS]
