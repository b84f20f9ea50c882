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
    from bertstudio.data.tabular import Table
    from bertstudio.tasks.base import Task

__all__ = ["Prediction", "Predictor", "write_predictions"]  # Prediction lives in tasks/base.py; callers still find it here


class Predictor:
    """Holds a loaded model and tokenizer; `predict` is batched, longest-first, no gradients.
    What the outputs mean (classes, tags, a value) is the task's the model was trained for."""

    def __init__(self, model, tokenizer, labels: list[str], max_length: int, truncation: str,
                 text_column: str | None = None, text_pair_column: str | None = None,
                 cleaning: CleaningOptions | None = None, task: "Task | None" = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.labels = labels
        self.task = task or task_of_model(model.config)
        self.max_length = max_length
        self.truncation = truncation
        self.text_column = text_column
        self.text_pair_column = text_pair_column
        # The same cleaning as in training: the model must see text the way it learned it.
        self.cleaning = cleaning or CleaningOptions()

    @classmethod
    def load(cls, path: str | Path) -> "Predictor":
        """A run folder (uses its model/, its max length, truncation and text columns) or a model folder."""
        from bertstudio.models import load_tokenizer, load_trained

        path = Path(path)
        if not path.exists():
            raise StudioError(f"There is no model at '{path}'; pass a run folder or a saved model folder.")
        run = read_run(path)  # the run's typed config and data record; None for a bare model folder
        if run is not None and run.damage:
            raise StudioError(run.damage)
        settings = run.config.to_dict() if run is not None and run.config is not None else {}
        columns = run.data_record.get("columns") or {} if run is not None else {}
        folder = model_dir_of(path)
        model, tokenizer = load_trained(folder), load_tokenizer(str(folder))
        id2label = model.config.id2label or {}
        labels = [str(id2label.get(i, id2label.get(str(i), f"LABEL_{i}"))) for i in range(model.config.num_labels)]
        max_length = settings.get("max_length", 0)
        model_limit = getattr(model.config, "max_position_embeddings", 512)
        cleaning = CleaningOptions.from_settings(settings)
        return cls(model, tokenizer, labels,
                   max_length=max_length or min(512, model_limit),
                   truncation=settings.get("truncation", "start"),
                   text_column=columns.get("text"), text_pair_column=columns.get("text_pair"),
                   cleaning=cleaning)

    @torch.no_grad()
    def predict(self, texts: Sequence[str], pairs: Sequence[str] | None = None,
                batch_size: int = 64, on_batch: Callable[[int], None] | None = None,
                max_text_chars: int = MAX_TEXT_CHARS) -> list[Prediction]:
        """`on_batch(rows_done)` is called after every batch, so a caller can show real progress.
        A text longer than `max_text_chars` is refused before cleaning or tokenizing it costs memory
        (a shared deployment passes its own, smaller limit)."""
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
        if not texts:
            return []
        encoded = encode_examples(self.tokenizer, list(texts), list(pairs) if pairs is not None else None,
                                  max_length=self.max_length, truncation=self.truncation)
        dataset = EncodedExamples(encoded["input_ids"], encoded["token_type_ids"])
        collate = PaddingCollator(self.tokenizer.pad_token_id or 0)
        order = length_sorted_indices(dataset.lengths)
        logits = torch.empty((len(texts), self.model.config.num_labels))
        device = next(self.model.parameters()).device
        for start in range(0, len(order), batch_size):
            batch = collate([dataset[i] for i in order[start:start + batch_size]])
            index = batch.pop("index")
            batch.pop("num_tokens")
            logits[index] = self.model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
            if on_batch is not None:
                on_batch(min(start + batch_size, len(order)))
        return self.task.predictions(logits.numpy(), self.model.config)

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
        config = self.model.config
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
        return write_predictions(output, header, rows, table, self.model.config)


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
