"""How tasks, the model card, the CLI and the UI write values for people: shortened names, metric
names, numbers, Markdown cells."""

from __future__ import annotations

from typing import Any, Sequence


def short(text: str, limit: int = 40) -> str:
    """A label cut to `limit` characters, so one long name cannot take over a sentence."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def some_names(labels: Sequence[str], limit: int = 5) -> str:
    """"'a', 'b' and 3 more": the first few names of a list, quoted, for a sentence."""
    shown = ", ".join(repr(short(label)) for label in labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


METRIC_NAMES = {
    "accuracy": "accuracy", "macro_f1": "macro F1", "micro_f1": "micro F1",
    "subset_accuracy": "exact-match accuracy", "pearson": "Pearson", "spearman": "Spearman",
    "rmse": "RMSE", "mae": "MAE", "r2": "R²", "loss": "validation loss",
}


def metric_name(name: str) -> str:
    """A metric as people read it: "macro F1", "macro F1 at 0.5", "RMSE"."""
    base, at_half = (name[:-len("_at_0.5")], True) if name.endswith("_at_0.5") else (name, False)
    words = METRIC_NAMES.get(base, base.replace("_", " "))
    return f"{words} at 0.5" if at_half else words


def number(value: Any) -> str:
    """Numbers as the model card prints them: 4 decimals, or scientific when tiny; None as a dash."""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return "—" if value is None else str(value)


def table_cell(value: Any) -> str:
    """A Markdown table cell: pipes and newlines would break the table."""
    return number(value).replace("|", "\\|").replace("\n", " ")
