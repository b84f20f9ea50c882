"""What a run scored and what a model predicts, as Markdown and table rows (Train, Runs and Predict tabs).

Label names come from the user's file, so the Markdown here passes them through `render.md_escape`.
"""

from __future__ import annotations

from typing import Any

from bertstudio.tasks.wording import metric_name
from bertstudio.ui.markup import md_escape


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _scores(metrics: dict[str, Any], names: tuple[str, ...], suffix: str = "") -> list[str]:
    """"**Macro F1:** 0.4123" for each of `names` (read under `name + suffix`) the metrics hold."""
    return [f"**{_capital(metric_name(name + suffix))}:** {metrics[name + suffix]:.4f}" for name in names
            if isinstance(metrics.get(name + suffix), (int, float))]


MULTI_LABEL_SCORES = ("macro_f1", "micro_f1", "subset_accuracy")
REGRESSION_SCORES = ("pearson", "spearman", "rmse", "mae", "r2")


def metrics_summary(metrics: dict[str, Any]) -> str:
    """Headline validation numbers as Markdown, for whichever task the metrics come from: a
    multi-label run's scores both at its tuned thresholds and at 0.5, each line named as such."""
    if not metrics:
        return "No evaluation was completed."
    tail = _scores(metrics, ("loss",))
    if metrics.get("best_step") is not None:
        tail.append(f"**Best step:** {metrics['best_step']}")
    if any(f"{name}_at_0.5" in metrics for name in MULTI_LABEL_SCORES):
        lines = [("**At the tuned thresholds** (one per label, chosen on the validation rows)",
                  _scores(metrics, MULTI_LABEL_SCORES)),
                 ("**At a fixed threshold of 0.5**", _scores(metrics, MULTI_LABEL_SCORES, "_at_0.5"))]
        return "\n\n".join([f"{title}: " + " · ".join(parts) for title, parts in lines if parts]
                            + ([" · ".join(tail)] if tail else []))
    names = REGRESSION_SCORES if "pearson" in metrics or "rmse" in metrics else ("accuracy", "macro_f1")
    return " · ".join(_scores(metrics, names) + tail)


LEARNED_NOTHING = "learned nothing"  # the mark a run's status and picker entries carry


def warning_markdown(warning: str | None) -> str:
    """A run's learned-nothing sentence as a Markdown paragraph ("" when there is none); label
    names inside it came from the user's file, so it is escaped."""
    if not warning:
        return ""
    return f"⚠️ **The model learned nothing useful.** {md_escape(warning)}"


def number(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.2e}"
    return "—" if value is None else str(value)


def per_class_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    return [[label, number(m.get("precision")), number(m.get("recall")), number(m.get("f1")),
             m.get("support")] for label, m in (metrics.get("per_class") or {}).items()]


PER_CLASS_HEADERS = ["label", "precision", "recall", "F1", "rows"]
# F1 and its threshold first: on a phone the table scrolls, and these are what its reader is after.
PER_LABEL_HEADERS = ["label", "F1", "threshold", "precision", "recall", "rows"]


def per_label_rows(metrics: dict[str, Any]) -> list[list[Any]]:
    """Multi-label: each tag's numbers at its own tuned threshold, in label order."""
    thresholds = metrics.get("thresholds") or {}
    rows = []
    for label, m in (metrics.get("per_label") or {}).items():
        threshold = m.get("threshold", thresholds.get(label))
        rows.append([label, number(m.get("f1"), 3),
                     number(threshold, 2) if isinstance(threshold, float) else number(threshold),
                     number(m.get("precision"), 3), number(m.get("recall"), 3), m.get("support")])
    return rows


def results_table(metrics: dict[str, Any]) -> tuple[str, list[str], list[list[Any]]]:
    """The table beside the results chart: (its label, headers, rows). Per class for one label
    per row, per label with its threshold for several; none (no rows) for a score."""
    if metrics.get("per_label"):
        return ("Per label (validation; each label decided at its own tuned threshold)", PER_LABEL_HEADERS,
                per_label_rows(metrics))
    if "pearson" in metrics or "rmse" in metrics:
        return "Per class", PER_CLASS_HEADERS, []
    return "Per class", PER_CLASS_HEADERS, per_class_rows(metrics)


def value_words(value: float, stats: dict[str, Any] | None = None) -> str:
    """A regression prediction as Markdown, with the training values' range for scale."""
    stats = stats or {}
    line = f"### Predicted value: {value:.4g}"
    low, high = stats.get("min"), stats.get("max")
    if isinstance(low, (int, float)) and isinstance(high, (int, float)):
        line += f"\n\nThe training values ran from {low:.4g} to {high:.4g}"
        mean = stats.get("mean")
        line += f" (mean {mean:.4g})." if isinstance(mean, (int, float)) else "."
        if value < low or value > high:
            line += " This prediction lies outside that range, where the model has seen no examples."
    elif isinstance(stats.get("mean"), (int, float)) and isinstance(stats.get("std"), (int, float)):
        line += f"\n\nThe training values averaged {stats['mean']:.4g} (standard deviation {stats['std']:.4g})."
    return line


def label_set_words(labels: list[str]) -> str:
    """A multi-label prediction's set as Markdown: the tags, or that none passed its threshold."""
    if not labels:
        return "### Predicted labels: none\n\nNo label's probability reached its threshold."
    return "### Predicted labels: " + ", ".join(f"**{md_escape(label)}**" for label in labels)
