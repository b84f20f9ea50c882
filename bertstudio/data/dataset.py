"""`Table` + columns to `PreparedData`: labels, drop reasons, duplicates, split, report, fingerprint.

Pure functions with the seed passed in: the same file, columns and settings always give the same
examples, split and fingerprint. User mistakes (a missing column, one class only, a class too small
to split) are refused with a StudioError naming what to change; `data_summary` (summary.py) reports
the same problems as sentences instead, for `bertstudio inspect`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bertstudio.data import quality
from bertstudio.data.cleaning import CleaningOptions, clean_texts
# Column suggestion lives in columns.py; imported here by name, so callers of
# `bertstudio.data.dataset` keep finding it where it always was (label names: tasks/labels.py).
from bertstudio.data.columns import (  # noqa: F401
    ColumnChoice, complete_choice, suggest_columns, suggest_text_column,
)
from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.data.tabular import Table, read_table
from bertstudio.tasks.base import Dropped, Task, TargetSpace
from bertstudio.tasks.detect import detect_task
from bertstudio.tasks.registry import DEFAULT_TASK, get_task


@dataclass
class Examples:
    texts: list[str]
    pairs: list[str] | None  # the second texts, when a pair column is used
    labels: list[Any]        # targets as the task encodes them: class ids (index into
    #                          PreparedData.labels), multi-hot rows, or standardised values

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class DataReport:
    """What happened to the rows, for the UI's data tab, `inspect` and the run folder."""

    rows_total: int                    # data rows in the training file
    rows_kept: int                     # rows that go into training + validation
    dropped: dict[str, int]            # reason -> rows removed ("empty text", "empty label")
    label_counts: dict[str, int]       # over kept rows (the task's counts: per class, tag or value bin)
    duplicate_texts: int               # kept rows whose text (+pair) repeats an earlier one
    overlap_train_validation: int      # validation rows whose text (+pair) is also in training
    train_size: int
    validation_size: int
    train_label_counts: dict[str, int]
    validation_label_counts: dict[str, int]
    encoding: str
    delimiter: str
    has_header: bool
    notes: list[str] = field(default_factory=list)
    sampled_out: int = 0               # kept rows left out by the row limit (max_rows)
    validation_source: str = "split"   # "split" or the validation file's name
    validation_rows_total: int = 0     # data rows in the validation file, when there is one
    validation_dropped: dict[str, int] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)  # what a messy file needs (quality.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PreparedData:
    train: Examples
    validation: Examples
    labels: list[str]  # = space.names: sorted class names (index = class id), tags, or the target column
    columns: ColumnChoice
    report: DataReport
    fingerprint: str
    task: str = "single_label"        # the resolved task's name (never "auto")
    space: TargetSpace = field(default_factory=lambda: TargetSpace(names=[]))
    detection: Any = None             # tasks.detect.Detection: what the data looks like (None: no detect.py)
    separator: str | None = None      # between labels in one cell (multi_label), as used


# --- rows to examples ------------------------------------------------------------------------


@dataclass
class _Rows:
    """Usable rows of one table, with targets still as values (labels as names for single_label)."""

    texts: list[str]
    pairs: list[str] | None
    labels: list[Any]                  # the task's values (read_targets), one per kept row
    dropped: dict[str, int]
    total: int
    # The `Dropped` of the rows whose text was there but whose target was not usable; the task's
    # `problems` reads them ("the column holds words, not numbers").
    target_dropped: list[Dropped] = field(default_factory=list)


def target_columns(choice: ColumnChoice) -> tuple[str, ...]:
    """The columns that hold the targets: several 0/1 columns (multi_label), else the label column."""
    return tuple(getattr(choice, "label_columns", None) or ()) or (choice.label,)


def _target_name(choice: ColumnChoice) -> str:
    """The target column(s) as the sentences name them."""
    return "', '".join(target_columns(choice))


def _extract(table: Table, choice: ColumnChoice, options: CleaningOptions, rejoin: bool = False,
             task: Task | None = None, separator: str | None = None) -> _Rows:
    task = task or get_task(DEFAULT_TASK)
    ti = table.column_index(choice.text)
    pi = table.column_index(choice.text_pair) if choice.text_pair else None
    targets = {table.column_index(name) for name in target_columns(choice)}
    if len({ti, pi} - {None}) < (2 if pi is not None else 1) or {ti, pi} & targets:
        raise StudioError("The same column is chosen twice; pick different columns for the text, "
                          "the second text and the labels.")
    texts = clean_texts(_raw_texts(table, ti, {ti, pi} - {None} | targets, rejoin), options)
    pairs = clean_texts([row[pi] for row in table.rows], options) if pi is not None else None
    values = task.read_targets(table, choice, separator)

    dropped: Counter[str] = Counter()
    keep: list[int] = []
    target_dropped: list[Dropped] = []
    for i, (text, value) in enumerate(zip(texts, values)):
        if not text:
            dropped["empty text"] += 1
        elif pairs is not None and not pairs[i]:
            dropped["empty second text"] += 1
        elif isinstance(value, Dropped):
            dropped[value.reason] += 1
            target_dropped.append(value)
        else:
            keep.append(i)
    if len(keep) != len(texts):
        texts = [texts[i] for i in keep]
        values = [values[i] for i in keep]
        pairs = [pairs[i] for i in keep] if pairs is not None else None
    return _Rows(texts, pairs, values, dict(dropped), len(table.rows), target_dropped)


def _raw_texts(table: Table, ti: int, used: set[int], rejoin: bool) -> list[str]:
    """The text column's cells; with `rejoin`, the pieces an unquoted delimiter pushed into the
    columns right after it joined back on with that delimiter (up to the last filled piece)."""
    spill = quality.spill_columns(table, ti, used) if rejoin else []
    if not quality.rejoinable(ti, spill):
        return [row[ti] for row in table.rows]
    end = ti + 1 + len(spill)
    texts = []
    for row in table.rows:
        pieces = row[ti:end]
        while len(pieces) > 1 and not pieces[-1].strip():
            pieces.pop()
        texts.append(table.delimiter.join(pieces))
    return texts


def _duplicates(rows: _Rows) -> tuple[list[int], int]:
    """Indices of rows whose text (and second text) repeats an earlier row's, and how many of those
    carry a different target than the first copy."""
    first: dict[Any, Any] = {}
    later: list[int] = []
    conflicting = 0
    for i, key in enumerate(_keys(rows)):
        if key in first:
            later.append(i)
            conflicting += first[key] != rows.labels[i]
        else:
            first[key] = rows.labels[i]
    return later, conflicting


def _without(rows: _Rows, drop: list[int], reason: str) -> _Rows:
    """The rows minus `drop`, counted under `reason`; file order kept, so the first copy stays."""
    if not drop:
        return rows
    gone = set(drop)
    keep = [i for i in range(len(rows.texts)) if i not in gone]
    return _Rows([rows.texts[i] for i in keep],
                 [rows.pairs[i] for i in keep] if rows.pairs is not None else None,
                 [rows.labels[i] for i in keep], {**rows.dropped, reason: len(gone)}, rows.total,
                 rows.target_dropped)


def _sample(rows: _Rows, max_rows: int | None, seed: int) -> tuple[_Rows, int]:
    """A seeded random `max_rows` of the rows, kept in file order; and how many were left out."""
    n = len(rows.texts)
    if max_rows is None or n <= max_rows:
        return rows, 0
    picked = sorted(random.Random(seed).sample(range(n), max_rows))
    return _Rows([rows.texts[i] for i in picked],
                 [rows.pairs[i] for i in picked] if rows.pairs is not None else None,
                 [rows.labels[i] for i in picked], rows.dropped, rows.total,
                 rows.target_dropped), n - max_rows


def _keys(rows: _Rows, indices: list[int] | None = None) -> list[Any]:
    idx = range(len(rows.texts)) if indices is None else indices
    if rows.pairs is None:
        return [rows.texts[i] for i in idx]
    return [(rows.texts[i], rows.pairs[i]) for i in idx]


def _problems(rows: _Rows, table: Table, choice: ColumnChoice, split: bool,
              task: Task | None = None) -> list[str]:
    """What makes these rows untrainable, as plain sentences; the first is the one to fix first."""
    task = task or get_task(DEFAULT_TASK)
    problems = task.problems(list(rows.labels) + list(rows.target_dropped), _target_name(choice),
                             split, source=table.name)
    if not rows.labels and not problems:
        return [f"'{table.name}' has no rows with both a text and a label in columns "
                f"'{choice.text}' and '{_target_name(choice)}'; choose other columns or fill them in."]
    return problems


def _findings(table: Table, choice: ColumnChoice, options: CleaningOptions, rows: _Rows,
              remove_duplicates: bool, rejoined: bool = False) -> list[str]:
    """The report's sentences about a messy file (quality.py), each naming the setting that fixes it."""
    texts = [table.column_index(c) for c in (choice.text, choice.text_pair) if c]
    used = {table.column_index(c) for c in (choice.text, choice.text_pair, *target_columns(choice)) if c}
    later, conflicting = _duplicates(rows)
    found = [quality.mojibake(table, texts, options), quality.html(table, texts, options),
             quality.spilled(table, max(texts), used, rejoined),
             quality.duplicates(len(later), conflicting, remove_duplicates)]
    return [sentence for sentence in found if sentence]


def _ordered_counts(labels: list[str], order: list[str]) -> dict[str, int]:
    """Single-label counts in label-map order (what data_summary shows)."""
    counts = Counter(labels)
    return {name: counts[name] for name in order if counts[name]}


# --- public entry points ---------------------------------------------------------------------


def resolve_columns(table: Table, config: TrainConfig) -> ColumnChoice:
    """The columns to use: the ones named in the config (checked), the rest suggested."""
    label_columns = config.label_column_names()
    for name in (config.text_column, config.label_column, config.text_pair_column, *(label_columns or ())):
        if name:
            table.column_index(name)
    label = config.label_column or None
    if label_columns and not label:
        label = label_columns[0]  # the 0/1 columns are the targets; `label` only names the first
    choice = complete_choice(table, text=config.text_column or None, label=label,
                             text_pair=config.text_pair_column or None,
                             pair_given=bool(config.text_pair_column))
    return dataclasses.replace(choice, label_columns=label_columns) if label_columns else choice


def resolve_task(table: Table, choice: ColumnChoice, config: TrainConfig
                 ) -> tuple[Task, ColumnChoice, str | None, Any]:
    """The task, the columns (with detected 0/1 label columns), the label separator and the
    Detection: the config's task when it names one, else what `detect_task` reads in the data."""
    separator = config.label_separator or None
    detection = detect_task(table, choice, separator=separator)
    name = config.task if config.task != "auto" else detection.task
    # What detection found serves the task it found, also when the user named that task (a
    # multi_label run without a separator uses the one in the cells).
    if detection.task == name:
        if detection.label_columns and not getattr(choice, "label_columns", None):
            choice = dataclasses.replace(choice, label_columns=tuple(detection.label_columns))
        separator = separator or detection.separator
    return get_task(name), choice, separator, detection


def prepare_data(config: TrainConfig, table: Table | None = None,
                 validation_table: Table | None = None) -> PreparedData:
    """Examples, label map, report and fingerprint for training; StudioError when untrainable.
    A task that reads no targets (continued pretraining) gets its texts from pretraining_texts.py."""
    if config.task != "auto" and not get_task(config.task).reads_targets:
        from bertstudio.data.pretraining_texts import prepare_pretraining_data

        return prepare_pretraining_data(config)
    if table is None:
        table = _load(config.data, "training", config.sheet)
    if validation_table is None and config.validation_data:
        validation_table = _load(config.validation_data, "validation", config.sheet, first_if_missing=True)
    task, choice, separator, detection = resolve_task(table, resolve_columns(table, config), config)
    options = CleaningOptions.from_config(config)

    extracted = _extract(table, choice, options, config.rejoin_spilled_text, task, separator)
    findings = _findings(table, choice, options, extracted, config.remove_duplicates,
                         config.rejoin_spilled_text)
    if config.remove_duplicates:
        extracted = _without(extracted, _duplicates(extracted)[0], "duplicate text")
    rows, sampled_out = _sample(extracted, config.max_rows, config.seed)
    problems = _problems(rows, table, choice, validation_table is None, task)
    if problems:
        raise StudioError(problems[0])
    if validation_table is None:
        train_idx, val_idx = task.split(rows.labels, config.validation_split, config.seed)
    else:
        train_idx = list(range(len(rows.labels)))
    # Split first, fit second: the label set is every kept row's, the statistics (regression's
    # scaling, rare-tag weights) the training rows' alone, so validation rows never shape training.
    space = task.fit(rows.labels, column=_target_name(choice), train=train_idx,
                     weight_rare_labels=config.weight_rare_labels, separator=separator)

    if validation_table is None:
        val_rows, val_keys = rows, _keys(rows, val_idx)
        validation_total, validation_dropped = 0, {}
    else:
        val_rows = _validation_rows(validation_table, choice, options, config, rows, task, separator)
        _check_unseen(validation_table, val_rows, task, space)
        val_idx = list(range(len(val_rows.labels)))
        val_keys = _keys(val_rows)
        validation_total, validation_dropped = val_rows.total, val_rows.dropped

    def examples(source: _Rows, indices: list[int]) -> Examples:
        pairs = source.pairs
        return Examples(texts=[source.texts[i] for i in indices],
                        pairs=[pairs[i] for i in indices] if pairs is not None else None,
                        labels=task.encode([source.labels[i] for i in indices], space))

    train, validation = examples(rows, train_idx), examples(val_rows, val_idx)
    train_keys = set(_keys(rows, train_idx))
    all_keys = _keys(rows)
    notes = list(table.notes)
    if validation_table is not None:
        notes += [f"Validation file: {note}" for note in validation_table.notes]
    report = DataReport(
        rows_total=rows.total,
        rows_kept=len(rows.labels),
        dropped=rows.dropped,
        label_counts=task.counts(rows.labels, space),
        duplicate_texts=len(all_keys) - len(set(all_keys)),
        overlap_train_validation=sum(1 for key in val_keys if key in train_keys),
        train_size=len(train),
        validation_size=len(validation),
        train_label_counts=task.counts([rows.labels[i] for i in train_idx], space),
        validation_label_counts=task.counts([val_rows.labels[i] for i in val_idx], space),
        encoding=table.encoding,
        delimiter=table.delimiter,
        has_header=table.has_header,
        notes=notes,
        sampled_out=sampled_out,
        validation_source="split" if validation_table is None else validation_table.name,
        validation_rows_total=validation_total,
        validation_dropped=validation_dropped,
        findings=findings,
    )
    return PreparedData(train=train, validation=validation, labels=list(space.names), columns=choice,
                        report=report,
                        fingerprint=fingerprint(table, choice, config, validation_table,
                                                task=task.name, separator=separator),
                        task=task.name, space=space, detection=detection, separator=separator)


def _validation_rows(validation_table: Table, choice: ColumnChoice, options: CleaningOptions,
                     config: TrainConfig, rows: _Rows, task: Task, separator: str | None) -> _Rows:
    """The validation file's usable rows; with `remove_duplicates`, neither repeated nor in training."""
    _check_same_columns(validation_table, choice)
    val_rows = _extract(validation_table, choice, options, config.rejoin_spilled_text, task, separator)
    if config.remove_duplicates:
        val_rows = _without(val_rows, _duplicates(val_rows)[0], "duplicate text")
        training = set(_keys(rows))
        val_rows = _without(val_rows, [i for i, key in enumerate(_keys(val_rows)) if key in training],
                            "text also in training")
    if not val_rows.labels:
        raise StudioError(f"The validation file '{validation_table.name}' has no rows with "
                          "both a text and a label; fill them in or choose another file.")
    return val_rows


def _check_unseen(validation_table: Table, val_rows: _Rows, task: Task, space: TargetSpace) -> None:
    """Refuse validation labels the model will have no output for (classes and tags the training
    rows lack); regression's are never unseen."""
    unseen = task.unseen(val_rows.labels, space)
    if unseen:
        raise StudioError(
            f"The validation file '{validation_table.name}' has labels that the training "
            f"data does not have: {', '.join(repr(u) for u in unseen[:10])}; remove those rows "
            "or add training examples with those labels.")


def fingerprint(table: Table, choice: ColumnChoice, config: TrainConfig,
                validation_table: Table | None = None, task: str = DEFAULT_TASK,
                separator: str | None = None) -> str:
    """sha256 of the file bytes and every setting that changes the examples; stable across runs."""
    options: dict[str, Any] = {
        "columns": [choice.text, choice.text_pair, choice.label],
        "validation_split": None if validation_table is not None else config.validation_split,
        "seed": config.seed,
        "max_rows": config.max_rows,
        "cleaning": CleaningOptions.from_config(config).to_dict(),
    }
    # Recorded only when on, and mojibake repair likewise: the fingerprints of runs made before
    # these settings existed stay what they were.
    for setting in ("remove_duplicates", "rejoin_spilled_text"):
        if getattr(config, setting):
            options[setting] = True
    if not options["cleaning"]["fix_mojibake"]:
        del options["cleaning"]["fix_mojibake"]
    # Likewise the task: single-label data (what every run was before tasks) adds nothing.
    if task != DEFAULT_TASK:
        options["task"] = task
        if separator is not None:
            options["label_separator"] = separator
        if getattr(choice, "label_columns", None):
            options["label_columns"] = list(choice.label_columns)
    # The sheet needs no entry: a table read from any sheet but the first has that sheet mixed
    # into its sha256 (structured.py), and naming the first sheet reads the same rows as not.
    digest = hashlib.sha256()
    digest.update(table.sha256.encode())
    if validation_table is not None:
        digest.update(b"|validation:" + validation_table.sha256.encode())
    digest.update(b"|" + json.dumps(options, sort_keys=True).encode())
    return digest.hexdigest()


def load_examples_for_prediction(table: Table, text_column: str,
                                 text_pair_column: str | None = None,
                                 options: CleaningOptions | None = None,
                                 ) -> tuple[list[str], list[str] | None]:
    """Every row's text (and second text), cleaned as in training; no row dropped, so outputs
    line up with the input file."""
    options = options or CleaningOptions()
    texts = clean_texts(table.column(text_column), options)
    pairs = clean_texts(table.column(text_pair_column), options) if text_pair_column else None
    return texts, pairs


def _load(path: str | None, role: str, sheet: str | None = None, *, first_if_missing: bool = False) -> Table:
    """The training or validation file; `sheet` (Excel) names the sheet, which the file must have.
    With `first_if_missing` (the validation file) a file without that sheet is read from its first
    sheet, or as the CSV/JSON it is: a validation workbook is often another file whose one sheet
    kept the default name, and one `sheet` setting serves both files."""
    if not path:
        raise StudioError(f"No {role} file is set; choose a CSV or TSV file.")
    if not Path(path).exists():
        raise StudioError(f"The {role} file '{path}' does not exist; check the path.")
    if sheet is not None and first_if_missing:
        from bertstudio.data.spreadsheet import sheet_names

        sheet = sheet if sheet in sheet_names(path) else None
    return read_table(path, sheet=sheet)


def _check_same_columns(validation_table: Table, choice: ColumnChoice) -> None:
    for name in (choice.text, choice.text_pair, choice.label):
        if name and name not in validation_table.columns:
            raise StudioError(
                f"The validation file '{validation_table.name}' has no column '{name}', which the "
                f"training file uses; its columns are: "
                f"{', '.join(repr(c) for c in validation_table.columns)}.")
