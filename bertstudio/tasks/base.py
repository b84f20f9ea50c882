"""The `Task` seam: everything that depends on what kind of target a row holds.

One module per task (`single_label.py`, `multi_label.py`, `regression.py`) implements `Task`; the
data pipeline, the trainer, evaluation, prediction, the model card, the CLI and the UI ask the task
and never test its name. Adding a kind of target is one new module plus a line in `registry.py`.

A row's target moves through three shapes:
    cell(s) in the table --read_targets--> value --TargetSpace.encode--> number(s) for a tensor
    single_label  "positive"                 "positive"                   class id (int)
    multi_label   "joy,love" / 0/1 columns   ("joy", "love")              multi-hot [0., 1., 1., ...]
    regression    "3,5" / "3.5"              3.5                          (3.5 - mean) / std  (float)
and back: logits --Task.predictions--> `Prediction`s in the user's own label names and units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Sequence

if TYPE_CHECKING:
    import numpy as np
    import torch

    from bertstudio.data.columns import ColumnChoice
    from bertstudio.data.tabular import Table

TASK_CHOICES = ("auto", "single_label", "multi_label", "regression")
# Continued pretraining: the texts are the targets (masked-LM). Chosen by `bertstudio pretrain`
# and the studio's "Adapt the model to my texts first", never detected from a label column.
PRETRAINING_TASK = "masked_lm"


class TorchDtype:
    """A class attribute naming a torch dtype, looked up on first read: a task module (which
    `TrainConfig.validate` imports) then costs no torch import. `target_dtype = TorchDtype("long")`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> "torch.dtype":
        import torch

        return getattr(torch, self.name)


@dataclass(frozen=True)
class Dropped:
    """A row whose target cannot be used, and the reason counted in the report ("empty label")."""

    reason: str


@dataclass
class TargetSpace:
    """What a fitted task knows about the targets.

    `names`: class names (single_label, index = class id), tag names (multi_label, index = output
    unit) or the one target column's name (regression), from every kept row of the training file.
    `stats`: task-specific numbers learned from the training rows alone, which turn values into
    tensors and back (regression: mean, std, min and max of the training values; multi_label: each
    tag's positive weight). JSON-ready, so it goes into data.json and checkpoints as is.
    """

    names: list[str]
    stats: dict[str, Any] = field(default_factory=dict)


def training_values(values: Sequence[Any], train: Sequence[int] | None) -> list[Any]:
    """The values `Task.fit` learns statistics from: those at the `train` indices, or all of
    them when `train` is None."""
    return list(values) if train is None else [values[i] for i in train]


@dataclass
class EvalResult:
    """One evaluation: its metrics, and each validation row's outcome in file order.

    `predicted`: per row, the task's prediction in user terms (a class id, a list of tag ids, a
    value). `confidence`: per row, how sure the model is (top probability; for multi-label the
    lowest margin to a threshold; for regression None). `gold`: the encoded target. JSON-ready
    (checkpoints keep the best one)."""

    metrics: dict[str, Any]
    predicted: list[Any]
    confidence: list[Any]
    gold: list[Any]
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. tuned thresholds


@dataclass
class Prediction:
    """One text's prediction, in the user's own label names and units."""

    label: str                          # single: the class; multi: the tags joined by ", "; regression: the value as text
    confidence: float | None            # single: its probability; multi / regression: None
    probabilities: dict[str, float]     # single: softmax per class; multi: sigmoid per tag; regression: {}
    labels: list[str] | None = None     # multi_label: the predicted tags (may be empty)
    value: float | None = None          # regression: the predicted number
    thresholds: dict[str, float] | None = None  # multi_label: the decision threshold per tag

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "confidence": self.confidence,
                               "probabilities": self.probabilities}
        if self.labels is not None:
            out["labels"] = self.labels
        if self.value is not None:
            out["value"] = self.value
        return out


class Task(Protocol):
    """What a kind of target decides. Implementations are stateless; per-run facts live in the
    `TargetSpace` they return from `fit`."""

    name: ClassVar[str]                  # "single_label" | "multi_label" | "regression"
    title: ClassVar[str]                 # "One label per row", for people
    metrics: ClassVar[tuple[str, ...]]   # what `metric_for_best` may name, "loss" included
    headline: ClassVar[str]              # the default `metric_for_best`, charted first
    problem_type: ClassVar[str]          # transformers' `problem_type` for the head

    def higher_is_better(self, metric: str) -> bool: ...

    # --- data ---------------------------------------------------------------------------------
    def read_targets(self, table: "Table", columns: "ColumnChoice",
                     separator: str | None = None) -> list[Any]:
        """Each row's value, or `Dropped(reason)`. `columns.label` (one column) or
        `columns.label_columns` (several 0/1 columns, multi_label) name where targets are."""

    def fit(self, values: Sequence[Any], column: str | None = None, *, train: Sequence[int] | None = None,
            weight_rare_labels: bool = False, separator: str | None = None) -> TargetSpace:
        """The target space of the training file's kept rows. `values`: every kept row's value,
        validation rows of a split included; the label set (class or tag names, sorted as
        `sort_labels` does) comes from all of them, so a tag only a validation row holds still
        has an output and that row encodes. `train`: the indices of the training rows among
        `values` (None: every row trains, as with a separate validation file); every statistic
        learned from the targets comes from those rows only (`training_values`), so the
        validation rows never shape what training sees. `column`: the target column's name
        (regression names its one output after it). The pipeline passes every task the run's
        `weight_rare_labels` and the label separator in use (None: not known, the task's
        default); a task ignores what it has no use for."""

    def problems(self, values: Sequence[Any], column: str, split: bool, source: str) -> list[str]:
        """Why these rows cannot train, as plain sentences (the first is the one to fix first).
        `values`: the kept rows' values, followed by the `Dropped` of every row dropped for its
        target (so "the column holds words" can be told); ignore the `Dropped` when counting rows.
        With no kept row and nothing to say, return []: the pipeline then says the file has no
        usable rows. `column` names the target column(s) and `source` the file, for the sentences."""

    def split(self, values: Sequence[Any], share: float, seed: int) -> tuple[list[int], list[int]]:
        """Sorted train and validation indices, seeded; each task stratifies in its own way."""

    split_words: ClassVar[str]           # how `split` holds rows out, for the report: "stratified by label"

    def balance_note(self, counts: dict[str, int]) -> str | None:
        """For the report: one plain sentence when `counts` (from `counts`) are so uneven that the
        headline number needs watching, naming what to watch; None when they are not, or when
        balance means nothing for the task (regression)."""

    def counts(self, values: Sequence[Any], space: TargetSpace) -> dict[str, int]:
        """For the report: rows per class or tag (regression: rows per value bin, "1.0–2.0")."""

    def unseen(self, values: Sequence[Any], space: TargetSpace) -> list[str]:
        """A validation file's targets the model has no output for (classes or tags the training
        rows lack), sorted; the pipeline refuses the file naming them. Regression: always []."""

    # --- model --------------------------------------------------------------------------------
    def head(self, space: TargetSpace) -> dict[str, Any]:
        """`from_pretrained` keywords for the head: num_labels, id2label, label2id, problem_type."""

    def encode(self, values: Sequence[Any], space: TargetSpace) -> list[Any]:
        """Values to what the collator stacks into the `labels` tensor."""

    target_dtype: ClassVar["torch.dtype"]  # torch.long for classes, torch.float32 otherwise (TorchDtype)

    # The four below are the same for every task with a target per row (classifier_parts.py);
    # the masked-LM of continued pretraining, whose targets are the texts, has its own.
    reads_targets: ClassVar[bool]        # False: rows need no target column (masked_lm)

    def build_model(self, name: str, space: TargetSpace) -> Any:
        """The model to train, from the pretrained `name` (a classifier head, or the masked-LM head)."""

    def collator(self, tokenizer: Any, pad_to: int, config: Any, epoch_of: Any = None) -> Any:
        """Rows to a batch dict (`input_ids`, ..., `labels`, `index`, `num_tokens`). `epoch_of`: a
        callable giving the epoch being batched, for targets drawn afresh each epoch (masks)."""

    def train_loss(self, model: Any, inputs: dict, targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        """The batch's scalar training loss."""

    def eval_outputs(self, model: Any, inputs: dict, targets: "torch.Tensor",
                     space: TargetSpace) -> tuple["torch.Tensor", ...]:
        """Per-row tensors (first dimension: the batch) that the evaluation gathers across
        processes, puts back in file order and passes to `evaluate` positionally."""

    def loss(self, logits: "torch.Tensor", targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        """Per-row training loss (shape [batch]); the trainer averages it."""

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, logits: "np.ndarray", targets: "np.ndarray", losses: "np.ndarray",
                 space: TargetSpace) -> EvalResult:
        """Metrics (JSON-ready; `loss` and the task's `metrics` among them) and per-row outcomes,
        from what `eval_outputs` returned, gathered over the validation rows."""

    def learned_nothing(self, result: EvalResult, space: TargetSpace) -> str | None:
        """One plain sentence when this final evaluation shows a model that learned nothing
        useful (one answer for nearly every row, or no better than a constant answer on the same
        rows), naming the label(s) in the user's own words and what to do; None otherwise, and
        None where the rows cannot tell (or the task has no constant answer to compare with).
        The run's end puts it in metrics.json, the end event, the model card, the CLI and the UI."""

    def finalize(self, model: Any, space: TargetSpace, result: EvalResult | None) -> None:
        """Fold what prediction needs into the model before it is saved (multi_label: tuned
        thresholds into `model.config`; regression: target scaling into the last layer)."""

    # --- prediction ---------------------------------------------------------------------------
    def predictions(self, logits: "np.ndarray", model_config: Any) -> list[Prediction]:
        """A saved model's raw outputs to predictions, using only what `model.config` carries."""

    def output_columns(self, model_config: Any) -> list[str]:
        """Columns appended to a predicted file ("predicted_label", "prob_<label>", ...)."""

    def output_cells(self, prediction: Prediction, model_config: Any) -> list[str]:
        """One row's cells for `output_columns`."""

    def validation_rows(self, result: EvalResult, space: TargetSpace) -> tuple[list[str], list[list[str]]]:
        """predictions.csv's columns after the text(s) (gold, predicted, ...) and one row per
        validation row."""

    def card_intro(self, space: TargetSpace, pairs: bool) -> str:
        """The model card's opening sentence after "A text classifier fine-tuned from ... with BERT
        Studio.": what it predicts ("It sorts texts into 3 classes: `a`, `b`, `c`.")."""

    def card_section(self, metrics: dict[str, Any], space: TargetSpace) -> list[str]:
        """The body of the model card's "Results on the validation data" (Markdown lines; with no
        metrics, a line saying no evaluation was completed)."""
