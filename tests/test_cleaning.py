"""Tests for bertstudio.data.cleaning: each optional step, and that only trimming runs by default."""

from __future__ import annotations

import pytest

from bertstudio.data.cleaning import CleaningOptions, clean_text, clean_texts, fix_mojibake
from bertstudio.config import TrainConfig


def test_default_options_only_trim_and_keep_inner_spacing():
    options = CleaningOptions()
    assert options.only_trim
    assert clean_text("  two  spaces\tand <b>tags</b> http://x.io  ", options) == \
        "two  spaces\tand <b>tags</b> http://x.io"


def test_options_from_default_config_are_the_defaults():
    assert CleaningOptions.from_config(TrainConfig()) == CleaningOptions()


def test_options_from_config_follow_every_clean_flag():
    config = TrainConfig(clean_collapse_whitespace=True, clean_strip_html=True,
                         clean_replace_urls=True, clean_nfkc=True, clean_fix_mojibake=True)
    assert CleaningOptions.from_config(config) == CleaningOptions(
        collapse_whitespace=True, strip_html=True, replace_urls=True, nfkc=True, fix_mojibake=True)


def test_options_from_a_run_folders_settings_follow_every_clean_flag_and_default_when_missing():
    config = TrainConfig(clean_strip_html=True, clean_fix_mojibake=True)
    assert CleaningOptions.from_settings(config.to_dict()) == CleaningOptions.from_config(config)
    assert CleaningOptions.from_settings({"clean_nfkc": True}) == CleaningOptions(nfkc=True)
    assert CleaningOptions.from_settings(None) == CleaningOptions()


@pytest.mark.parametrize("garbled, repaired", [
    ("cafÃ© crÃ¨me", "café crème"),                      # UTF-8 read as cp1252
    ("Donâ€™t stop", "Don’t stop"),
    # UTF-8 read as cp1252, saved as Mac Roman by an old Mac program, read as cp1252 again:
    # the Kaggle SMS spam file's "å£" for "£" and "‰Û÷" for "‘".
    ("receive a å£900 prize", "receive a £900 prize"),
    ("I‰Û÷m going", "I‘m going"),
])
def test_fix_mojibake_repairs_text_decoded_with_the_wrong_encoding(garbled, repaired):
    assert fix_mojibake(garbled) == repaired
    assert clean_text(garbled, CleaningOptions(fix_mojibake=True)) == repaired


@pytest.mark.parametrize("text", [
    "Très bon café, naïve résumé, £5 — ok", "Ärger über Öl in Åre", "Ñandú ¿qué? ¡sí!",
    "Δ and ∑ in ⅓ of 5 °C", "emoji 😀 and “curly” quotes", "&lt;b&gt; stays an entity", "plain ascii",
])
def test_fix_mojibake_leaves_correct_text_alone(text):
    assert fix_mojibake(text) == text


def test_fix_mojibake_runs_before_html_so_entities_in_garbled_text_are_decoded_too():
    options = CleaningOptions(fix_mojibake=True, strip_html=True)
    assert clean_text("å£5 &amp; more", options) == "£5 & more"
    assert not options.only_trim


def test_collapse_whitespace_turns_runs_of_spaces_tabs_and_newlines_into_one_space():
    options = CleaningOptions(collapse_whitespace=True)
    assert clean_text("a  b\t\tc\r\n\nd", options) == "a b c d"


def test_strip_html_turns_br_into_space_and_unescapes_entities():
    options = CleaningOptions(strip_html=True)
    assert clean_text("Great film.<br /><br />Loved it &amp; more", options) == \
        "Great film.  Loved it & more"
    assert clean_text("<p>one</p><p>two</p>", options) == "one  two"


def test_strip_html_removes_inline_tags_without_gluing_or_splitting_words():
    options = CleaningOptions(strip_html=True)
    assert clean_text('a <b>bold</b> <a href="x">link</a>', options) == "a bold link"
    assert clean_text("un<i>believ</i>able", options) == "unbelievable"


def test_strip_html_keeps_comparisons_that_only_look_like_brackets():
    options = CleaningOptions(strip_html=True)
    assert clean_text("if a < b and c > d", options) == "if a < b and c > d"


def test_escaped_tags_become_visible_text_not_removed():
    options = CleaningOptions(strip_html=True)
    assert clean_text("write &lt;b&gt; for bold", options) == "write <b> for bold"


def test_replace_urls_keeps_the_sentence_punctuation_after_the_address():
    options = CleaningOptions(replace_urls=True)
    assert clean_text("see https://example.com/a?b=1. Or www.test.org, ok", options) == \
        "see URL. Or URL, ok"
    assert clean_text("(ftp://files.net/x)", options) == "(URL)"


def test_replace_urls_leaves_plain_words_alone():
    options = CleaningOptions(replace_urls=True)
    assert clean_text("the www is http a protocol", options) == "the www is http a protocol"


def test_nfkc_folds_full_width_letters_and_ligatures():
    options = CleaningOptions(nfkc=True)
    assert clean_text("ＡＢＣ ﬁne ①", options) == "ABC fine 1"


def test_nfkc_runs_before_url_replacement_so_full_width_urls_are_found():
    options = CleaningOptions(nfkc=True, replace_urls=True)
    assert clean_text("ｈｔｔｐｓ://ｘ.ｃｏｍ now", options) == "URL now"


def test_clean_texts_matches_clean_text_for_each_item():
    texts = [" a ", "<br>b  c", "d"]
    for options in (CleaningOptions(), CleaningOptions(strip_html=True, collapse_whitespace=True)):
        assert clean_texts(texts, options) == [clean_text(t, options) for t in texts]
