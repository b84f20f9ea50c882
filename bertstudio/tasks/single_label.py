"""One label per row: classes from a label column, softmax over them, macro-F1 as the headline.

Everything here is what BERT Studio did before it knew other tasks, moved behind the `Task` seam:
the same label normalisation, the same stratified split (same random draws, so the same rows
land in validation), the same metrics, predictions, CSV columns and model-card lines.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from bertstudio.tasks.classifier_parts import ClassifierParts
from bertstudio.tasks.base import Dropped, EvalResult, Prediction, TargetSpace, TorchDtype
from bertstudio.tasks.labels import MAX_LABELS, MIN_ROWS_TO_SPLIT, normalize_label, sort_labels, uneven
from bertstudio.tasks.metrics import classification_metrics
from bertstudio.tasks.wording import table_cell, number, short

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.tabular import Table

EMPTY_LABEL = Dropped("empty label")


def model_labels(model_config: Any) -> list[str]:
    """Class names in class-id order from a model's config (LABEL_i where a name is missing)."""
    id2label = getattr(model_config, "id2label", None) or {}
    return [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model_config.num_labels)]


class SingleLabel(ClassifierParts):
    """Each row belongs to exactly one class."""

    name: ClassVar[str] = "single_label"
    title: ClassVar[str] = "One label per row"
    metrics: ClassVar[tuple[str, ...]] = ("macro_f1", "accuracy", "loss")
    headline: ClassVar[str] = "macro_f1"
    problem_type: ClassVar[str] = "single_label_classification"
    split_words: ClassVar[str] = "stratified by label"
    target_dtype = TorchDtype("long")

    def higher_is_better(self, metric: str) -> bool:
        return metric != "loss"

    # --- data ---------------------------------------------------------------------------------
    def read_targets(self, table: "Table", columns: "ColumnChoice",
                     separator: str | None = None) -> list[Any]:
        index = table.column_index(columns.label)
        cache: dict[str, str] = {}  # a label column repeats a few values: normalise each once
        values: list[Any] = []
        for row in table.rows:
            cell = row[index]
            label = cache.get(cell) or cache.setdefault(cell, normalize_label(cell))
            values.append(label if label else EMPTY_LABEL)
        return values

    def fit(self, values: Sequence[Any], column: str | None = None, *, train: Sequence[int] | None = None,
            weight_rare_labels: bool = False, separator: str | None = None) -> TargetSpace:
        """Class names from every row; no statistics (classes weigh alike, as before tasks), so
        `train` changes nothing."""
        return TargetSpace(names=sort_labels(values))

    def problems(self, values: Sequence[Any], column: str, split: bool, source: str) -> list[str]:
        values = [value for value in values if not isinstance(value, Dropped)]
        if not values:
            return []  # the pipeline says the file has no usable rows
        counts = Counter(values)
        needed = MIN_ROWS_TO_SPLIT if split else 2
        if len(values) < needed:
            n = len(values)
            held = ", ".join(f"{label!r} {counts[label]}" for label in sort_labels(counts))
            return [f"'{source}' has only {n} usable row{'' if n == 1 else 's'} ({held}); training "
                    f"needs at least two labels with {needed // 2} row{'' if needed == 2 else 's'} each, "
                    "so add rows to the file."]
        if len(counts) == 1:
            only = next(iter(counts))
            return [f"Column '{column}' has only one label ('{only}'); a classifier needs at "
                    "least two different labels, so choose another label column or add examples."]
        if len(counts) > MAX_LABELS and len(counts) * 2 > len(values):
            return [f"Column '{column}' has {len(counts)} different values in "
                    f"{len(values)} rows, which looks like text or an id rather than labels; "
                    "choose the column that holds the classes."]
        problems = []
        if split:
            small = [label for label, n in counts.items() if n < 2]
            if small:
                names = ", ".join(repr(short(label)) for label in sort_labels(small)[:5])
                more = f" and {len(small) - 5} more" if len(small) > 5 else ""
                problems.append(f"Each label needs at least 2 rows so one can go to validation and one "
                                f"to training, but {names}{more} in column '{column}' "
                                f"{'has' if len(small) == 1 else 'have'} only 1 row; add rows, remove "
                                f"{'that label' if len(small) == 1 else 'those labels'}, or give a "
                                "separate validation file.")
        return problems

    def balance_note(self, counts: dict[str, int]) -> str | None:
        spread = uneven(counts)
        if spread is None:
            return None
        return (f"The labels are unbalanced (largest {spread[0]:,} rows, smallest {spread[1]:,}); "
                "watch the macro F1, not just accuracy.")

    def split(self, values: Sequence[Any], share: float, seed: int) -> tuple[list[int], list[int]]:
        """Stratified: every class with 2+ rows gives at least one row to each side."""
        by_label: dict[str, list[int]] = {}
        for i, label in enumerate(values):
            by_label.setdefault(label, []).append(i)
        rng = random.Random(seed)
        train: list[int] = []
        validation: list[int] = []
        for label in sort_labels(by_label):  # a fixed order, so the rng draws the same per class
            indices = by_label[label]
            rng.shuffle(indices)
            n_val = min(max(1, round(len(indices) * share)), len(indices) - 1)
            validation.extend(indices[:n_val])
            train.extend(indices[n_val:])
        return sorted(train), sorted(validation)

    def counts(self, values: Sequence[Any], space: TargetSpace) -> dict[str, int]:
        """Rows per class in label-map order; classes without rows left out."""
        counts = Counter(values)
        return {name: counts[name] for name in space.names if counts[name]}

    def unseen(self, values: Sequence[Any], space: TargetSpace) -> list[str]:
        """Validation labels the training rows do not have (sorted): the model has no output for them."""
        return sort_labels(set(values) - set(space.names))

    # --- model --------------------------------------------------------------------------------
    def head(self, space: TargetSpace) -> dict[str, Any]:
        id2label = dict(enumerate(space.names))
        return {"num_labels": len(space.names), "id2label": id2label,
                "label2id": {label: index for index, label in id2label.items()},
                "problem_type": self.problem_type}

    def encode(self, values: Sequence[Any], space: TargetSpace) -> list[int]:
        class_id = {name: i for i, name in enumerate(space.names)}
        return [class_id[value] for value in values]

    def loss(self, logits: "torch.Tensor", targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        import torch.nn.functional as F

        return F.cross_entropy(logits, targets, reduction="none")

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, logits: "np.ndarray", targets: "np.ndarray", losses: "np.ndarray",
                 space: TargetSpace) -> EvalResult:
        import torch

        # In torch, as before the seam: confidences and the mean loss keep every bit they had.
        probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)
        confidence, predicted = probs.max(dim=-1)
        gold = [int(g) for g in targets.tolist()]
        mean_loss = float(torch.as_tensor(losses).mean()) if len(losses) else None
        metrics = classification_metrics(gold, predicted.tolist(), space.names, loss=mean_loss)
        return EvalResult(metrics=metrics, predicted=predicted.tolist(),
                          confidence=confidence.tolist(), gold=gold)

    def learned_nothing(self, result: EvalResult, space: TargetSpace) -> str | None:
        """One class for (nearly) every row, no better than always answering the most common
        class, or answers that match the truth no more often than chance."""
        from bertstudio.tasks.baselines import (ADVICE, cohen_kappa, confusion_of, macro_f1,
                                                majority_baseline, quoted, where_words)

        gold, predicted, names = result.gold, result.predicted, space.names
        if len(names) < 2 or len(set(gold)) < 2:
            return None  # rows of one class cannot tell a model that learned from one that did not
        confusion = confusion_of(gold, predicted, len(names))
        # Agreement beyond chance: 0 for any answer that ignores the text. A weak but honest model
        # on 90/10 data that finds a quarter of the rare class (F1 ~0.4) scores about 0.35.
        kappa = cohen_kappa(confusion)
        top, count = Counter(predicted).most_common(1)[0]
        # One class for 95% of the rows, and kappa under 0.1 ("slight" agreement at best): a
        # model on 97/3 data that does find the rare class also answers the common one 95% of
        # the time, and its kappa, not that share, tells it apart from one that learned nothing.
        if count >= 0.95 * len(gold) and kappa < 0.1:
            return (f"The model predicts {quoted(names[top])} for {where_words(count, len(gold))}, so it "
                    f"has not learned to tell the classes apart; {ADVICE}.")
        majority, base_accuracy, base_f1 = majority_baseline(gold, len(names))
        accuracy = float(confusion.trace() / confusion.sum())
        f1 = macro_f1(confusion)
        # Within one point of the constant answer on both scores (a lucky row or two in a few
        # hundred); a model ahead on either one, macro-F1 on unbalanced data, has learned something.
        if accuracy <= base_accuracy + 0.01 and f1 <= base_f1 + 0.01:
            return (f"The model scores no better than answering {quoted(names[majority])} for every row "
                    f"(accuracy {accuracy:.2f}, macro F1 {f1:.2f}; always {quoted(names[majority])}: "
                    f"{base_accuracy:.2f} and {base_f1:.2f}); {ADVICE}.")
        if kappa <= 0:  # ahead of the constant answer only by guessing in the classes' proportions
            return (f"The model's answers match the true labels no more often than guessing would "
                    f"(accuracy {accuracy:.2f}); {ADVICE}.")
        return None

    def finalize(self, model: Any, space: TargetSpace, result: EvalResult | None) -> None:
        model.config.bertstudio_task = self.name

    # --- prediction ---------------------------------------------------------------------------
    def predictions(self, logits: "np.ndarray", model_config: Any) -> list[Prediction]:
        import torch

        labels = model_labels(model_config)
        probs = torch.softmax(torch.as_tensor(logits, dtype=torch.float32), dim=-1)
        results = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            results.append(Prediction(labels[best], row[best], dict(zip(labels, row))))
        return results

    def output_columns(self, model_config: Any) -> list[str]:
        return ["predicted_label"] + [f"prob_{label}" for label in model_labels(model_config)]

    def output_cells(self, prediction: Prediction, model_config: Any) -> list[str]:
        return [prediction.label] + [f"{prediction.probabilities[label]:.6f}"
                                     for label in model_labels(model_config)]

    def validation_rows(self, result: EvalResult, space: TargetSpace) -> tuple[list[str], list[list[str]]]:
        names = space.names
        rows = [[names[gold], names[predicted], f"{confidence:.4f}"]
                for gold, predicted, confidence in zip(result.gold, result.predicted, result.confidence)]
        return ["gold", "predicted", "confidence"], rows

    def card_intro(self, space: TargetSpace, pairs: bool) -> str:
        return (f"It sorts {'pairs of texts' if pairs else 'texts'} into {len(space.names)} classes: "
                + ", ".join(f"`{table_cell(label)}`" for label in space.names) + ".")

    def card_section(self, metrics: dict[str, Any], space: TargetSpace) -> list[str]:
        """The results table (accuracy, macro-F1, loss) and the per-class table, or a line saying
        that no evaluation was completed."""
        if not metrics:
            return ["No evaluation was completed."]
        lines = ["| metric | value |", "|---|---:|"]
        for key in ("accuracy", "macro_f1", "loss"):
            if metrics.get(key) is not None:
                lines.append(f"| {key} | {number(metrics[key])} |")
        per_class = metrics.get("per_class") or {}
        if per_class:
            lines += ["", "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {table_cell(label)} | {number(m['precision'])} | {number(m['recall'])} | {number(m['f1'])} | "
                      f"{m['support']} |" for label, m in per_class.items()]
        return lines
