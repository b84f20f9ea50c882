"""The texts a continued-pretraining run reads: the training file's, minus the rows fine-tuning
will validate on, plus any extra unlabeled files.

Fine-tuning holds out a seeded, stratified share of the rows to measure the model. Had the
encoder read those texts while pretraining, that measurement would flatter it, so a labelled file
is first split exactly as `bertstudio train` with the same settings (file, columns, seed,
validation share, row limit, cleaning) splits it, and only its training rows are pretrained on.
A separate validation file is never read. A file without usable labels is texts only: all of
its rows are read (there is nothing to fine-tune on it yet, so nothing to protect).

The pretraining run measures its own masked-LM loss on a share of these texts it never trains
on, chosen at random with the run's seed.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from bertstudio.config import TrainConfig
from bertstudio.data.cleaning import CleaningOptions, clean_texts
from bertstudio.data.columns import ColumnChoice, suggest_text_column
from bertstudio.errors import StudioError
from bertstudio.tasks.base import PRETRAINING_TASK, TargetSpace

# Enough held-out texts to measure the masked-LM loss to about a percent; more only slows the
# evaluations of a large corpus.
MAX_VALIDATION_TEXTS = 2000


def prepare_pretraining_data(config: TrainConfig):
    """`PreparedData` for task masked_lm: texts only (targets are drawn by the collator)."""
    from bertstudio.data.dataset import DataReport, Examples, PreparedData, _load, fingerprint, prepare_data

    table = _load(config.data, "training", config.sheet)
    notes = list(table.notes)
    try:
        labelled = prepare_data(config.replace(task="auto"), table)
    except StudioError:
        if config.label_column or config.label_columns:
            raise  # the user named labels that cannot be used: say so, do not read around it
        labelled = None
    if labelled is not None:
        columns = labelled.columns
        texts = _flatten(labelled.train.texts, labelled.train.pairs)
        held = len(labelled.validation)
        if config.validation_data:
            notes.append(f"The validation file '{Path(config.validation_data).name}' is not read: "
                         "fine-tuning measures the model on it.")
        else:
            notes.append(f"{held} rows are left out: the rows fine-tuning on this file holds out for "
                         f"validation (seed {config.seed}, {config.validation_split:.0%}); fine-tune with "
                         "the same seed and validation share so its measurement stays honest.")
        sampled_out, dropped = labelled.report.sampled_out, labelled.report.dropped
    else:
        columns, texts, dropped, sampled_out = _texts_only(table, config)
        notes.append("No usable label column was found, so every row's text is read.")
    extra = [_extra_texts(path, config) for path in config.unlabeled_data or []]
    for path, more in zip(config.unlabeled_data or [], extra):
        notes.append(f"{len(more)} texts from '{Path(path).name}'.")
        texts += more
    if len(texts) < 2:
        raise StudioError("There are fewer than two texts to pretrain on; add rows or another file of texts.")

    order = list(range(len(texts)))
    random.Random(config.seed).shuffle(order)
    held_out = min(MAX_VALIDATION_TEXTS, max(1, round(len(texts) * config.validation_split)))
    train_idx, val_idx = sorted(order[held_out:]), sorted(order[:held_out])
    train = Examples([texts[i] for i in train_idx], None, [None] * len(train_idx))
    validation = Examples([texts[i] for i in val_idx], None, [None] * len(val_idx))
    report = DataReport(
        rows_total=len(table.rows), rows_kept=len(texts), dropped=dropped, label_counts={},
        duplicate_texts=len(texts) - len(set(texts)), overlap_train_validation=0,
        train_size=len(train), validation_size=len(validation), train_label_counts={},
        validation_label_counts={}, encoding=table.encoding, delimiter=table.delimiter,
        has_header=table.has_header, notes=notes, sampled_out=sampled_out)
    digest = hashlib.sha256(fingerprint(table, columns, config, task=PRETRAINING_TASK).encode())
    for path in config.unlabeled_data or []:
        digest.update(b"|" + _load(path, "extra texts").sha256.encode())
    digest.update(json.dumps({"mlm_validation": held_out}).encode())
    return PreparedData(train=train, validation=validation, labels=[], columns=columns, report=report,
                        fingerprint=digest.hexdigest(), task=PRETRAINING_TASK, space=TargetSpace(names=[]))


def _flatten(texts: list[str], pairs: list[str] | None) -> list[str]:
    """Pairs become two texts each: the masked-LM learns words, not which text goes with which."""
    if pairs is None:
        return list(texts)
    return [text for pair in zip(texts, pairs) for text in pair]


def _text_column(table, config: TrainConfig, role: str) -> str:
    if config.text_column and config.text_column in table.columns:
        return config.text_column
    if config.text_column and role == "training":
        table.column_index(config.text_column)  # raises naming the columns there are
    column = suggest_text_column(table)
    if column is None:
        raise StudioError(f"No column of '{table.name}' looks like text; name the text column.")
    return column


def _texts_only(table, config: TrainConfig):
    """(columns, texts, dropped, sampled_out) of a file read for its texts alone."""
    from bertstudio.data.dataset import _Rows, _sample

    column = _text_column(table, config, "training")
    texts = clean_texts(table.column(column), CleaningOptions.from_config(config))
    kept = [text for text in texts if text]
    dropped = {"empty text": len(texts) - len(kept)} if len(kept) != len(texts) else {}
    rows, sampled_out = _sample(_Rows(kept, None, [None] * len(kept), dropped, len(table.rows)),
                                config.max_rows, config.seed)
    return ColumnChoice(text=column, label=None), rows.texts, dropped, sampled_out


def _extra_texts(path: str, config: TrainConfig) -> list[str]:
    """Every non-empty text of an extra file (its column named like the training file's text
    column, else the one that looks like text), cleaned as the training texts are."""
    from bertstudio.data.dataset import _load

    table = _load(path, "extra texts")
    texts = clean_texts(table.column(_text_column(table, config, "extra")), CleaningOptions.from_config(config))
    return [text for text in texts if text]
