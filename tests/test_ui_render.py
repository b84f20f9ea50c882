"""Markdown and HTML for the tabs: user text is always escaped; chips show what the tokenizer did."""

import pytest
from transformers import BertTokenizerFast

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import prepare_data
from bertstudio.data.tabular import read_table
from bertstudio.text.token_preview import preview
from bertstudio.ui import render
from bertstudio.ui.history import TrainHistory

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "play", "##ing", "##ed", "<", ">", "/", "script", "alert", "(", ")",
         "1", "a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    vocab = tmp_path_factory.mktemp("tok") / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + WORDS) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(vocab))


def test_user_text_never_becomes_html_in_the_chips(tok):
    html = render.token_chips(preview(tok, '<script>alert(1)</script> "quoted" & more', max_length=64))
    assert "<script" not in html and "&lt;" in html
    assert '"quoted"' not in html


def test_chips_glue_word_pieces_and_set_special_tokens_apart(tok):
    html = render.token_chips(preview(tok, "the cat playing", max_length=32))
    assert '<span class="tok tok-special"' in html
    # "play" and "##ing" sit in one word group, with the continuation marked.
    assert '>play</span><span class="tok tok-cont"' in html


def test_unknown_words_are_flagged(tok):
    result = preview(tok, "the zebra sat", max_length=32)
    html = render.token_chips(result)
    assert "tok-unk" in html and "1 [UNK]" in html


def test_truncation_shows_a_cut_and_greys_the_dropped_tokens(tok):
    html = render.token_chips(preview(tok, "the cat sat on the mat the cat", max_length=6, truncation="start"))
    assert html.count("tok-cut") == 1 and "tok-dropped" in html
    assert html.index("tok-cut") < html.index("tok-dropped")
    assert "6 of 10 tokens kept" in html


def test_second_text_of_a_pair_is_tinted_and_carries_segment_one(tok):
    result = preview(tok, "the cat", "the mat", max_length=32)
    assert "tok-b" in render.token_chips(result)
    rows = render.token_table(result)
    assert [row[3] for row in rows][-1] == 1 and rows[0][5] == "special"


def test_markdown_escape_keeps_markup_out():
    text = render.md_escape("**bold** <b>x</b> [link](http://e.com)")
    assert "<b>" not in text and "\\*\\*bold" in text and "\\[link\\]" in text


def test_problem_box_escapes_the_message_and_is_empty_when_all_is_well():
    assert render.problem(None) == "" and render.problem("") == ""
    box = render.problem("Column '<img src=x>' is empty; choose another.")
    assert "<img" not in box and 'class="problem"' in box


def test_file_facts_name_the_detected_encoding_and_delimiter():
    table = read_table("text;label\ncafé;a\nthé;b\n".encode("cp1252"), name="x.csv")
    facts = render.file_facts(table)
    assert "cp1252" in facts and "semicolon" in facts and "2 rows" in facts


def test_data_report_counts_drops_duplicates_and_leaks():
    rows = ["text,label"] + [f"row {i},{'ab'[i % 2]}" for i in range(20)] + ["row 1,b", "row 3,b", ",a", "lonely,"]
    table = read_table("\n".join(rows).encode(), name="d.csv")
    prepared = prepare_data(TrainConfig(data="d.csv", validation_split=0.5, seed=1), table)
    report = render.data_report(prepared.report)
    assert "1 row with empty text" in report and "1 row with empty label" in report
    assert "2 rows repeat an earlier text" in report


def test_an_uneven_label_column_is_told_to_watch_the_macro_f1():
    rows = ["text,label"] + [f"common {i},a" for i in range(30)] + [f"rare {i},b" for i in range(4)]
    table = read_table("\n".join(rows).encode(), name="d.csv")
    report = render.data_report(prepare_data(TrainConfig(data="d.csv", seed=1), table).report)
    assert "stratified by label" in report and "The labels are unbalanced" in report


def test_a_number_target_is_split_by_value_range_and_has_no_class_balance():
    from bertstudio.tasks.registry import get_task

    # Most rows at one value: as classes this would be "unbalanced", as numbers it is a histogram.
    rows = ["text,score"] + [f"row {i},{5 if i % 10 else i / 10:.1f}" for i in range(40)]
    table = read_table("\n".join(rows).encode(), name="s.csv")
    prepared = prepare_data(TrainConfig(data="s.csv", task="regression", seed=1), table)
    report = render.data_report(prepared.report, get_task(prepared.task))
    assert "stratified by value range" in report and "stratified by label" not in report
    assert "unbalanced" not in report and "macro F1" not in report


def test_rare_tags_are_weighed_against_the_micro_f1_not_accuracy():
    from bertstudio.tasks.registry import get_task

    rows = ["text,tags"] + [f"row {i},\"a{',b' if i % 15 == 0 else ''}\"" for i in range(60)]
    table = read_table("\n".join(rows).encode(), name="t.csv")
    prepared = prepare_data(TrainConfig(data="t.csv", task="multi_label", seed=1), table)
    report = render.data_report(prepared.report, get_task(prepared.task))
    assert "every label has rows on both sides" in report and "stratified by label" not in report
    assert "Some labels are rare (the most common is on 60 rows, the rarest on 4)" in report
    assert "micro F1" in report and "accuracy" not in report


def test_file_facts_of_a_workbook_or_json_name_the_format_not_a_delimiter():
    from openpyxl import Workbook
    import io

    book = Workbook()
    book.active.title = "Reviews"
    for row in [["text", "label"], ["good", "pos"], ["bad", "neg"]]:
        book.active.append(row)
    raw = io.BytesIO()
    book.save(raw)
    facts = render.file_facts(read_table(raw.getvalue(), name="r.xlsx"))
    assert "**Format:** Excel workbook, sheet 'Reviews'" in facts and "Delimiter" not in facts
    assert "Header row:** yes" in facts and "2 rows" in facts
    lines = b'{"text": "good", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'
    facts = render.file_facts(read_table(lines, name="r.jsonl"))
    assert "**Format:** JSON Lines" in facts and "Delimiter" not in facts and "Encoding" not in facts


def test_waiting_run_explains_its_place_in_line():
    html = render.progress_html(TrainHistory(), position=2)
    assert "number 2" in html and "one model at a time" in html


def test_failed_run_shows_the_engines_sentence_escaped():
    html = render.progress_html(TrainHistory(), position=None, job_message="No column '<x>'; pick one.")
    assert "did not start" in html and "&lt;x&gt;" in html


def test_a_finished_run_that_learned_nothing_says_so_under_its_bar_escaped():
    from bertstudio.events import Finished, Started

    history = TrainHistory().add([
        Started(run_id="r", run_dir="d", config={}, labels=["<a>", "b"], train_size=8, validation_size=2,
                total_steps=2, steps_per_epoch=2, device="cpu", precision="no"),
        Finished(run_dir="d", metrics={}, steps=2, elapsed_seconds=1.0, warning="The model predicts '<a>' always.")])
    html = render.progress_html(history)
    assert "<b>Finished</b>" in html and 'class="problem learned-nothing" role="alert"' in html
    assert "The model learned nothing useful.</b> The model predicts &#x27;&lt;a&gt;&#x27; always." in html
    assert history.log[-1].endswith("Warning: The model predicts '<a>' always.")
    history.ending = Finished(run_dir="d", metrics={}, steps=2, elapsed_seconds=1.0)
    assert "<b>Finished</b>" in render.progress_html(history) and "learned" not in render.progress_html(history)


def test_the_hosted_banner_and_the_queue_line_say_what_applies_as_plain_text():
    from bertstudio.ui.history import TrainHistory
    from bertstudio.ui.render import hosted_banner, progress_html, wait_words

    banner = hosted_banner(["files up to 10 MB", "<b>x</b>"])
    assert "shared public demo" in banner and "<li>files up to 10 MB</li>" in banner and "&lt;b&gt;x" in banner
    waiting = progress_html(TrainHistory(), position=3, wait_seconds=7 * 60)
    assert "number 3" in waiting and "3 trainings are ahead" in waiting and "in about 7 minutes" in waiting
    assert "Expected start" not in progress_html(TrainHistory(), position=1)
    assert [wait_words(s) for s in (20, 70, 3 * 3600)] == ["in under a minute", "in about 1 minute",
                                                           "in about 3.0 hours"]


def _running(eta_seconds, logged_at):
    from bertstudio.events import Started, Step

    history = TrainHistory()
    history.add([Started(run_id="r", run_dir="/x", config={}, labels=["a", "b"], train_size=10, validation_size=4,
                         total_steps=100, steps_per_epoch=50, device="cpu", precision="no"),
                 Step(step=20, total_steps=100, epoch=0.4, loss=0.5, learning_rate=1e-5, grad_norm=None,
                      samples_per_second=8.0, tokens_per_second=80.0, elapsed_seconds=60.0,
                      eta_seconds=eta_seconds, time=logged_at)])
    return history


def test_the_time_left_is_measured_and_counts_down_between_logged_steps():
    history = _running(eta_seconds=240.0, logged_at=1000.0)
    assert "about 4m00s left (measured)" in render.progress_html(history, now=1000.0)
    # 90 s later, still no new step logged: the figure is not the stale 4 minutes.
    later = render.progress_html(history, now=1090.0)
    assert "about 2m30s left (measured)" in later and "4m00s" not in later
    overdue = render.progress_html(history, now=1300.0)  # 4 minutes gone and 80 steps still to go
    assert "slower than measured" in overdue and "left (measured)" not in overdue
    assert "measuring the time left" in render.progress_html(_running(None, 1000.0), now=1000.0)


def test_before_the_first_step_no_time_is_promised():
    from bertstudio.events import Started

    history = TrainHistory().add([Started(run_id="r", run_dir="/x", config={}, labels=["a"], train_size=10,
                                          validation_size=4, total_steps=100, steps_per_epoch=50, device="cpu",
                                          precision="no")])
    text = render.progress_html(history)
    assert "measured from them" in text and "about" not in text
