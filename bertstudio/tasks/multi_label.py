"""Any number of tags per row: sigmoid outputs, binary cross-entropy, thresholds tuned per tag.

Targets come from one column holding several labels ("3,27", "joy;love", "a|b") or from several
0/1 columns, one per tag. A row's value is a tuple of its tags in label order; an empty tuple
means "none of the labels", which is allowed. The split is iterative stratification
(stratify.py); evaluation tunes one decision threshold per tag on the validation rows
(multilabel_metrics.py) and `finalize` saves them in the model's config, so every prediction,
here or through `transformers.pipeline`, decides with the same cuts.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from bertstudio.errors import StudioError
from bertstudio.tasks.classifier_parts import ClassifierParts
from bertstudio.tasks.base import (
    Dropped, EvalResult, Prediction, TargetSpace, TorchDtype, training_values,
)
from bertstudio.tasks.labels import MIN_ROWS_TO_SPLIT, normalize_label, sort_labels, uneven
from bertstudio.tasks.multilabel_metrics import DEFAULT_THRESHOLD, multilabel_metrics
from bertstudio.tasks.stratify import iterative_split
from bertstudio.tasks.yes_no import read_flag
from bertstudio.tasks.wording import table_cell, number, short, some_names

if TYPE_CHECKING:
    import torch

    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.tabular import Table

SEPARATORS = (",", ";", "|")
DEFAULT_SEPARATOR = ","          # for 0/1 columns, and a column where no cell holds two labels
MAX_TAGS = 200                   # more distinct tags, with nearly every row unique, is free text
# A tag with 3 positives in 40,000 rows would get a weight of ~13,000: its gradient would swamp
# every other tag and the model would predict it everywhere. 30 still lifts rare tags a lot
# (the tuned thresholds then move each cut to where that tag's F1 is best).
MAX_POS_WEIGHT = 30.0


# --- reading the cells ---------------------------------------------------------------------------


def detect_separator(cells: Sequence[str]) -> str | None:
    """The one of "," ";" "|" that splits the most cells; None when no cell holds one.
    Ties go to the earlier in that list."""
    counts = {sep: sum(1 for cell in cells if sep in cell) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equals
    return best if counts[best] else None


def resolve_separator(table: "Table", columns: "ColumnChoice", separator: str | None = None) -> str:
    """The separator `read_targets` uses for these columns: the given one, else the detected
    one, else "," (also for 0/1 columns, whose tags are written back joined by it)."""
    if getattr(columns, "label_columns", None):
        return separator or DEFAULT_SEPARATOR
    if separator:
        return separator
    return detect_separator(table.column(columns.label)) or DEFAULT_SEPARATOR


def _split_cell(cell: str, separator: str) -> set[str]:
    return {tag for tag in (normalize_label(piece) for piece in cell.split(separator)) if tag}


def _in_order(rows: list[Any]) -> list[Any]:
    """Each row's tag set as a tuple in label order (`sort_labels` over every tag)."""
    tags = set().union(*(row for row in rows if isinstance(row, (set, frozenset))))
    rank = {tag: i for i, tag in enumerate(sort_labels(tags))}
    return [tuple(sorted(row, key=rank.__getitem__)) if isinstance(row, (set, frozenset)) else row
            for row in rows]


def _read_flag_columns(table: "Table", names: Sequence[str]) -> list[Any]:
    """0/1 (yes/no, true/false, y/n) columns, one per tag; an empty cell is 0."""
    indices = [table.column_index(name) for name in names]
    tags = [normalize_label(name) or name for name in names]
    if len(set(tags)) != len(tags):
        raise StudioError("The same label column is picked twice; pick each 0/1 column once.")
    rows: list[Any] = []
    for row in table.rows:
        value: set[str] | Dropped = set()
        for index, tag, name in zip(indices, tags, names):
            flag = read_flag(row[index])  # "1.0", " 1 " and "01" are 1 too
            if flag:
                value.add(tag)
            elif flag is None:
                value = Dropped(f"not 0/1 in column '{short(name)}'")
                break
        rows.append(value)
    return rows


# --- report helpers ------------------------------------------------------------------------------


def _tag_counts(values: Sequence[Any]) -> Counter:
    return Counter(tag for value in values if isinstance(value, tuple) for tag in value)


def rows_without_labels(values: Sequence[Any]) -> int:
    """Rows whose cell was empty: "none of the labels" (allowed, and told in the report)."""
    return sum(1 for value in values if value == ())


def labels_per_row(values: Sequence[Any]) -> dict[int, int]:
    """How many rows hold 0, 1, 2, ... tags, for the report's labels-per-row chart."""
    counts = Counter(len(value) for value in values if isinstance(value, tuple))
    return {n: counts[n] for n in sorted(counts)}


def rare_labels(values: Sequence[Any]) -> list[str]:
    """Tags held by one row only: trained on, but they cannot also be checked on validation."""
    return sort_labels([tag for tag, n in _tag_counts(values).items() if n < 2])


def rare_labels_sentence(values: Sequence[Any], column: str) -> str | None:
    """The warning the report shows about `rare_labels`, or None when there are none."""
    rare = rare_labels(values)
    if not rare:
        return None
    one = len(rare) == 1
    return (f"{'Label' if one else 'Labels'} {some_names(rare)} in column '{column}' "
            f"{'has' if one else 'have'} only 1 row, so {'it stays' if one else 'they stay'} in "
            f"training and the validation scores cannot measure {'it' if one else 'them'}; add rows "
            f"with {'that label' if one else 'those labels'} to measure {'it' if one else 'them'}.")


def positive_weights(values: Sequence[Any], names: Sequence[str]) -> list[float]:
    """Per tag, negatives / positives over these rows, capped at MAX_POS_WEIGHT."""
    counts = _tag_counts(values)
    rows = sum(1 for value in values if isinstance(value, tuple))
    return [float(min(MAX_POS_WEIGHT, (rows - counts[name]) / counts[name])) if counts[name] else 1.0
            for name in names]


def _tags_of(model_config: Any) -> list[str]:
    id2label = getattr(model_config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model_config.num_labels)]


def _thresholds_of(model_config: Any, tags: Sequence[str]) -> dict[str, float]:
    saved = getattr(model_config, "bertstudio_thresholds", None) or {}
    return {tag: float(saved.get(tag, DEFAULT_THRESHOLD)) for tag in tags}


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large negative logits, unlike 1 / (1 + exp(-x)).
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float64)))


class MultiLabel(ClassifierParts):
    """Each row holds any number of tags, none included."""

    name: ClassVar[str] = "multi_label"
    title: ClassVar[str] = "Any number of labels per row"
    metrics: ClassVar[tuple[str, ...]] = ("macro_f1", "micro_f1", "subset_accuracy", "macro_f1_at_0.5",
                                          "micro_f1_at_0.5", "subset_accuracy_at_0.5", "loss")
    headline: ClassVar[str] = "macro_f1"
    problem_type: ClassVar[str] = "multi_label_classification"
    split_words: ClassVar[str] = "stratified so every label has rows on both sides where the rows allow"
    target_dtype = TorchDtype("float32")

    def higher_is_better(self, metric: str) -> bool:
        return metric != "loss"

    # --- data ---------------------------------------------------------------------------------
    def read_targets(self, table: "Table", columns: "ColumnChoice",
                     separator: str | None = None) -> list[Any]:
        """Tuples of tags (empty: none of the labels), or Dropped for an unreadable 0/1 cell."""
        label_columns = getattr(columns, "label_columns", None)
        if label_columns:
            return _in_order(_read_flag_columns(table, label_columns))
        sep = resolve_separator(table, columns, separator)
        index = table.column_index(columns.label)
        cache: dict[str, frozenset[str]] = {}  # tag lists repeat: split each distinct cell once
        rows: list[Any] = []
        for row in table.rows:
            cell = row[index]
            tags = cache.get(cell)
            if tags is None:
                tags = cache.setdefault(cell, frozenset(_split_cell(cell, sep)))
            rows.append(tags)
        return _in_order(rows)

    def fit(self, values: Sequence[Any], column: str | None = None, *, train: Sequence[int] | None = None,
            weight_rare_labels: bool = False, separator: str | None = None) -> TargetSpace:
        """Every row's tags, sorted by `sort_labels`; stats: the separator (to write predicted
        tags back the way the file wrote them; `resolve_separator` gives the one `read_targets`
        used) and, with `weight_rare_labels` (TrainConfig.weight_rare_labels), each tag's
        positive weight from the `train` rows (1.0 for a tag no training row holds). `column`
        is not needed: the tags name the outputs."""
        names = sort_labels(_tag_counts(values))
        stats: dict[str, Any] = {"separator": separator or DEFAULT_SEPARATOR}
        if weight_rare_labels:
            stats["pos_weight"] = positive_weights(training_values(values, train), names)
        return TargetSpace(names=names, stats=stats)

    def problems(self, values: Sequence[Any], column: str, split: bool, source: str) -> list[str]:
        rows = [value for value in values if isinstance(value, tuple)]
        counts = _tag_counts(rows)
        needed = MIN_ROWS_TO_SPLIT if split else 2
        if len(rows) < needed:
            n = len(rows)
            return [f"'{source}' has only {n} usable row{'' if n == 1 else 's'}; training needs at "
                    f"least {needed}, so add rows to the file."]
        if not counts:
            return [f"Column '{column}' has no labels in any row (every cell is empty); choose the "
                    "column that holds the labels."]
        if len(counts) == 1:
            only = next(iter(counts))
            return [f"Column '{column}' has only one label ('{short(only)}'); a multi-label model "
                    "needs at least two different labels, so choose another label column or add "
                    "examples."]
        combinations = len(set(rows))
        if len(counts) > MAX_TAGS and combinations * 2 > len(rows):
            return [f"Column '{column}' has {len(counts)} different labels and nearly every one of "
                    f"its {len(rows)} rows a different combination, which looks like free text "
                    "rather than labels; choose the column that holds the labels."]
        return []

    def balance_note(self, counts: dict[str, int]) -> str | None:
        spread = uneven(counts)
        if spread is None:
            return None
        # The micro F1 is carried by the common labels; the macro F1 counts every label the same.
        return (f"Some labels are rare (the most common is on {spread[0]:,} rows, the rarest on "
                f"{spread[1]:,}); watch the macro F1 and each label's F1, not just the micro F1.")

    def split(self, values: Sequence[Any], share: float, seed: int) -> tuple[list[int], list[int]]:
        """Iterative stratification: every tag with 2+ rows on both sides where the rows allow."""
        names = sort_labels(_tag_counts(values))
        return iterative_split(self._matrix(values, names), share, seed)

    def counts(self, values: Sequence[Any], space: TargetSpace) -> dict[str, int]:
        """Rows per tag in tag order; tags without rows left out (see `rows_without_labels`)."""
        counts = _tag_counts(values)
        return {name: counts[name] for name in space.names if counts[name]}

    def unseen(self, values: Sequence[Any], space: TargetSpace) -> list[str]:
        """Validation tags the training rows do not have (sorted): the model has no output for them."""
        return sort_labels(set(_tag_counts(values)) - set(space.names))

    def one_sided(self, values: Sequence[Any], train: Sequence[int],
                  validation: Sequence[int]) -> list[str]:
        """Tags with 2+ rows that the split could not put on both sides (rows like {a,b}, {b,c},
        {a,c} allow no such split), for the report."""
        in_train = _tag_counts([values[i] for i in train])
        in_val = _tag_counts([values[i] for i in validation])
        return sort_labels([tag for tag, n in _tag_counts(values).items()
                            if n >= 2 and (not in_train[tag] or not in_val[tag])])

    @staticmethod
    def _matrix(values: Sequence[Any], names: Sequence[str]) -> np.ndarray:
        column = {name: i for i, name in enumerate(names)}
        matrix = np.zeros((len(values), len(names)), dtype=bool)
        for row, value in enumerate(values):
            if isinstance(value, tuple):
                for tag in value:
                    if tag in column:  # a validation file's tag unseen in training: no output
                        matrix[row, column[tag]] = True
        return matrix

    # --- model --------------------------------------------------------------------------------
    def head(self, space: TargetSpace) -> dict[str, Any]:
        id2label = dict(enumerate(space.names))
        return {"num_labels": len(space.names), "id2label": id2label,
                "label2id": {tag: index for index, tag in id2label.items()},
                "problem_type": self.problem_type}

    def encode(self, values: Sequence[Any], space: TargetSpace) -> list[list[float]]:
        """Multi-hot rows; a tag the training rows never had is left out (see `unseen`)."""
        return self._matrix(values, space.names).astype(np.float32).tolist()

    def loss(self, logits: "torch.Tensor", targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        import torch
        import torch.nn.functional as F

        weights = space.stats.get("pos_weight")
        pos_weight = (torch.as_tensor(weights, dtype=logits.dtype, device=logits.device)
                      if weights else None)
        per_tag = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype),
                                                     pos_weight=pos_weight, reduction="none")
        return per_tag.mean(dim=-1)

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, logits: "np.ndarray", targets: "np.ndarray", losses: "np.ndarray",
                 space: TargetSpace) -> EvalResult:
        """Scores at tuned thresholds and at 0.5. `confidence` per row is the smallest distance
        of a tag's probability from its threshold: how near the row came to a different set."""
        probs = _sigmoid(logits).reshape(len(logits), len(space.names))
        gold = np.asarray(targets, dtype=np.float64).reshape(probs.shape) >= 0.5
        mean_loss = float(np.mean(losses)) if len(losses) else None
        metrics = multilabel_metrics(probs, gold, space.names, loss=mean_loss)
        thresholds = np.array([metrics["thresholds"][name] for name in space.names])
        predicted = probs >= thresholds[None, :]
        margin = np.abs(probs - thresholds[None, :]).min(axis=1) if len(space.names) else np.zeros(len(probs))
        return EvalResult(
            metrics=metrics,
            predicted=[np.flatnonzero(row).tolist() for row in predicted],
            confidence=margin.tolist(),
            gold=[np.flatnonzero(row).tolist() for row in gold],
            extra={"thresholds": dict(metrics["thresholds"]),
                   "probabilities": np.round(probs, 4).tolist()})

    def learned_nothing(self, result: EvalResult, space: TargetSpace) -> str | None:
        """The same tag set (often none) for nearly every row, or a micro-F1 no better than
        giving every row the best constant set of the most common tags."""
        from bertstudio.tasks.baselines import (ADVICE, best_constant_set, mean_tag_kappa, micro_f1,
                                                quoted, where_words)

        def matrix(rows: list[Any]) -> np.ndarray:
            out = np.zeros((len(rows), len(space.names)), dtype=bool)
            for i, tags in enumerate(rows):
                out[i, list(tags)] = True
            return out

        gold, predicted = matrix(result.gold), matrix(result.predicted)
        if len({tuple(tags) for tags in result.gold}) < 2:
            return None  # every row holds the same tags: nothing to tell a model that learned apart
        # As for one label per row: 95% of the rows given one set, and agreement beyond chance
        # (kappa per tag, averaged) under 0.1; a model that finds rare tags on data whose rows
        # mostly hold none also answers "none" for most rows, and its kappa says it learned.
        top, count = Counter(tuple(tags) for tags in result.predicted).most_common(1)[0]
        if count >= 0.95 * len(result.predicted) and mean_tag_kappa(gold, predicted) < 0.1:
            names = [space.names[i] for i in top]
            what = ("none of the labels" if not names else f"only {quoted(names[0])}" if len(names) == 1
                    else "the same labels (" + some_names(names) + ")")
            return (f"The model predicts {what} for {where_words(count, len(result.predicted))}, so it has "
                    f"not learned which texts carry which label; {ADVICE}.")
        best, base = best_constant_set(gold)
        score = micro_f1(gold, predicted)
        # One point of micro-F1 over the constant answer: a lucky row or two in a few hundred.
        if score <= base + 0.01:
            names = [space.names[i] for i in best]
            what = ("no label at all" if not names else quoted(names[0]) if len(names) == 1
                    else some_names(names))
            return (f"The model's micro F1 ({score:.2f}) is no better than giving every row {what} "
                    f"({base:.2f}); {ADVICE}.")
        return None

    def finalize(self, model: Any, space: TargetSpace, result: EvalResult | None) -> None:
        tuned = {}
        if result is not None:
            tuned = result.extra.get("thresholds") or result.metrics.get("thresholds") or {}
        model.config.bertstudio_task = self.name
        model.config.problem_type = self.problem_type  # the pipeline's cue to apply a sigmoid
        model.config.bertstudio_thresholds = {name: float(tuned.get(name, DEFAULT_THRESHOLD))
                                              for name in space.names}
        model.config.bertstudio_label_separator = space.stats.get("separator", DEFAULT_SEPARATOR)

    # --- prediction ---------------------------------------------------------------------------
    def predictions(self, logits: "np.ndarray", model_config: Any) -> list[Prediction]:
        tags = _tags_of(model_config)
        thresholds = _thresholds_of(model_config, tags)
        cut = np.array([thresholds[tag] for tag in tags])
        probs = _sigmoid(logits).reshape(len(logits), len(tags))
        results = []
        for row, chosen in zip(probs.tolist(), (probs >= cut[None, :]).tolist()):
            labels = [tag for tag, on in zip(tags, chosen) if on]
            results.append(Prediction(label=", ".join(labels) or "(none)", confidence=None,
                                      probabilities=dict(zip(tags, row)), labels=labels,
                                      thresholds=dict(thresholds)))
        return results

    def output_columns(self, model_config: Any) -> list[str]:
        return ["predicted_labels"] + [f"prob_{tag}" for tag in _tags_of(model_config)]

    def output_cells(self, prediction: Prediction, model_config: Any) -> list[str]:
        """The tags joined by the training file's separator (empty: none), then each probability."""
        separator = getattr(model_config, "bertstudio_label_separator", None) or DEFAULT_SEPARATOR
        return [separator.join(prediction.labels or [])] + [
            f"{prediction.probabilities[tag]:.6f}" for tag in _tags_of(model_config)]

    def validation_rows(self, result: EvalResult, space: TargetSpace) -> tuple[list[str], list[list[str]]]:
        """gold and predicted tags joined by the file's separator, the confidence (the smallest
        distance of a probability from its threshold: the results tab lists the surest mistakes
        first), then one probability per tag (blank where the result no longer carries them)."""
        names = space.names
        separator = space.stats.get("separator", DEFAULT_SEPARATOR)
        probabilities = result.extra.get("probabilities") or [None] * len(result.gold)
        rows = []
        for gold, predicted, margin, probs in zip(result.gold, result.predicted, result.confidence,
                                                  probabilities):
            cells = [f"{p:.4f}" for p in probs] if probs is not None else [""] * len(names)
            rows.append([separator.join(names[i] for i in gold),
                         separator.join(names[i] for i in predicted), f"{margin:.4f}", *cells])
        return ["gold", "predicted", "confidence"] + [f"prob_{name}" for name in names], rows

    def card_intro(self, space: TargetSpace, pairs: bool) -> str:
        return (f"It tags {'pairs of texts' if pairs else 'texts'} with any of {len(space.names)} "
                "labels (none, one or several per text): "
                + ", ".join(f"`{table_cell(name)}`" for name in space.names) + ".")

    def card_section(self, metrics: dict[str, Any], space: TargetSpace) -> list[str]:
        """Scores at the tuned thresholds and at 0.5, then the per-tag table with each threshold."""
        if not metrics:
            return ["No evaluation was completed."]
        lines = [f"The model predicts any set of its {len(space.names)} labels for each text. Each "
                 "label has its own decision threshold, tuned on the validation rows to give that "
                 "label its best F1; every prediction uses these thresholds (saved in the model's "
                 "`config.json` as `bertstudio_thresholds`). Scores at a fixed 0.5 are shown beside "
                 "them: for a rare label 0.5 can be far from its best cut.",
                 "", "| metric | tuned thresholds | at 0.5 |", "|---|---:|---:|"]
        for key in ("macro_f1", "micro_f1", "subset_accuracy"):
            if metrics.get(key) is not None:
                lines.append(f"| {key} | {number(metrics[key])} | {number(metrics.get(f'{key}_at_0.5'))} |")
        if metrics.get("loss") is not None:
            lines.append(f"| loss | {number(metrics['loss'])} | |")
        per_label = metrics.get("per_label") or {}
        if per_label:
            lines += ["", "| label | threshold | F1 | F1 at 0.5 | precision | recall | support |",
                      "|---|---:|---:|---:|---:|---:|---:|"]
            lines += [f"| {table_cell(tag)} | {m['threshold']:.2f} | {number(m['f1'])} | "
                      f"{number(m.get('f1_at_0.5'))} | {number(m['precision'])} | {number(m['recall'])} | "
                      f"{m['support']} |" for tag, m in per_label.items()]
        return lines


