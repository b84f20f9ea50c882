"""Predictions from a finished run (or any saved sequence-classification model folder)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import torch

from bertstudio.data.cleaning import CleaningOptions, clean_texts
from bertstudio.data.csvsafe import write_safe_csv
from bertstudio.data.writers import WRITABLE, write_rows
from bertstudio.errors import StudioError
from bertstudio.limits import MAX_TEXT_CHARS, check_text_length
from bertstudio.runs.folder import model_dir_of, read_run
from bertstudio.tasks.base import Prediction
from bertstudio.tasks.registry import task_of_model

if TYPE_CHECKING:
    import numpy as np

    from bertstudio.data.tabular import Table
    from bertstudio.tasks.base import Task

__all__ = ["Prediction", "Predictor", "write_predictions"]  # Prediction lives in tasks/base.py; callers still find it here


class TorchBackend:
    """A PyTorch model behind `Predictor`: a padded batch in, float logits out. The ONNX Runtime
    backend (export/onnx_backend.py) has the same two members, so everything after the logits
    (the task's probabilities, labels, thresholds, values) is shared, not repeated per backend."""

    def __init__(self, model) -> None:
        self.model = model.eval()
        self.config = model.config

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        return self.model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()


class Predictor:
    """Holds a loaded model (or another backend that gives logits) and tokenizer; `predict` is
    batched, longest-first, no gradients. What the outputs mean (classes, tags, a value) is the
    task's the model was trained for."""

    def __init__(self, model, tokenizer, labels: list[str], max_length: int, truncation: str,
                 text_column: str | None = None, text_pair_column: str | None = None,
                 cleaning: CleaningOptions | None = None, task: "Task | None" = None,
                 backend=None) -> None:
        # `model`: a PyTorch model (`backend` then wraps it), or None with another `backend`.
        self.backend = backend or TorchBackend(model)
        self.model = self.backend.model if isinstance(self.backend, TorchBackend) else model
        self.tokenizer = tokenizer
        self.labels = labels
        self.task = task or task_of_model(self.config)
        self.max_length = max_length
        self.truncation = truncation
        self.text_column = text_column
        self.text_pair_column = text_pair_column
        # The same cleaning as in training: the model must see text the way it learned it.
        self.cleaning = cleaning or CleaningOptions()

    @property
    def config(self):
        """The saved model's config: labels, task, thresholds; what the task's outputs read."""
        return self.backend.config

    @classmethod
    def load(cls, path: str | Path, backend: str = "torch") -> "Predictor":
        """A run folder (uses its model/, its max length, truncation and text columns) or a model
        folder. `backend="onnx"`: the run's ONNX export instead (export/onnx_backend.py), the int8
        model where one was exported; the same outputs, read through ONNX Runtime."""
        from bertstudio.models import load_tokenizer, load_trained

        if backend == "onnx":
            from bertstudio.export.onnx_backend import load_onnx_predictor

            return load_onnx_predictor(path)
        if backend != "torch":
            raise StudioError(f"There is no backend '{backend}'; choose torch or onnx.")
        path = Path(path)
        settings, columns = run_settings(path)
        folder = model_dir_of(path)
        model, tokenizer = load_trained(folder), load_tokenizer(str(folder))
        return cls.from_parts(model.config, tokenizer, settings, columns, model=model)

    @classmethod
    def from_parts(cls, model_config, tokenizer, settings: dict, columns: dict, *, model=None,
                   backend=None) -> "Predictor":
        """A predictor from a saved model's config, its tokenizer, the run's settings (max length,
        truncation, cleaning) and text columns, over `model` or another `backend`."""
        id2label = model_config.id2label or {}
        labels = [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model_config.num_labels)]
        max_length = settings.get("max_length", 0)
        model_limit = getattr(model_config, "max_position_embeddings", 512)
        return cls(model, tokenizer, labels,
                   max_length=max_length or min(512, model_limit),
                   truncation=settings.get("truncation", "start"),
                   text_column=columns.get("text"), text_pair_column=columns.get("text_pair"),
                   cleaning=CleaningOptions.from_settings(settings), backend=backend)

    def predict(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
                batch_size: int = 64, on_batch: Callable[[int], None] | None = None,
                max_text_chars: int = MAX_TEXT_CHARS) -> list[Prediction]:
        """`on_batch(rows_done)` is called after every batch, so a caller can show real progress.
        A text longer than `max_text_chars` is refused before cleaning or tokenizing it costs memory
        (a shared deployment passes its own, smaller limit)."""
        logits = self.logits(texts, pairs, batch_size=batch_size, on_batch=on_batch,
                             max_text_chars=max_text_chars)
        return self.task.predictions(logits, self.config) if len(logits) else []

    @torch.no_grad()
    def logits(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
               batch_size: int = 64, on_batch: Callable[[int], None] | None = None,
               max_text_chars: int = MAX_TEXT_CHARS) -> "np.ndarray":
        """The backend's raw outputs for each text, in the texts' order ([rows, outputs])."""
        from bertstudio.training.batching import EncodedExamples, PaddingCollator, length_sorted_indices
        from bertstudio.text.tokenization import encode_examples

        texts = ["" if t is None else str(t) for t in texts]
        pairs = None if pairs is None else ["" if p is None else str(p) for p in pairs]
        for name, column in (("text", texts), ("second text", pairs or [])):
            for row, value in enumerate(column):
                what = f"The {name}" if len(column) == 1 else f"Row {row + 1:,}'s {name}"
                check_text_length(value, max_text_chars, what)
        texts = clean_texts(texts, self.cleaning)
        if pairs is not None:
            pairs = clean_texts(pairs, self.cleaning)
        logits = torch.empty((len(texts), self.config.num_labels))
        if not texts:
            return logits.numpy()
        encoded = encode_examples(self.tokenizer, list(texts), list(pairs) if pairs is not None else None,
                                  max_length=self.max_length, truncation=self.truncation)
        dataset = EncodedExamples(encoded["input_ids"], encoded["token_type_ids"])
        collate = PaddingCollator(self.tokenizer.pad_token_id or 0)
        order = length_sorted_indices(dataset.lengths)
        for start in range(0, len(order), batch_size):
            batch = collate([dataset[i] for i in order[start:start + batch_size]])
            index = batch.pop("index")
            batch.pop("num_tokens")
            logits[index] = self.backend.logits(batch)
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)))
        return logits.numpy()

    def predict_table(self, table, text_column: str | None = None, text_pair_column: str | None = None,
                      batch_size: int = 64, on_batch: Callable[[int], None] | None = None
                      ) -> tuple[list[str], list[list[str]]]:
        """A table's rows with the task's columns appended (single-label: `predicted_label` and one
        `prob_<label>` per class), under the file's own header as it wrote it (blank and repeated
        names kept)."""
        text_column = text_column or self.text_column
        text_pair_column = text_pair_column if text_pair_column is not None else self.text_pair_column
        if not text_column or text_column not in table.columns:
            if len(table.columns) == 1:
                text_column = table.columns[0]
            else:
                wanted = f"'{text_column}'" if text_column else "a text column"
                raise StudioError(f"The file has no column {wanted}; its columns are: "
                                  f"{', '.join(table.columns)}. Choose the column that holds the text.")
        if text_pair_column and text_pair_column not in table.columns:
            raise StudioError(f"This model reads pairs of texts, but the file has no column "
                              f"'{text_pair_column}'; its columns are: {', '.join(table.columns)}.")
        text_at = table.columns.index(text_column)
        pair_at = table.columns.index(text_pair_column) if text_pair_column else None
        texts = [row[text_at] for row in table.rows]
        pairs = [row[pair_at] for row in table.rows] if pair_at is not None else None
        predictions = self.predict(texts, pairs, batch_size=batch_size, on_batch=on_batch)
        own_header = table.raw_header or table.columns
        config = self.config
        header = list(own_header) + self.task.output_columns(config)
        rows = [list(row) + self.task.output_cells(p, config) for row, p in zip(table.rows, predictions)]
        return header, rows

    def predict_csv(self, source: str | Path, output: str | Path, text_column: str | None = None,
                    text_pair_column: str | None = None, *, sheet: str | None = None) -> Path:
        """Predict a file (`sheet`: which sheet of an Excel workbook; default the first) and write it
        to `output` in the format its name asks for (`write_predictions`); despite the name, not
        only CSV."""
        from bertstudio.data.tabular import read_table

        table = read_table(source, sheet=sheet)
        header, rows = self.predict_table(table, text_column, text_pair_column)
        return write_predictions(output, header, rows, table, self.config)


def run_settings(path: Path) -> tuple[dict, dict]:
    """A run's settings (config.json as a mapping) and text columns (data.json); both empty for
    a bare model folder. StudioError when there is nothing at `path` or the run is damaged."""
    if not path.exists():
        raise StudioError(f"There is no model at '{path}'; pass a run folder or a saved model folder.")
    run = read_run(path)  # the run's typed config and data record; None for a bare model folder
    if run is not None and run.damage:
        raise StudioError(run.damage)
    settings = run.config.to_dict() if run is not None and run.config is not None else {}
    columns = run.data_record.get("columns") or {} if run is not None else {}
    return settings, columns


def write_predictions(output: str | Path, header: Sequence[str], rows: Sequence[Sequence[str]],
                      table: "Table", model_config) -> Path:
    """A predicted table written in the format `output`'s name asks for (.csv, .tsv, .xlsx, .json,
    .jsonl, .parquet), its own columns in the types `table` held them, a multi-label model's
    `predicted_labels` as lists where the format has lists; any other name gets CSV, as it always
    did. The one place that decides how predictions are written, for every caller."""
    if Path(output).suffix.lower() not in WRITABLE:
        return write_safe_csv(output, list(header), [list(row) for row in rows])
    # The tags were joined by the training file's separator (output_cells); split them back there.
    separator = getattr(model_config, "bertstudio_label_separator", None)
    lists = {"predicted_labels": separator} if separator and "predicted_labels" in header else None
    return write_rows(output, header, rows, like=table, list_columns=lists)
