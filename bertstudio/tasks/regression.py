"""Regression: one number per row (a score, a rating, a similarity), learned and reported in the user's units.

Training sees standardised targets ((y - mean) / std, so one learning rate suits scores of 0–5 and
prices of 10,000s alike); evaluation turns outputs back into the user's units, and `finalize`
folds the scaling into the model's last linear layer, so a saved model's raw output — also
through `pipeline("text-classification", function_to_apply="none")` — is the number itself.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from bertstudio.tasks.classifier_parts import ClassifierParts
from bertstudio.tasks.base import Dropped, EvalResult, Prediction, TargetSpace, training_values
from bertstudio.tasks.numbers import column_is_numeric, is_not_finite, parse_number
from bertstudio.tasks.regression_metrics import regression_metrics

if TYPE_CHECKING:
    import torch

    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.tabular import Table

MIN_STD = 1e-8              # a constant column must not divide by zero; `problems` refuses it anyway
MAX_SPLIT_BINS = 10         # value bins the split stratifies over
MAX_HISTOGRAM_BINS = 10     # bins in the report's histogram (whole numbers get one bin each up to 12)
MAX_WHOLE_NUMBER_BINS = 12
MIN_ROWS = 4                # two for training and two for validation (columns.MIN_ROWS_TO_SPLIT)
NOT_A_NUMBER = "label is not a number"
NOT_FINITE = "label is not a finite number"


def number_text(value: float) -> str:
    """A value as a CSV or table cell: up to 6 significant digits, never an exponent for a
    whole part ("1234568", "3.14159", "0.000123457")."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    text = f"{value:.{min(15, max(0, 5 - magnitude))}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _floats(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if not isinstance(v, Dropped)]


class RegressionTask(ClassifierParts):
    """One number per row."""

    name: ClassVar[str] = "regression"
    title: ClassVar[str] = "A number per row"
    metrics: ClassVar[tuple[str, ...]] = ("pearson", "spearman", "rmse", "mae", "r2", "loss")
    headline: ClassVar[str] = "pearson"
    problem_type: ClassVar[str] = "regression"
    split_words: ClassVar[str] = "stratified by value range"

    @property
    def target_dtype(self) -> "torch.dtype":
        import torch  # imported here: the task registry is read without loading torch

        return torch.float32

    def higher_is_better(self, metric: str) -> bool:
        return metric not in ("loss", "rmse", "mae")

    # --- data ---------------------------------------------------------------------------------
    def read_targets(self, table: "Table", columns: "ColumnChoice",
                     separator: str | None = None) -> list[Any]:
        """Each row's number, or why it has none. The column's decimal mark is decided once from
        all its cells ("3,5" in a ';' file is 3.5; "5.000" in a tab file is 5.0)."""
        cells = table.column(columns.label)
        _, decimal_comma = column_is_numeric(cells)
        values: list[Any] = []
        for cell in cells:
            if not cell.strip():
                values.append(Dropped("empty label"))
                continue
            value = parse_number(cell, decimal_comma)
            if value is not None:
                values.append(value)
            else:
                values.append(Dropped(NOT_FINITE if is_not_finite(cell) else NOT_A_NUMBER))
        return values

    def fit(self, values: Sequence[Any], column: str | None = None, *, train: Sequence[int] | None = None,
            weight_rare_labels: bool = False, separator: str | None = None) -> TargetSpace:
        """names: the target column (the head's one output); stats: mean, std, min and max of
        the `train` rows' values (the scaling training sees and `finalize` folds in)."""
        numbers = np.asarray(_floats(training_values(values, train)), dtype=np.float64)
        if not len(numbers):
            return TargetSpace(names=[column or "value"],
                               stats={"mean": 0.0, "std": 1.0, "min": 0.0, "max": 0.0})
        return TargetSpace(names=[column or "value"], stats={
            "mean": float(numbers.mean()), "std": max(float(numbers.std()), MIN_STD),
            "min": float(numbers.min()), "max": float(numbers.max())})

    def problems(self, values: Sequence[Any], column: str, split: bool, source: str = "") -> list[str]:
        """Why these rows cannot train. `values` also holds the `Dropped` of the rows dropped for
        their target: a column where most cells are words is told as that, not as too few rows."""
        numbers = _floats(values)
        words = sum(isinstance(v, Dropped) and v.reason == NOT_A_NUMBER for v in values)
        if words > len(numbers):
            return [f"Column '{column}' holds words, not numbers; pick the column with the "
                    "scores or train classes instead."]
        if not numbers:
            return []  # the pipeline says the file has no usable rows
        needed = MIN_ROWS if split else 2
        if len(numbers) < needed:
            n = len(numbers)
            where = f"'{source}'" if source else "The file"
            return [f"{where} has only {n} row{'' if n == 1 else 's'} with a number in column "
                    f"'{column}'; training needs at least {needed}, so add rows to the file."]
        if min(numbers) == max(numbers):
            return [f"Every value in column '{column}' is {number_text(numbers[0])}; a model "
                    "cannot learn anything from one value, so pick another column or add rows "
                    "with other values."]
        return []

    def balance_note(self, counts: dict[str, int]) -> str | None:
        return None  # rows per value bin are a histogram, not classes to balance

    def split(self, values: Sequence[Any], share: float, seed: int) -> tuple[list[int], list[int]]:
        """Train and validation indices, stratified over equal-count value bins: both sides span
        the low, middle and high values. Bins are never more than the validation rows, so each
        bin's share rounds close to `share`."""
        kept = [i for i, v in enumerate(values) if not isinstance(v, Dropped)]
        n = len(kept)
        if n < 2:
            return kept, []
        n_val = min(max(1, round(n * share)), n - 1)
        n_bins = max(1, min(MAX_SPLIT_BINS, n // 2, n_val))
        # Ranks (ties broken by file order) cut into equal-count bins: repeated values cannot
        # leave a bin empty the way quantile edges can.
        order = sorted(kept, key=lambda i: (float(values[i]), i))
        rng = random.Random(seed)
        train: list[int] = []
        validation: list[int] = []
        for b in range(n_bins):
            members = order[b * n // n_bins:(b + 1) * n // n_bins]
            rng.shuffle(members)
            take = min(max(1, round(len(members) * share)), len(members) - 1)
            validation.extend(members[:take])
            train.extend(members[take:])
        return sorted(train), sorted(validation)

    def counts(self, values: Sequence[Any], space: TargetSpace) -> dict[str, int]:
        """Rows per value bin, low to high, empty bins kept (they are the histogram's gaps):
        one bin per whole number for a few whole numbers ("1".."5"), else up to ten bins of
        a round width ("0–0.5", "0.5–1", ...)."""
        numbers = np.asarray(_floats(values), dtype=np.float64)
        if not len(numbers):
            return {}
        low, high = float(numbers.min()), float(numbers.max())
        if np.all(numbers == np.round(numbers)) and high - low < MAX_WHOLE_NUMBER_BINS:
            found = np.bincount((numbers - low).astype(np.int64), minlength=int(high - low) + 1)
            return {number_text(low + i): int(c) for i, c in enumerate(found)}
        step = _round_step((high - low) / MAX_HISTOGRAM_BINS)
        start = math.floor(low / step)
        n_bins = max(1, math.ceil(high / step - 1e-9) - start)
        index = np.clip(np.floor(numbers / step + 1e-9).astype(np.int64) - start, 0, n_bins - 1)
        found = np.bincount(index, minlength=n_bins)
        return {f"{number_text((start + i) * step)}–{number_text((start + i + 1) * step)}": int(c)
                for i, c in enumerate(found)}

    def unseen(self, values: Sequence[Any], space: TargetSpace) -> list[str]:
        """Always []: a number outside the training range is still a number the one output can
        give, so a validation file's values never lack an output."""
        return []

    # --- model --------------------------------------------------------------------------------
    def head(self, space: TargetSpace) -> dict[str, Any]:
        name = space.names[0] if space.names else "value"
        return {"num_labels": 1, "id2label": {0: name}, "label2id": {name: 0},
                "problem_type": self.problem_type}

    def encode(self, values: Sequence[Any], space: TargetSpace) -> list[Any]:
        mean, std = space.stats["mean"], space.stats["std"]
        return [(float(v) - mean) / std for v in values]

    def loss(self, logits: "torch.Tensor", targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        """Squared error per row on the standardised scale (logits [batch, 1])."""
        error = logits.float().reshape(len(targets), -1)[:, 0] - targets.float().reshape(-1)
        return error * error

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, logits: "np.ndarray", targets: "np.ndarray", losses: "np.ndarray",
                 space: TargetSpace) -> EvalResult:
        """Metrics in the user's units: outputs and targets are un-standardised first."""
        mean, std = space.stats["mean"], space.stats["std"]
        logits = np.asarray(logits, dtype=np.float64)
        gold = _as_typed(np.asarray(targets, dtype=np.float64).reshape(-1) * std + mean, space)
        predicted = logits.reshape(len(gold), -1)[:, 0] * std + mean if len(gold) else gold
        notes: list[str] = []
        broken = ~np.isfinite(predicted)
        if broken.any():
            # A diverged model's NaN must not reach metrics.json; the mean is what it knows.
            predicted = np.where(broken, mean, predicted)
            notes.append(f"{int(broken.sum())} predictions were not numbers (training diverged); "
                         "they count as the training mean.")
        losses = np.asarray(losses, dtype=np.float64).reshape(-1)
        loss = float(losses.mean()) if len(losses) and np.isfinite(losses).all() else None
        metrics, metric_notes = regression_metrics(gold, predicted, loss=loss)
        notes += metric_notes
        return EvalResult(metrics=metrics, predicted=predicted.tolist(),
                          confidence=[None] * len(gold), gold=gold.tolist(),
                          extra={"notes": notes} if notes else {})

    def learned_nothing(self, result: EvalResult, space: TargetSpace) -> str | None:
        """Nearly the same value for every row, or predictions that do not follow the true values
        (Pearson about 0, so R² at most about 0: no better than always answering the mean)."""
        from bertstudio.tasks.baselines import ADVICE

        gold = np.asarray(result.gold, dtype=np.float64)
        predicted = np.asarray(result.predicted, dtype=np.float64)
        if len(gold) < 2 or not gold.std() > 0:
            return None  # one row, or one true value: nothing to follow
        pearson = np.corrcoef(gold, predicted)[0, 1] if predicted.std() > 0 else 0.0
        pearson = float(pearson) if np.isfinite(pearson) else 0.0
        name = repr(str(space.names[0] if space.names else "value"))
        # Spread under 5% of the true values' while ranking them no better than r = 0.3: a
        # calibrated model's spread is about r times the truth's, so this is r near 0. An
        # undertrained head whose small outputs still rank the rows (r >= 0.3) has learned, and
        # is not told it learned nothing.
        if predicted.std() <= 0.05 * gold.std() and pearson < 0.3:
            return (f"The model predicts about {float(predicted.mean()):.3g} for every validation row "
                    f"(the true {name} there runs from {number_text(float(gold.min()))} to "
                    f"{number_text(float(gold.max()))}), so it has not learned what makes the values differ; "
                    f"{ADVICE}.")
        # Pearson under 0.1: R² can then be at most 0.01 (no prediction beats the best straight
        # line through them), i.e. no better than the mean. A negative R² alone is not enough: a
        # model that ranks well (r 0.6) but is off in scale has learned, and is told by its RMSE.
        if pearson < 0.1:
            return (f"The model's predictions of {name} do not follow the true values (Pearson "
                    f"{pearson:.2f}), so it does no better than always answering the average; {ADVICE}.")
        return None

    def finalize(self, model: Any, space: TargetSpace, result: EvalResult | None) -> None:
        """Fold (y - mean) / std back into the last one-output linear layer: weight *= std,
        bias = bias * std + mean, so the saved model speaks the user's units. Call once, just
        before saving; the layer is found by its shape, so any head with one output works."""
        import torch

        model.config.bertstudio_task = self.name
        layer = _last_single_output_linear(model)
        mean, std = float(space.stats["mean"]), float(space.stats["std"])
        with torch.no_grad():
            layer.weight.mul_(std)
            if layer.bias is None:
                layer.bias = torch.nn.Parameter(torch.zeros(1, dtype=layer.weight.dtype,
                                                            device=layer.weight.device))
            layer.bias.mul_(std).add_(mean)

    # --- prediction ---------------------------------------------------------------------------
    def predictions(self, logits: "np.ndarray", model_config: Any) -> list[Prediction]:
        """A saved (folded) model's raw output is the value itself."""
        logits = np.asarray(logits, dtype=np.float64)
        values = logits.reshape(len(logits), -1)[:, 0] if logits.ndim else logits.reshape(1)
        return [Prediction(label=f"{v:.4g}", confidence=None, probabilities={}, value=float(v))
                for v in values.tolist()]

    def output_columns(self, model_config: Any) -> list[str]:
        return ["predicted_value"]

    def output_cells(self, prediction: Prediction, model_config: Any) -> list[str]:
        return [number_text(prediction.value) if prediction.value is not None else ""]

    def validation_rows(self, result: EvalResult, space: TargetSpace) -> tuple[list[str], list[list[str]]]:
        """gold, predicted and error (predicted - gold), in the user's units."""
        rows = [[number_text(g), number_text(p), number_text(p - g)]
                for g, p in zip(result.gold, result.predicted)]
        return ["gold", "predicted", "error"], rows

    def card_intro(self, space: TargetSpace, pairs: bool) -> str:
        stats = space.stats
        return (f"It predicts the number in column `{_md(space.names[0] if space.names else 'value')}` "
                f"for each {'pair of texts' if pairs else 'text'} (in training from "
                f"{number_text(stats.get('min', 0.0))} to {number_text(stats.get('max', 0.0))}, mean "
                f"{number_text(stats.get('mean', 0.0))}). Its raw output is that number, which `pipeline` "
                "returns as the `score` (`function_to_apply='none'`; with `problem_type` "
                "\"regression\" that is also the default).")

    def card_section(self, metrics: dict[str, Any], space: TargetSpace) -> list[str]:
        """Pearson, Spearman, RMSE, MAE and R² in the target's units, or a line saying that no
        evaluation was completed."""
        if not metrics:
            return ["No evaluation was completed."]
        lines = ["| metric | value |", "|---|---:|"]
        for key, title in (("pearson", "Pearson"), ("spearman", "Spearman"), ("rmse", "RMSE"),
                           ("mae", "MAE"), ("r2", "R²"), ("loss", "loss (MSE, standardised)")):
            if metrics.get(key) is not None:
                lines.append(f"| {title} | {metrics[key]:.4f} |")
        if metrics.get("count"):
            lines += ["", f"Measured on {metrics['count']} validation rows; RMSE and MAE are in the "
                      "units of the target column."]
        return lines


def _as_typed(gold: np.ndarray, space: TargetSpace) -> np.ndarray:
    """True values back from their float32 tensor, rounded to the digits float32 kept, so a
    typed 0 or 2.25 reads as 0 and 2.25 again, not -3.8e-08 and 2.2500002."""
    if not len(gold):
        return gold
    stats, mean = space.stats, space.stats["mean"]
    # The error is float32's relative step times |y - mean|: the spread sets it, not the size.
    # The gold's own distance counts too: the training rows' range need not hold a validation row.
    scale = max(stats.get("max", mean) - mean, mean - stats.get("min", mean), stats["std"],
                float(np.abs(gold - mean).max()))
    if not math.isfinite(scale) or scale <= 0:
        return gold
    # 2^-20 of the spread is a few float32 steps; one decimal less than that is safely above them.
    decimals = min(15, max(0, -math.floor(math.log10(scale * 2.0 ** -20)) - 1))
    return np.round(gold, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def _round_step(width: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at least `width` (a histogram bin people can read)."""
    if width <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(width))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * power >= width * (1 - 1e-9):
            return factor * power
    return 10.0 * power


def _last_single_output_linear(model: Any):
    """The model's last `nn.Linear` with one output: BERT's `classifier`, or any other head's."""
    import torch

    found = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]
    if not found:
        raise ValueError("This model has no linear layer with one output to fold the target "
                         "scaling into; a regression head needs num_labels=1.")
    return found[-1]


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("`", "'").replace("\n", " ")
