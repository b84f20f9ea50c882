"""`TrainConfig`: every setting of a run, with default, range and help, validated and JSON round-tripped.

The field metadata is the single source for the CLI flags, the UI's sliders and the docs, so they
cannot drift apart. Keys used in metadata:
    label    short human name            help     one sentence a non-programmer can act on
    group    "data" | "model" | "optimization" | "schedule" | "evaluation" | "run"
    min/max  numeric range (inclusive)   step     slider step
    log      True for a log-scale slider choices  allowed values for a string field
    cli      False to keep a field off the command line (it is set another way)
    search   what `bertstudio search` tries for the field: (low, high) for a number (log-scaled
             where `log` is), or a tuple of values; fields without it keep their set value
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from bertstudio.errors import StudioError
from bertstudio.tasks.base import PRETRAINING_TASK, TASK_CHOICES

TRUNCATION_CHOICES = ("start", "end", "head_tail")
SCHEDULER_CHOICES = ("linear", "cosine", "constant_with_warmup")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
EVAL_STRATEGY_CHOICES = ("epoch", "steps")
# How the word-embedding table is updated (training/row_updates.py): "auto" is rows_used on the CPU
# in one process, all_rows elsewhere.
EMBEDDING_UPDATE_CHOICES = ("auto", "rows_used", "all_rows")
# Experiment trackers reached through Accelerate's tracker classes (training/trackers.py); each is
# an optional extra, and "none" sends nothing anywhere.
REPORT_TO_CHOICES = ("none", "tensorboard", "trackio", "wandb", "mlflow")
# "auto" (the task's headline) and every task's scalar metrics; tests check that this is exactly
# the union of the tasks' own `metrics`, which validation checks a known task's choice against.
METRIC_CHOICES = ("auto", "macro_f1", "accuracy", "loss",
                  "micro_f1", "subset_accuracy", "macro_f1_at_0.5", "micro_f1_at_0.5",
                  "subset_accuracy_at_0.5",
                  "pearson", "spearman", "rmse", "mae", "r2", "perplexity")

DEFAULT_MODEL = "bert-base-uncased"


def _meta(label: str, help: str, group: str, **extra: Any) -> dict[str, Any]:
    return {"label": label, "help": help, "group": group, **extra}


@dataclass
class TrainConfig:
    """Everything that decides what a run does. Written to `config.json` in every run folder."""

    # --- data -------------------------------------------------------------------------------
    data: str | None = field(default=None, metadata=_meta(
        "Training data", "Path of the CSV or TSV file to train on.", "data", cli=False))
    validation_data: str | None = field(default=None, metadata=_meta(
        "Validation data", "Optional separate CSV/TSV to validate on; if empty, a share of the "
        "training file is held out.", "data"))
    sheet: str | None = field(default=None, metadata=_meta(
        "Sheet", "Excel files only: the name of the sheet that holds the table. Empty: the first "
        "sheet. A validation workbook is read from the sheet of the same name when it has one, "
        "else from its first sheet.", "data"))
    text_column: str | None = field(default=None, metadata=_meta(
        "Text column", "Column holding the text to classify. Empty: suggested from the file.", "data"))
    text_pair_column: str | None = field(default=None, metadata=_meta(
        "Second text column", "Optional second text for sentence-pair tasks (e.g. paraphrase, "
        "entailment). Empty: single text.", "data"))
    label_column: str | None = field(default=None, metadata=_meta(
        "Label column", "Column holding the class of each row. Empty: suggested from the file.", "data"))
    task: str = field(default="auto", metadata=_meta(
        "Task", "What each row's label is: one class (single_label), any number of tags "
        "(multi_label), or a number to predict (regression). auto: decided from the label column.",
        "data", choices=TASK_CHOICES + (PRETRAINING_TASK,)))
    label_separator: str | None = field(default=None, metadata=_meta(
        "Label separator", "For several labels in one cell (multi_label): the character between "
        "them, such as ',' or '|'. Empty: found from the file among ',', ';' and '|'.", "data"))
    label_columns: str | None = field(default=None, metadata=_meta(
        "Label columns", "For multi_label data kept as one 0/1 column per label: those columns' "
        "names, separated by commas. Empty: a single label column.", "data"))
    validation_split: float = field(default=0.1, metadata=_meta(
        "Validation share", "Share of the training rows held out to measure the model, when no "
        "validation file is given (stratified: by label, by tag or by value range).", "data", min=0.05, max=0.5, step=0.05))
    max_rows: int | None = field(default=None, metadata=_meta(
        "Row limit", "Train on a seeded random sample of this many rows (quick tries on big files). "
        "Empty: all rows.", "data", min=10, max=10_000_000))
    clean_collapse_whitespace: bool = field(default=False, metadata=_meta(
        "Collapse whitespace", "Turn runs of spaces, tabs and newlines into one space.", "data"))
    clean_strip_html: bool = field(default=False, metadata=_meta(
        "Strip HTML tags", "Remove tags such as <br /> and decode entities such as &amp;.", "data"))
    clean_replace_urls: bool = field(default=False, metadata=_meta(
        "Replace URLs", "Replace web addresses with the word 'URL'.", "data"))
    clean_nfkc: bool = field(default=False, metadata=_meta(
        "Unicode NFKC", "Normalise look-alike characters (full-width letters, ligatures).", "data"))
    clean_fix_mojibake: bool = field(default=False, metadata=_meta(
        "Repair garbled characters", "Repair text read with the wrong encoding (mojibake), such as "
        "'Ã©' for 'é' or 'å£' for '£'.", "data"))
    rejoin_spilled_text: bool = field(default=False, metadata=_meta(
        "Rejoin spilled text", "Put text that an unquoted comma (or other delimiter) pushed into the "
        "unnamed or empty columns after the text column back onto the end of the text.", "data"))
    remove_duplicates: bool = field(default=False, metadata=_meta(
        "Remove duplicate texts", "Keep only the first row of each text (and second text) that "
        "appears more than once; the later copies are dropped before the split, so no text is in "
        "both training and validation.", "data"))

    # --- model and tokenizer ------------------------------------------------------------------
    model: str = field(default=DEFAULT_MODEL, metadata=_meta(
        "Model", "A Hugging Face model id, a local model folder, or 'bundled' for the small model "
        "that ships with BERT Studio and works offline.", "model"))
    max_length: int = field(default=128, metadata=_meta(
        "Max length (tokens)", "Longer texts are cut to this many tokens, special tokens included. "
        "Longer means slower training.", "model", min=8, max=512, step=8))
    truncation: str = field(default="start", metadata=_meta(
        "Truncation", "Which part of a long text to keep: the start, the end, or the head and tail "
        "(best on long reviews, Sun et al. 2019). Sentence pairs always trim the longer text first.",
        "model", choices=TRUNCATION_CHOICES))

    # --- optimization -------------------------------------------------------------------------
    learning_rate: float = field(default=5e-5, metadata=_meta(
        "Learning rate", "How big each update is. BERT's authors recommend 5e-5, 3e-5 or 2e-5; lower "
        "it if the loss jumps around or becomes NaN.", "optimization", min=1e-6, max=1e-2, log=True,
        search=(1e-5, 5e-4)))
    batch_size: int = field(default=32, metadata=_meta(
        "Batch size", "Rows per step on each device. 16 or 32 are the usual choices; lower it if "
        "memory runs out.", "optimization", min=1, max=256, step=1, search=(8, 16, 32)))
    gradient_accumulation_steps: int = field(default=1, metadata=_meta(
        "Gradient accumulation", "Add up gradients over this many batches before each update: a "
        "larger effective batch without more memory.", "optimization", min=1, max=64, step=1))
    weight_decay: float = field(default=0.01, metadata=_meta(
        "Weight decay", "Pulls weights gently towards zero to curb overfitting; not applied to biases "
        "and LayerNorm.", "optimization", min=0.0, max=0.3, step=0.01, search=(0.0, 0.1)))
    max_grad_norm: float = field(default=1.0, metadata=_meta(
        "Max gradient norm", "Clip gradients to this size to keep updates stable. 0 turns clipping "
        "off.", "optimization", min=0.0, max=10.0, step=0.1))
    precision: str = field(default="auto", metadata=_meta(
        "Precision", "auto: bf16 on GPUs that support it, fp16 on older GPUs; on the CPU bf16 "
        "where the processor computes it natively (AVX512-BF16 or AMX), else fp32.",
        "optimization", choices=PRECISION_CHOICES))
    # Measured by bench/embedding_updates.py (README, "Performance"): the same held-out accuracy
    # over five SST-2 seeds (+0.00 +- 0.06 points), and on multi-label and regression runs.
    embedding_updates: str = field(default="auto", metadata=_meta(
        "Word-table updates", "The word table holds one row per vocabulary piece, about half of a small "
        "BERT's weights. rows_used: a step trains the rows its texts use; a row's "
        "missed steps are applied when it is next used and before the model is evaluated or saved, "
        "so the result matches updating every row (same held-out accuracy in our tests) at less "
        "work: faster on the CPU. all_rows: every row every step, as Hugging Face's Trainer does. "
        "auto: rows_used on the CPU in one process, all_rows on GPUs and with several processes.",
        "optimization", choices=EMBEDDING_UPDATE_CHOICES))

    # On by default: without it, 8,000 GoEmotions rows (28 tags) trained to the label frequencies
    # only (test macro-F1 0.075, validation loss stuck at 0.151); with it, 0.328 (bench/results/).
    weight_rare_labels: bool = field(default=True, metadata=_meta(
        "Weight rare labels", "multi_label only: count each label's few positive rows more in the "
        "loss, so rare labels are not simply never predicted (without it a model can learn only how "
        "common each label is).", "optimization"))

    # --- schedule -----------------------------------------------------------------------------
    epochs: int = field(default=3, metadata=_meta(
        "Epochs", "How many times to go over the training data. 2-4 is typical for BERT.",
        "schedule", min=1, max=50, step=1, search=(2, 10)))
    max_steps: int | None = field(default=None, metadata=_meta(
        "Step limit", "Train for exactly this many optimizer steps instead of whole epochs (the "
        "last epoch may be cut short). Empty or 0: the epochs decide.", "schedule", min=1, max=10_000_000))
    warmup_ratio: float = field(default=0.1, metadata=_meta(
        "Warmup share", "Share of the steps during which the learning rate climbs from zero.",
        "schedule", min=0.0, max=0.5, step=0.01, search=(0.0, 0.2)))
    scheduler: str = field(default="linear", metadata=_meta(
        "Schedule", "How the learning rate falls after warmup: linear to zero, cosine, or constant.",
        "schedule", choices=SCHEDULER_CHOICES))
    seed: int = field(default=42, metadata=_meta(
        "Seed", "Fixes the shuffling, the split and the new weights: the same seed gives the same run.",
        "schedule", min=0, max=2**31 - 1, step=1))

    # --- continued pretraining (task masked_lm) ---------------------------------------------
    # BERT's own recipe (Devlin et al. 2019): 15 % of the tokens are chosen; of those 80 % become
    # [MASK], 10 % a random token, 10 % stay, and the model predicts the original of every one.
    adapt_epochs: int = field(default=0, metadata=_meta(
        "Adapt the model to my texts first", "Before fine-tuning, train the model for this many epochs "
        "to guess hidden words of this file's texts (continued pretraining; the validation rows are "
        "never read). Helps most with few labels and unusual wording; costs about as much time as "
        "the same number of fine-tuning epochs. 0: off.", "pretraining", min=0, max=20, step=1))
    mlm_probability: float = field(default=0.15, metadata=_meta(
        "Masked share", "Continued pretraining: the share of tokens hidden for the model to guess. "
        "BERT used 15 %.", "pretraining", min=0.05, max=0.5, step=0.01))
    whole_word_masking: bool = field(default=False, metadata=_meta(
        "Mask whole words", "Continued pretraining: hide every piece of a word together (play ##ing), "
        "so a word cannot be guessed from its own other pieces.", "pretraining"))
    unlabeled_data: list[str] | None = field(default=None, metadata=_meta(
        "Extra texts", "Continued pretraining: more CSV/TSV/text files whose texts the model reads "
        "as well (no labels needed).", "pretraining", cli=False))

    # --- evaluation ---------------------------------------------------------------------------
    eval_strategy: str = field(default="epoch", metadata=_meta(
        "Evaluate", "Measure on the validation data at the end of every epoch, or every N steps.",
        "evaluation", choices=EVAL_STRATEGY_CHOICES))
    eval_steps: int = field(default=100, metadata=_meta(
        "Evaluate every N steps", "Used when evaluating by steps.", "evaluation", min=1, max=100_000,
        step=1))
    metric_for_best: str = field(default="auto", metadata=_meta(
        "Metric to watch", "Validation metric that decides the best checkpoint and early stopping. "
        "auto: the task's main one (macro-F1 for labels, Pearson correlation for regression).",
        "evaluation", choices=METRIC_CHOICES))
    early_stopping_patience: int = field(default=0, metadata=_meta(
        "Early stopping patience", "Stop after this many evaluations without improvement. 0: never "
        "stop early.", "evaluation", min=0, max=50, step=1))
    keep_best: bool = field(default=True, metadata=_meta(
        "Keep the best model", "At the end, restore the weights from the best evaluation instead of "
        "the last step.", "evaluation"))

    # --- run ----------------------------------------------------------------------------------
    output_dir: str = field(default="runs", metadata=_meta(
        "Runs folder", "Folder that receives one sub-folder per run.", "run"))
    run_name: str | None = field(default=None, metadata=_meta(
        "Run name", "Optional name; the run folder is named from it plus a unique suffix.", "run"))
    logging_steps: int = field(default=10, metadata=_meta(
        "Log every N steps", "How often the loss is reported. Reporting needs the GPU to pause, so "
        "not every step.", "run", min=1, max=10_000, step=1))
    report_to: str = field(default="none", metadata=_meta(
        "Report to", "Also send the settings, the loss and the validation metrics to an experiment "
        "tracker: TensorBoard (its logs stay in the run folder, under tracking/), Trackio, Weights & "
        "Biases (wandb) or MLflow; each needs its extra installed, such as pip install -e "
        "\".[tensorboard]\". none: nothing is sent anywhere.", "run", choices=REPORT_TO_CHOICES))

    # ------------------------------------------------------------------------------------------
    def validate(self) -> "TrainConfig":
        """Raise StudioError naming the first setting out of range, with what to do; return self."""
        hints = get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            label = meta.get("label", f.name)
            if value is None:
                if "None" not in str(hints[f.name]):
                    raise StudioError(f"'{label}' needs a value.")
                continue
            if "choices" in meta and value not in meta["choices"]:
                raise StudioError(
                    f"'{label}' is '{value}', which is not one of: {', '.join(meta['choices'])}.")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if isinstance(value, float) and not math.isfinite(value):
                    raise StudioError(f"'{label}' must be a finite number, not {value}.")
                lo, hi = meta.get("min"), meta.get("max")
                if lo is not None and value < lo or hi is not None and value > hi:
                    raise StudioError(f"'{label}' is {value}; choose a value from {lo:g} to {hi:g}.")
        if not self.model.strip():
            raise StudioError("'Model' is empty; pick a model from the list or type 'bundled'.")
        if self.text_pair_column and self.text_pair_column == self.text_column:
            raise StudioError("The second text column is the same as the text column; pick another "
                              "column or leave it empty.")
        if self.label_column and self.label_column in (self.text_column, self.text_pair_column):
            raise StudioError("The label column is also used as a text column; pick a different "
                              "column for the labels.")
        self._validate_task()
        return self

    def label_column_names(self) -> tuple[str, ...] | None:
        """`label_columns` as names ("joy, anger" -> ("joy", "anger")); None when not set."""
        if not self.label_columns or not self.label_columns.strip():
            return None
        return tuple(name.strip() for name in self.label_columns.split(",") if name.strip())

    def _validate_task(self) -> None:
        """The task's own settings agree with each other; a named task reports the watched metric."""
        columns = self.label_column_names()
        if columns:
            if self.task in ("single_label", "regression"):
                raise StudioError(f"Several label columns mean several labels per row, but the task is "
                                  f"'{self.task}'; choose the task multi_label (or auto), or clear "
                                  "'Label columns'.")
            used = [c for c in columns if c in (self.text_column, self.text_pair_column)]
            if used:
                raise StudioError(f"'{used[0]}' is both a text column and a label column; take it "
                                  "out of 'Label columns'.")
        if self.task != "auto" and self.metric_for_best != "auto":
            from bertstudio.tasks.registry import get_task, watched_metric

            watched_metric(get_task(self.task), self.metric_for_best)

    # --- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, raw: Any) -> "TrainConfig":
        """Build from a parsed JSON object, refusing unknown keys and wrong types by name."""
        if not isinstance(raw, dict):
            raise StudioError("The config must be a JSON object of settings, like the config.json "
                              "in a run folder.")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise StudioError(f"The config has unknown settings: {', '.join(unknown)}. Known "
                              f"settings are: {', '.join(known)}.")
        hints = get_type_hints(cls)
        values = {name: _coerce(name, value, hints[name]) for name, value in raw.items()}
        return cls(**values).validate()

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StudioError(f"The config is not valid JSON (line {exc.lineno}, column {exc.colno}); "
                              "fix the file or download a fresh one.", detail=str(exc)) from exc
        except RecursionError as exc:  # json nests [[[[...]]]] by recursion; thousands deep is no config
            raise StudioError("That JSON is nested far too deeply to be a config; download a fresh "
                              "config.json from a run folder.", detail=str(exc)) from exc
        except ValueError as exc:  # json refuses integers of thousands of digits with a plain ValueError
            raise StudioError("That JSON holds a number far too long for any setting; download a fresh "
                              "config.json from a run folder.", detail=str(exc)) from exc
        return cls.from_dict(raw)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise StudioError(f"Config file '{path}' does not exist; check the path.") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise StudioError(f"Config file '{path}' cannot be read as text; pass a JSON file.",
                              detail=str(exc)) from exc
        return cls.from_json(text)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def field_specs() -> list[dataclasses.Field]:
    """The config's fields in declaration order, for building CLI flags and UI controls."""
    return list(fields(TrainConfig))


def base_type(annotation: Any) -> type:
    """`int | None` -> int; the concrete type a field holds when set (a list: list)."""
    text = str(annotation)
    if text.startswith("list["):
        return list
    for candidate in (bool, int, float, str):
        if annotation is candidate or candidate.__name__ in text.replace("NoneType", ""):
            return candidate
    return str


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    optional = "None" in str(annotation)
    if value is None:
        if optional:
            return None
        raise StudioError(f"Setting '{name}' cannot be empty (null).")
    if str(annotation).startswith("list["):  # a list of paths (unlabeled_data)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise StudioError(f"Setting '{name}' must be a list of file paths, not {json.dumps(value)}.")
        return list(value)
    kind = base_type(annotation)
    wrong = StudioError(f"Setting '{name}' must be {_TYPE_WORDS[kind]}, not {json.dumps(value)}.")
    if kind is bool:
        if not isinstance(value, bool):
            raise wrong
        return value
    if kind is int:
        if isinstance(value, bool):
            raise wrong
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise wrong
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong
        return float(value)
    if not isinstance(value, str):
        raise wrong
    return value


_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
