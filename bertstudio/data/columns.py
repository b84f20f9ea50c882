"""Which columns hold the text, the second text and the labels.

Suggestion judges each column by an evenly spread sample (filled, distinct, numeric, id-like,
mean length) and by its name; `complete_choice` fills only what the user left empty. A file with
too few rows to judge gets a suggestion by name, so the problem it is told is its rows. Label
names and their order are the tasks' (`tasks/labels.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bertstudio.errors import StudioError
from bertstudio.data.tabular import Table
from bertstudio.tasks.labels import MAX_LABELS, MIN_ROWS_TO_SPLIT, normalize_label

_SUGGEST_SAMPLE_ROWS = 20_000  # enough to judge a column's kind; keeps suggestion fast on big files
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")

_LABEL_NAMES = frozenset({
    "label", "labels", "class", "classes", "category", "categories", "sentiment", "target", "y",
    "v1", "quality", "gold_label", "polarity", "emotion", "intent", "topic", "tag", "stance",
    "rating", "stars", "is_spam", "spam", "toxic", "fine_label", "coarse_label", "label_id",
})
# Names of a number to predict (a score, a rating on a scale): a column so named is the label even
# when its many distinct values could not be classes (regression).
_SCORE_NAMES = frozenset({
    "score", "scores", "similarity", "similarity_score", "relatedness", "relatedness_score",
    "gold_score", "value", "grade", "price", "rating_score",
})
# Names of row numbers and ids: never a score, however numeric.
_ID_NAME = re.compile(r"(?:^|_)(?:id|idx|index|row|no|num|number)$|^(?:id|idx|index)_")
_TEXT_NAMES = frozenset({
    "text", "texts", "sentence", "review", "message", "content", "question", "v2", "body",
    "comment", "tweet", "document", "description", "utterance", "query", "abstract", "headline",
    "sms", "email", "post", "statement", "phrase", "review_text", "comment_text",
})
# Pairs that no naming rule finds; numbered (sentence1/sentence2, "#1 String"/"#2 String") and
# lettered (text_a/text_b) names are recognised by `_names_pair`.
_PAIR_NAMES = frozenset({("premise", "hypothesis"), ("question", "passage"), ("query", "passage"),
                         ("question", "context"), ("claim", "evidence")})


@dataclass(frozen=True)
class ColumnChoice:
    text: str
    label: str
    text_pair: str | None = None
    label_columns: tuple[str, ...] | None = None  # several 0/1 columns, one per tag (multi_label)



# --- column suggestion -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Stats:
    name: str
    filled: int          # non-empty cells
    distinct: int        # distinct non-empty values
    mean_length: float   # over non-empty cells
    numeric: bool        # every non-empty cell is a number
    id_like: bool        # every non-empty cell is a different integer
    fractional: bool = False  # numeric, and some cell is not a whole number ("3.8")


def _column_stats(table: Table) -> tuple[list[_Stats], int]:
    """Per-column statistics over an evenly spread sample of rows, and the sample's size.

    Spread, not the first rows: a file sorted by label would show only one class at the top.
    """
    step = -(-len(table.rows) // _SUGGEST_SAMPLE_ROWS)
    sample = table.rows[::step] if step > 1 else table.rows
    stats = []
    for index, name in enumerate(table.columns):
        values = [v for v in (row[index].strip() for row in sample) if v]
        distinct = set(values)
        numeric = bool(values) and all(_PLAIN_NUMBER.fullmatch(v) for v in distinct)
        id_like = (numeric and len(distinct) == len(values) > 1
                   and all(_INTEGER.fullmatch(v) for v in distinct))
        if numeric and len(distinct) <= 10 * MAX_LABELS:
            distinct = {normalize_label(v) for v in distinct}  # "1" and "1.0" are one class
        fractional = numeric and any(not _INTEGER.fullmatch(v) and _has_fraction(v) for v in distinct)
        mean = sum(map(len, values)) / len(values) if values else 0.0
        stats.append(_Stats(name, len(values), len(distinct), mean, numeric, id_like, fractional))
    return stats, len(sample)


def _has_fraction(number: str) -> bool:
    try:
        value = Decimal(number)
        return value != value.to_integral_value()
    except (InvalidOperation, ArithmeticError):
        return False


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _is_label_candidate(s: _Stats, rows: int) -> bool:
    if s.id_like or s.filled * 2 < rows or not 2 <= s.distinct <= MAX_LABELS:
        return False
    # "Far fewer than rows": a column where half the rows are unique is text or an id. A column
    # named like labels needs only some repeats, so tiny files still get a suggestion.
    return s.distinct * 2 <= s.filled or (_key(s.name) in _LABEL_NAMES and s.distinct < s.filled)


def _is_score_candidate(s: _Stats, rows: int) -> bool:
    """A number to predict (regression): fractional or many-valued, filled, not a row number."""
    if not s.numeric or s.id_like or s.filled * 2 < rows or s.distinct < 3:
        return False
    if _ID_NAME.search(_key(s.name)):
        return False
    return s.fractional or s.distinct > MAX_LABELS


def _label_named(s: _Stats) -> bool:
    return _key(s.name) in _LABEL_NAMES or _key(s.name) in _SCORE_NAMES


def _is_text_candidate(s: _Stats, rows: int) -> bool:
    return s.filled * 2 >= rows and not s.numeric


def suggest_columns(table: Table) -> ColumnChoice:
    """A best guess at the text, label and (for sentence-pair files) second-text columns."""
    return complete_choice(table)


def complete_choice(table: Table, text: str | None = None, label: str | None = None,
                     text_pair: str | None = None, pair_given: bool = False,
                     label_columns: tuple[str, ...] | None = None) -> ColumnChoice:
    """Fill the columns the user left empty with suggestions that avoid the ones they chose.

    With `label_columns` (several 0/1 columns, one per tag) there is no single label column:
    `label` stays empty and only the text columns are suggested."""
    stats, rows = _column_stats(table)
    usable = [s for s in stats if s.filled]
    if label_columns:
        label = label or ""
    if len(usable) < 2 and not (text and (label or label_columns)):
        count = f"{len(usable)} column{'' if len(usable) == 1 else 's'}"
        raise StudioError(f"'{table.name}' has only {count} with data; a classifier needs a text "
                          "column and a label column.")
    taken = {c for c in (text, label, text_pair, *(label_columns or ())) if c}

    if label is None:
        free = [s for s in usable if s.name not in taken]
        classes = [s for s in free if _is_label_candidate(s, rows)]
        scores = [s for s in free if _is_score_candidate(s, rows) and s not in classes]
        candidates = classes + scores
        if candidates:
            # Named like labels first; then classes before scores, fewest values first. A score
            # column wins over classes only by its name ("score" over "genre" in STS-B).
            best = max(candidates, key=lambda s: (_label_named(s), s in classes, -s.distinct,
                                                  -s.mean_length))
        else:
            # Too many values to be classes, but repeated (multi-label ids like "3,17"): offer it
            # so the user sees a choice, and the problems list explains what is wrong with it.
            pool = [s for s in free if not s.id_like and s.distinct * 2 <= s.filled]
            if not pool and rows < MIN_ROWS_TO_SPLIT:
                # Too few rows to judge any column, and too few to train: suggest by name and
                # let the problems say the rows are missing, not that the columns are wrong.
                pool = [s for s in free if _is_label_candidate(s, rows) or not s.id_like]
            if not pool:
                raise StudioError(f"No column in '{table.name}' looks like labels (a few values "
                                  "repeated over many rows); choose the label column by name.")
            best = min(pool, key=lambda s: (_key(s.name) not in _LABEL_NAMES, s.distinct,
                                            s.mean_length))
        label = best.name
        taken.add(label)

    if text is None:
        pair = None if pair_given else _suggest_pair(usable, taken, rows)
        if pair:
            text, text_pair = pair
        else:
            free = [s for s in usable if s.name not in taken]
            text = _best_text(free, rows) or _best_text(free, rows, any_kind=True)
            if text is None:
                raise StudioError(f"'{table.name}' has no column left for the text; choose the "
                                  "text column by name.")
    elif text_pair is None and not pair_given:
        pair = _suggest_pair(usable, taken - {text}, rows)
        if pair and pair[0] == text:
            text_pair = pair[1]
    return ColumnChoice(text=text, label=label, text_pair=text_pair,
                        label_columns=tuple(label_columns) if label_columns else None)


def _best_text(stats: list[_Stats], rows: int, any_kind: bool = False) -> str | None:
    """The column named like text, else the one with the longest values; only text-like columns
    (filled, not numbers) unless `any_kind`."""
    pool = stats if any_kind else [s for s in stats if _is_text_candidate(s, rows)]
    if not pool:
        return None
    return max(pool, key=lambda s: (_key(s.name) in _TEXT_NAMES, s.mean_length)).name


def suggest_text_column(table: Table) -> str | None:
    """The text column alone, for a file whose labels cannot be suggested: the pickers then start
    from the likely text, and the user only has to name the labels."""
    stats, rows = _column_stats(table)
    return _best_text([s for s in stats if s.filled], rows)


def _suggest_pair(stats: list[_Stats], taken: set[str], rows: int) -> tuple[str, str] | None:
    """Two text columns whose names say they are a pair (sentence1/sentence2, premise/...)."""
    texts = [s for s in stats if s.name not in taken and _is_text_candidate(s, rows)]
    pairs = [(a, b) for a in texts for b in texts
             if a is not b and _names_pair(_key(a.name), _key(b.name))]
    if not pairs:
        return None
    # The longest pair: STS-B's sentence1/sentence2, not its short source1/source2 tags.
    first, second = max(pairs, key=lambda p: p[0].mean_length + p[1].mean_length)
    return first.name, second.name


def _names_pair(first: str, second: str) -> bool:
    """Numbered ("sentence1"/"sentence2", "#1_string"/"#2_string"), lettered ("text_a"/"text_b")
    or known ("premise"/"hypothesis") pairs of normalised names."""
    if (first, second) in _PAIR_NAMES:
        return True
    if len(first) != len(second) or len(first) < 2:
        return False
    differ = [(a, b) for a, b in zip(first, second) if a != b]
    if differ == [("1", "2")]:
        return True
    return first[:-1] == second[:-1] and first[-2:] == "_a" and second[-2:] == "_b"
