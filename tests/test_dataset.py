"""Tests for bertstudio.data.dataset: suggestion, labels, drops, split, report, fingerprint, summary."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import (
    ColumnChoice, load_examples_for_prediction, prepare_data, suggest_columns, suggest_text_column,
)
from bertstudio.data.summary import data_summary
from bertstudio.errors import StudioError
from bertstudio.data.tabular import Table, read_table
from bertstudio.tasks.labels import normalize_label, sort_labels

SHARED = Path(__file__).resolve().parents[2] / "shared"


def table_of(text: str, name: str = "data.csv") -> Table:
    return read_table(text.encode(), name=name)


def balanced(n_per_class: int = 10, labels: tuple[str, ...] = ("neg", "pos")) -> str:
    lines = ["id,text,label"]
    for i in range(n_per_class):
        for label in labels:
            lines.append(f"{len(lines)},a {label} text number {i},{label}")
    return "\n".join(lines) + "\n"


# --- column suggestion -----------------------------------------------------------------------


def test_suggestion_picks_named_label_and_longest_text_and_skips_ids():
    choice = suggest_columns(table_of(balanced()))
    assert choice == ColumnChoice(text="text", label="label", text_pair=None)


def test_suggestion_skips_id_like_integer_column_as_label_even_when_small():
    table = table_of("id,review,stars\n1,long text here,a\n2,more text here,b\n3,x y z w,a\n"
                     "4,another review,b\n")
    assert suggest_columns(table).label == "stars"


def test_suggestion_uses_few_valued_column_as_label_when_no_name_says_so():
    table = table_of("1,Wall St. Bears Claw Back,Short sellers are seeing green again\n"
                     "2,Sports roundup,The team won again on Sunday night\n"
                     "1,Markets slide,Stocks fell sharply in early trading\n"
                     "2,Cup final,A late goal settled the match\n")
    assert suggest_columns(table) == ColumnChoice(text="column_3", label="column_1")


def test_suggestion_prefers_text_names_and_sms_style_v1_v2():
    table = table_of("v1,v2,,,\nham,hello there friend,,,\nspam,WIN a prize now call,,,\n"
                     "ham,ok see you,,,\nspam,free entry text now,,,\n")
    assert suggest_columns(table) == ColumnChoice(text="v2", label="v1")


@pytest.mark.parametrize("first, second", [("sentence1", "sentence2"), ("question1", "question2"),
                                           ("#1 String", "#2 String"), ("premise", "hypothesis"),
                                           ("text_a", "text_b")])
def test_suggestion_finds_pair_columns_by_name(first, second):
    lines = [f"label,{first},{second}"] + [f"{i % 2},first text {i},second text {i}"
                                             for i in range(8)]
    choice = suggest_columns(table_of("\n".join(lines) + "\n"))
    assert choice == ColumnChoice(text=first, label="label", text_pair=second)


def test_two_long_text_columns_without_pair_names_give_no_pair():
    lines = ["label,title,body"] + [f"{i % 2},title {i},a much longer body text {i}"
                                    for i in range(8)]
    choice = suggest_columns(table_of("\n".join(lines) + "\n"))
    assert choice.text == "body" and choice.text_pair is None


def test_numbered_id_columns_are_not_taken_as_a_text_pair():
    lines = ["Quality,#1 ID,#2 ID,#1 String,#2 String"] + [
        f"{i % 2},{100 + i},{200 + i},first sentence {i},second sentence {i}" for i in range(8)]
    choice = suggest_columns(table_of("\n".join(lines) + "\n"))
    assert choice == ColumnChoice(text="#1 String", label="Quality", text_pair="#2 String")


def test_empty_trailing_columns_are_never_suggested():
    table = table_of("review,sentiment,C,D\ngreat film,positive,,\nawful film,negative,,\n"
                     "fine film,positive,,\nbad film,negative,,\n")
    assert suggest_columns(table) == ColumnChoice(text="review", label="sentiment")


def test_file_without_any_label_like_column_is_refused_with_advice():
    table = table_of("index,text\n1,alpha one\n2,beta two\n3,gamma three\n4,delta four\n")
    with pytest.raises(StudioError, match="choose the label column by name"):
        suggest_columns(table)


def test_the_text_column_is_suggested_even_when_no_column_looks_like_labels():
    table = table_of("index,text\n1,alpha one\n2,beta two\n3,gamma three\n4,delta four\n")
    assert suggest_text_column(table) == "text"
    assert suggest_text_column(table_of("a\n1\n2\n")) is None


def test_single_column_file_is_refused_for_suggestion():
    with pytest.raises(StudioError, match="only 1 column"):
        suggest_columns(table_of("text\nhello\nworld\n"))


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, name", [("1", "1"), ("1.0", "1"), (" 01 ", "1"), ("-0", "0"),
                                       ("2.50", "2.5"), ("1e1", "10"), (" pos ", "pos"),
                                       ("nan", "nan"), ("1_000", "1_000")])
def test_labels_are_trimmed_and_numbers_unified(raw, name):
    assert normalize_label(raw) == name


def test_label_map_sorts_numbers_numerically_and_words_alphabetically():
    assert sort_labels({"10", "2", "1"}) == ["1", "2", "10"]
    assert sort_labels({"b", "A", "c", "10"}) == ["10", "A", "b", "c"]


def test_numeric_labels_in_mixed_spellings_become_one_class():
    table = table_of("text,label\na,1\nb,1.0\nc, 1 \nd,0\ne,0.0\nf,0\n")
    data = prepare_data(TrainConfig(), table=table)
    assert data.labels == ["0", "1"]
    assert data.report.label_counts == {"0": 3, "1": 3}


def test_class_ids_follow_the_sorted_label_list():
    data = prepare_data(TrainConfig(validation_split=0.5), table=table_of(balanced(4)))
    assert data.labels == ["neg", "pos"]
    for texts, ids in ((data.train.texts, data.train.labels),
                       (data.validation.texts, data.validation.labels)):
        for text, class_id in zip(texts, ids):
            assert data.labels[class_id] in text


# --- drops and cleaning ----------------------------------------------------------------------


def test_rows_with_empty_text_or_label_are_dropped_and_counted_by_reason():
    table = table_of("text,label\n  good ,pos\n   ,neg\n,pos\nbad,\nok,  \nfine,neg\nmeh,pos\n"
                     "nice,neg\n")
    data = prepare_data(TrainConfig(), table=table)
    assert data.report.dropped == {"empty text": 2, "empty label": 2}
    assert data.report.rows_total == 8
    assert data.report.rows_kept == 4
    assert sorted(data.train.texts + data.validation.texts) == ["fine", "good", "meh", "nice"]


def test_empty_second_text_drops_the_row_when_a_pair_column_is_used():
    table = table_of("sentence1,sentence2,label\na,b,0\nc,,1\nd,e,1\nf,g,0\nh,i,1\n")
    data = prepare_data(TrainConfig(), table=table)
    assert data.columns.text_pair == "sentence2"
    assert data.report.dropped == {"empty second text": 1}
    assert data.train.pairs is not None and data.validation.pairs is not None


def test_cleaning_flags_are_applied_to_texts():
    table = table_of('text,label\n"Hi<br/>there  http://a.io",pos\nb,neg\nc,pos\nd,neg\n')
    config = TrainConfig(clean_strip_html=True, clean_replace_urls=True,
                         clean_collapse_whitespace=True, validation_split=0.5)
    data = prepare_data(config, table=table)
    assert "Hi there URL" in data.train.texts + data.validation.texts


def test_text_that_cleans_to_nothing_is_dropped_as_empty():
    table = table_of('text,label\n"<br/>",pos\nb,neg\nc,pos\nd,neg\ne,pos\n')
    data = prepare_data(TrainConfig(clean_strip_html=True), table=table)
    assert data.report.dropped == {"empty text": 1}


# --- refusals --------------------------------------------------------------------------------


def test_unknown_column_name_is_refused_listing_the_real_columns():
    with pytest.raises(StudioError, match="no column 'txt' in 'data.csv'.*'id', 'text', 'label'"):
        prepare_data(TrainConfig(text_column="txt"), table=table_of(balanced()))


def test_one_class_only_is_refused():
    table = table_of("text,label\na,pos\nb,pos\nc,pos\nd,pos\n")
    with pytest.raises(StudioError, match="only one label \\('pos'\\)"):
        prepare_data(TrainConfig(), table=table)


def test_class_with_a_single_row_is_refused_naming_it():
    table = table_of("text,label\na,pos\nb,pos\nc,neg\nd,neg\ne,odd\n")
    with pytest.raises(StudioError, match="'odd' in column 'label' has only 1 row") as info:
        prepare_data(TrainConfig(label_column="label"), table=table)
    assert "validation" in str(info.value)


def test_no_training_file_is_refused():
    with pytest.raises(StudioError, match="No training file"):
        prepare_data(TrainConfig())


def test_missing_training_file_is_refused_with_its_path(tmp_path):
    missing = tmp_path / "gone.csv"
    with pytest.raises(StudioError, match="gone.csv' does not exist"):
        prepare_data(TrainConfig(data=str(missing)))


def test_label_column_holding_free_text_is_refused():
    lines = ["text,note"] + [f"text {i},note {i}" for i in range(60)]
    with pytest.raises(StudioError, match="looks like text or an id"):
        prepare_data(TrainConfig(text_column="text", label_column="note"),
                     table=table_of("\n".join(lines) + "\n"))


# --- split -----------------------------------------------------------------------------------


def test_stratified_split_gives_every_class_training_and_validation_rows():
    table = table_of(balanced(2, ("a", "b", "c")) + "".join(f"9{i},z {i},a\n" for i in range(20)))
    data = prepare_data(TrainConfig(validation_split=0.1), table=table)
    assert set(data.report.validation_label_counts) == {"a", "b", "c"}
    assert set(data.report.train_label_counts) == {"a", "b", "c"}
    assert data.report.validation_label_counts["a"] == 2  # 10% of 22, rounded
    assert data.report.train_size + data.report.validation_size == data.report.rows_kept == 26


def test_split_is_the_same_for_a_seed_and_differs_for_another():
    table = table_of(balanced(20))
    first = prepare_data(TrainConfig(seed=1), table=table)
    again = prepare_data(TrainConfig(seed=1), table=table)
    other = prepare_data(TrainConfig(seed=2), table=table)
    assert first.validation.texts == again.validation.texts
    assert first.validation.texts != other.validation.texts


def test_train_and_validation_do_not_share_rows():
    data = prepare_data(TrainConfig(validation_split=0.3), table=table_of(balanced(10)))
    assert not set(data.train.texts) & set(data.validation.texts)
    assert data.report.overlap_train_validation == 0


def test_duplicates_and_train_validation_overlap_are_counted():
    lines = ["text,label"] + ["same,pos"] * 4 + ["other,neg", "other,neg", "third,neg"]
    data = prepare_data(TrainConfig(validation_split=0.5), table=table_of("\n".join(lines) + "\n"))
    assert data.report.duplicate_texts == 4  # 3 repeats of "same", 1 of "other"
    assert data.report.overlap_train_validation >= 1  # "same" must land on both sides


def test_max_rows_takes_a_seeded_sample_before_splitting():
    table = table_of(balanced(50))
    config = TrainConfig(max_rows=20, seed=7)
    data = prepare_data(config, table=table)
    assert data.report.rows_kept == 20
    assert data.report.sampled_out == 80
    assert data.report.train_size + data.report.validation_size == 20
    again = prepare_data(config, table=table)
    assert sorted(again.train.texts + again.validation.texts) == \
        sorted(data.train.texts + data.validation.texts)


# --- separate validation file ----------------------------------------------------------------


def test_separate_validation_file_is_used_as_is():
    train = table_of(balanced(5), name="train.csv")
    validation = table_of("id,text,label\n1,check pos,pos\n2,check neg,neg\n3,,pos\n",
                          name="dev.csv")
    data = prepare_data(TrainConfig(), table=train, validation_table=validation)
    assert data.report.train_size == 10
    assert data.validation.texts == ["check pos", "check neg"]
    assert data.validation.labels == [1, 0]
    assert data.report.validation_source == "dev.csv"
    assert data.report.validation_dropped == {"empty text": 1}


def test_validation_file_from_config_path_is_read(tmp_path):
    train_path, dev_path = tmp_path / "train.csv", tmp_path / "dev.csv"
    train_path.write_text(balanced(3))
    dev_path.write_text("text,label\nx,pos\ny,neg\n")
    data = prepare_data(TrainConfig(data=str(train_path), validation_data=str(dev_path)))
    assert data.validation.texts == ["x", "y"]


def test_validation_labels_unseen_in_training_are_refused_by_name():
    validation = table_of("text,label\nx,pos\ny,maybe\nz,unsure\n", name="dev.csv")
    with pytest.raises(StudioError, match="'maybe', 'unsure'"):
        prepare_data(TrainConfig(), table=table_of(balanced(3)), validation_table=validation)


def test_validation_file_missing_a_column_is_refused_naming_the_file():
    validation = table_of("sentence,label\nx,pos\ny,neg\n", name="dev.csv")
    with pytest.raises(StudioError, match="'dev.csv' has no column 'text'.*'sentence', 'label'"):
        prepare_data(TrainConfig(), table=table_of(balanced(3)), validation_table=validation)


def test_single_row_class_is_fine_with_a_separate_validation_file():
    train = table_of("text,label\na,pos\nb,pos\nc,neg\n")
    validation = table_of("text,label\nd,neg\n")
    data = prepare_data(TrainConfig(), table=train, validation_table=validation)
    assert data.report.train_label_counts == {"neg": 1, "pos": 2}


# --- report and fingerprint ------------------------------------------------------------------


def test_report_to_dict_is_json_ready_and_carries_file_facts():
    data = prepare_data(TrainConfig(), table=table_of(balanced(5)))
    report = json.loads(json.dumps(data.report.to_dict()))
    assert report["encoding"] == "utf-8" and report["delimiter"] == ","
    assert report["has_header"] is True
    assert report["label_counts"] == {"neg": 5, "pos": 5}
    assert report["rows_total"] == 10


def test_fingerprint_is_stable_and_changes_with_data_options():
    table = table_of(balanced(5))
    base = prepare_data(TrainConfig(), table=table).fingerprint
    assert base == prepare_data(TrainConfig(), table=table_of(balanced(5))).fingerprint
    assert len(base) == 64
    for change in ({"seed": 1}, {"validation_split": 0.2}, {"max_rows": 10},
                   {"clean_nfkc": True}, {"text_column": "id"}):
        assert prepare_data(TrainConfig(**change), table=table).fingerprint != base, change
    other_bytes = table_of(balanced(5) + "99,extra,pos\n")
    assert prepare_data(TrainConfig(), table=other_bytes).fingerprint != base


def test_fingerprint_ignores_settings_that_do_not_touch_the_data():
    table = table_of(balanced(5))
    assert prepare_data(TrainConfig(), table=table).fingerprint == \
        prepare_data(TrainConfig(learning_rate=1e-5, epochs=9), table=table).fingerprint


# --- summary for inspect, prediction loading -------------------------------------------------


def test_data_summary_reports_columns_rows_and_no_problems_for_good_data():
    summary = data_summary(table_of("text,label\na,pos\n,neg\nb,neg\nc,pos\nd,neg\n"))
    assert summary["suggested"] == {"text": "text", "label": "label", "text_pair": None}
    assert summary["rows"] == 4
    assert summary["dropped"] == {"empty text": 1}
    assert list(summary["labels"]) == ["neg", "pos"]
    assert summary["label_counts"] == {"neg": 2, "pos": 2}
    assert (summary["text_column"], summary["label_column"]) == ("text", "label")
    assert summary["problems"] == []
    json.dumps(summary)


def test_data_summary_lists_problems_instead_of_raising():
    summary = data_summary(table_of("text,label\na,pos\nb,pos\nc,neg\n"))
    assert len(summary["problems"]) == 1
    assert "'neg'" in summary["problems"][0]
    assert data_summary(table_of("text\nhello\nworld\n"))["problems"]


def test_data_summary_honours_chosen_columns_and_reports_unknown_ones():
    table = table_of(balanced(3))
    assert data_summary(table, ColumnChoice(text="text", label="id"))["problems"]
    bad = data_summary(table, ColumnChoice(text="nope", label="label"))
    assert "no column 'nope'" in bad["problems"][0]


def test_prediction_examples_keep_every_row_in_order():
    table = table_of("text,label\n  a ,x\n,y\nc,\n")
    texts, pairs = load_examples_for_prediction(table, "text")
    assert texts == ["a", "", "c"]
    assert pairs is None


# --- scale and real files --------------------------------------------------------------------


def test_two_hundred_thousand_row_file_loads_and_splits(tmp_path):
    rng = random.Random(0)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    labels = ("pos", "neg", "neu")
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("id,text,label\n")
        for i in range(200_000):
            text = " ".join(rng.choices(words, k=12))
            handle.write(f'{i},"{text}, row {i}",{labels[i % 3]}\n')
    data = prepare_data(TrainConfig(data=str(path)))
    assert data.columns == ColumnChoice(text="text", label="label")
    assert data.report.rows_total == 200_000
    assert data.report.train_size + data.report.validation_size == 200_000
    assert data.report.label_counts == {"neg": 66_667, "neu": 66_666, "pos": 66_667}
    assert abs(data.report.validation_size - 20_000) <= 3
    assert data.report.duplicate_texts == 0


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="shared data folder not present")
def test_real_sms_spam_suggests_v2_text_and_v1_label():
    table = read_table(SHARED / "data" / "sms_spam" / "spam.csv")
    assert suggest_columns(table) == ColumnChoice(text="v2", label="v1")
    data = prepare_data(TrainConfig(), table=table)
    assert data.report.label_counts == {"ham": 4825, "spam": 747}


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="shared data folder not present")
def test_real_mrpc_suggests_pair_columns_and_keeps_3668_rows():
    table = read_table(SHARED / "data" / "mrpc" / "train.tsv")
    assert suggest_columns(table) == ColumnChoice(text="#1 String", label="Quality",
                                                  text_pair="#2 String")
    data = prepare_data(TrainConfig(), table=table)
    assert data.report.rows_kept == 3668
    assert data.labels == ["0", "1"]
    assert data.report.label_counts == {"0": 1194, "1": 2474}


# --- too few rows (issue #8, item 18) -----------------------------------------------------------


@pytest.mark.parametrize("text", ["text,label\nhello there,pos\n", "msg,kind\nhello there,pos\n"])
def test_a_one_row_file_is_refused_for_its_rows_not_for_its_columns(text):
    table = table_of(text, name="one.csv")
    suggested = suggest_columns(table)  # nothing to judge by, but nothing wrong with the columns
    with pytest.raises(StudioError) as info:
        prepare_data(TrainConfig(), table=table)
    message = info.value.message
    assert message.startswith("'one.csv' has only 1 usable row") and "add rows" in message
    assert "looks like labels" not in message
    assert data_summary(table)["problems"] == [message]
    assert suggested.text != suggested.label


def test_a_file_too_small_for_two_labels_of_two_rows_says_so_with_its_counts():
    table = table_of("text,label\na,pos\nb,pos\nc,neg\n", name="three.csv")
    with pytest.raises(StudioError, match=r"'three\.csv' has only 3 usable rows \('neg' 1, 'pos' 2\); "
                                          "training needs at least two labels with 2 rows each"):
        prepare_data(TrainConfig(), table=table)


def test_one_row_per_label_is_enough_with_a_separate_validation_file_but_one_row_is_not():
    validation = table_of("text,label\nx,pos\ny,neg\n", name="dev.csv")
    data = prepare_data(TrainConfig(), table=table_of("text,label\na,pos\nb,neg\n"),
                        validation_table=validation)
    assert data.report.train_size == 2
    with pytest.raises(StudioError, match="has only 1 usable row"):
        prepare_data(TrainConfig(), table=table_of("text,label\na,pos\n"), validation_table=validation)


# --- duplicates, mojibake, spilled text, HTML (issue #8, item 23) -------------------------------


def duplicated() -> Table:
    lines = ["text,label", "win a prize,spam", "hello mum,ham", "win a prize,spam", " win a prize ,ham",
             "see you,ham", "call me,ham", "free entry,spam", "claim now,spam", "hello mum,ham"]
    return table_of("\n".join(lines) + "\n", name="dups.csv")


def test_duplicates_are_named_with_the_control_that_removes_them_when_it_is_off():
    data = prepare_data(TrainConfig(), table=duplicated())
    assert data.report.duplicate_texts == 3
    [sentence] = [f for f in data.report.findings if "duplicate" in f.lower()]
    assert "3 rows repeat an earlier text" in sentence and "1 of them with a different label" in sentence
    assert "'Remove duplicate texts'" in sentence and "first" in sentence


def test_remove_duplicates_keeps_the_first_copy_and_counts_the_rest_as_dropped():
    data = prepare_data(TrainConfig(remove_duplicates=True), table=duplicated())
    report = data.report
    assert report.dropped == {"duplicate text": 3} and report.rows_kept == 6
    assert report.duplicate_texts == 0 and report.overlap_train_validation == 0
    texts = data.train.texts + data.validation.texts
    assert sorted(texts) == sorted(set(texts))
    prize = data.labels[(data.train.labels + data.validation.labels)[texts.index("win a prize")]]
    assert prize == "spam"  # the first copy's label, not the later 'ham'
    assert not [f for f in report.findings if "repeat an earlier text" in f]
    assert prepare_data(TrainConfig(), table=duplicated()).fingerprint != data.fingerprint


def test_remove_duplicates_also_drops_validation_rows_that_are_in_training():
    train = table_of("text,label\na,pos\nb,neg\nc,pos\nd,neg\n", name="train.csv")
    validation = table_of("text,label\na,pos\nz,neg\nz,neg\ny,pos\n", name="dev.csv")
    data = prepare_data(TrainConfig(remove_duplicates=True), table=train, validation_table=validation)
    assert data.validation.texts == ["z", "y"]
    assert data.report.validation_dropped == {"duplicate text": 1, "text also in training": 1}
    assert data.report.overlap_train_validation == 0


def garbled() -> Table:
    rows = ["text,label", "WINNER! claim a å£900 prize,spam", "cafÃ© tonight?,ham", "ok see you,ham",
            "free å£5 entry,spam", "call me,ham", "win big,spam"]
    return table_of("\n".join(rows) + "\n", name="garbled.csv")


def test_mojibake_is_named_with_a_count_an_example_and_the_repair_option():
    data = prepare_data(TrainConfig(), table=garbled())
    [sentence] = [f for f in data.report.findings if "garbled" in f]
    assert sentence.startswith("3 rows have garbled characters")
    assert "å£900" in sentence and "£900" in sentence and "'Repair garbled characters'" in sentence
    repaired = prepare_data(TrainConfig(clean_fix_mojibake=True), table=garbled())
    assert "WINNER! claim a £900 prize" in repaired.train.texts + repaired.validation.texts
    assert not [f for f in repaired.report.findings if "'Repair garbled characters'" in f]


def spilled() -> Table:
    rows = ["label,text,,"] + [f"{'ham' if i % 2 else 'spam'},message number {i},," for i in range(8)]
    rows.insert(4, "spam,call now, win a prize, today")
    return table_of("\n".join(rows) + "\n", name="spill.csv")


def test_text_spilled_into_unnamed_columns_is_named_with_its_rows_columns_and_advice():
    table = spilled()
    assert table.columns == ["label", "text", "column_3", "column_4"]
    data = prepare_data(TrainConfig(), table=table)
    [sentence] = [f for f in data.report.findings if "column_3" in f]
    assert sentence.startswith("1 row has text in column_3 and column_4")
    assert "row 4" in sentence and "'text'" in sentence and "quote" in sentence
    assert data_summary(table)["warnings"] == data.report.findings


def test_mostly_empty_named_columns_with_a_few_values_count_as_spilled_too():
    rows = ["review,sentiment,C,D"] + [f"film {i},{'ab'[i % 2]},," for i in range(20)] + ["bad film,a,really,"]
    data = prepare_data(TrainConfig(), table=table_of("\n".join(rows) + "\n"))
    assert [f for f in data.report.findings if "row 21" in f and "'C'" in f]


def test_html_entities_and_tags_point_to_the_strip_html_option_until_it_is_on():
    rows = ["text,label", "a &lt;b&gt; tag,x", "line<br />break,y", "plain,x", "plain too,y",
            "5 < 6 and 7 > 3,x"]
    table = table_of("\n".join(rows) + "\n")
    [sentence] = [f for f in prepare_data(TrainConfig(), table=table).report.findings if "HTML" in f]
    assert sentence.startswith("2 rows hold HTML") and "'Strip HTML tags'" in sentence
    assert "&lt;b&gt;" in sentence
    assert not [f for f in prepare_data(TrainConfig(clean_strip_html=True), table=table).report.findings
                if "HTML" in f]


def test_a_clean_file_has_no_findings():
    assert prepare_data(TrainConfig(), table=table_of(balanced(5))).report.findings == []
    assert data_summary(table_of(balanced(5)))["warnings"] == []


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="shared data folder not present")
def test_real_sms_spam_report_names_mojibake_spill_html_and_duplicates():
    table = read_table(SHARED / "data" / "sms_spam" / "spam.csv")
    findings = prepare_data(TrainConfig(), table=table).report.findings
    text = " ".join(findings)
    assert "garbled" in text and "å£" in text and "HTML" in text and "column_3" in text
    # 403 byte-for-byte repeats (the README's count) and 11 that differ only in edge spaces
    assert "414 rows repeat an earlier text" in text
    cleaned = prepare_data(TrainConfig(remove_duplicates=True, clean_fix_mojibake=True), table=table)
    # ... and, once repaired, one whose copies were garbled two different ways ("‰ÛÏ", "åÒ")
    assert cleaned.report.dropped == {"duplicate text": 415}
    assert cleaned.report.rows_kept == 5572 - 415


def test_rejoin_spilled_text_puts_the_pieces_back_with_the_delimiter_and_says_so():
    data = prepare_data(TrainConfig(rejoin_spilled_text=True), table=spilled())
    texts = data.train.texts + data.validation.texts
    assert "call now, win a prize, today" in texts and "call now" not in texts
    assert [f for f in data.report.findings if f.startswith("Text spilled into column_3 and column_4 "
                                                            "was rejoined in 1 row")]
    assert prepare_data(TrainConfig(), table=spilled()).fingerprint != data.fingerprint


def test_the_spill_sentence_offers_rejoining_only_when_the_pieces_follow_the_text_column():
    [offer] = [f for f in prepare_data(TrainConfig(), table=spilled()).report.findings if "column_3" in f]
    assert "'Rejoin spilled text'" in offer
    rows = ["text,label,,"] + [f"message {i},{'ab'[i % 2]},," for i in range(8)] + ["call now, win,a,"]
    table = table_of("\n".join(rows) + "\n")
    [advice] = [f for f in data_summary(table)["warnings"] if "column_3" in f]
    assert "Rejoin spilled text" not in advice and "double quotes" in advice


def test_the_resolved_task_rides_on_the_prepared_data_and_only_a_new_task_changes_the_fingerprint():
    rows = "text,tags\n" + "".join(f"text {i},{tags}\n" for i, tags in
                                   enumerate(["a|b", "b", "a", "a|c", "c", "b|c"] * 4))
    table = table_of(rows)
    auto = prepare_data(TrainConfig(), table=table)
    assert auto.task == "multi_label" and auto.separator == "|" and auto.detection.task == "multi_label"
    assert auto.labels == auto.space.names == ["a", "b", "c"]
    assert prepare_data(TrainConfig(task="multi_label"), table=table).fingerprint == auto.fingerprint
    single = prepare_data(TrainConfig(task="single_label"), table=table)
    assert single.task == "single_label" and single.labels == ["a", "a|b", "a|c", "b", "b|c", "c"]
    assert single.fingerprint != auto.fingerprint


@pytest.mark.parametrize("module", ["bertstudio.tasks.base", "bertstudio.tasks.labels", "bertstudio.tasks.single_label",
                                    "bertstudio.tasks.regression", "bertstudio.tasks.detect"])
def test_the_tasks_load_without_the_data_package_which_depends_on_them(module):
    import subprocess
    import sys

    # A fresh interpreter: this test process has long imported both packages.
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.startswith('bertstudio.data')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- Excel: the sheet to read ----------------------------------------------------------------------


def _workbook(path: Path, *sheets: tuple[str, list[list]]) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _labelled(word_a: str, word_b: str, n: int = 10) -> list[list]:
    return [["text", "label"]] + [[f"{w} thing {i}", w] for i in range(n) for w in (word_a, word_b)]


def test_the_sheet_setting_reads_that_sheet_and_a_sheetless_validation_file_its_first(tmp_path):
    data = _workbook(tmp_path / "book.xlsx", ("notes", [["just a note"]]), ("train", _labelled("cat", "dog")))
    other = _workbook(tmp_path / "val.xlsx", ("Sheet1", _labelled("cat", "dog", 3)))
    same = _workbook(tmp_path / "val2.xlsx", ("Sheet1", [["x", "y"]]), ("train", _labelled("cat", "dog", 2)))
    prepared = prepare_data(TrainConfig(data=str(data), sheet="train"))
    assert prepared.labels == ["cat", "dog"] and prepared.report.rows_total == 20
    # The validation workbook without a 'train' sheet is read from its first; with one, from that.
    assert prepare_data(TrainConfig(data=str(data), sheet="train", validation_data=str(other))).report.validation_size == 6
    assert prepare_data(TrainConfig(data=str(data), sheet="train", validation_data=str(same))).report.validation_size == 4


def test_a_sheet_the_workbook_lacks_or_a_csv_with_a_sheet_is_one_plain_sentence(tmp_path):
    data = _workbook(tmp_path / "book.xlsx", ("first", _labelled("cat", "dog")), ("second", _labelled("a", "b")))
    with pytest.raises(StudioError, match="no sheet 'third'; its sheets are: .*first.*second"):
        prepare_data(TrainConfig(data=str(data), sheet="third"))
    plain = tmp_path / "plain.csv"
    plain.write_text("text,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(10)), encoding="utf-8")
    with pytest.raises(StudioError, match="'plain.csv' is a text table, not an Excel workbook, so it has no sheet 'x'"):
        prepare_data(TrainConfig(data=str(plain), sheet="x"))


def test_the_fingerprint_tells_the_sheets_apart_and_naming_the_first_changes_nothing(tmp_path):
    data = _workbook(tmp_path / "book.xlsx", ("first", _labelled("cat", "dog")), ("second", _labelled("cat", "dog")))
    unnamed = prepare_data(TrainConfig(data=str(data))).fingerprint
    assert prepare_data(TrainConfig(data=str(data), sheet="first")).fingerprint == unnamed
    assert prepare_data(TrainConfig(data=str(data), sheet="second")).fingerprint != unnamed
