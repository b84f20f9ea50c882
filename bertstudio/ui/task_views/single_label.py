"""One label per row: the class balance, the confusion matrix, a probability per class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertstudio.ui.misses import misclassified_rows_of
from bertstudio.ui.task_views.base import (Answer, DataCharts, DataFacts, ResultsFacts, Rows, classes_meaning,
                                          count_cell)

if TYPE_CHECKING:
    from bertstudio.tasks.base import Prediction


class SingleLabelView:
    name = "single_label"
    title = "One label per row"
    words = "single-label"
    plan_words = ""  # the plain case says nothing more
    label_sets = False
    misses_title = "Misclassified validation rows"
    by_confidence = True
    results_table = True
    answer_views = frozenset({"label"})

    def data_charts(self, facts: DataFacts) -> DataCharts:
        from bertstudio.ui.charts import label_distribution_figure

        counts = facts.counts
        return DataCharts(label_distribution_figure(
            counts, f"Rows per label ({len(counts)} labels)" if counts else "Rows per label"))

    def results_figure(self, results: ResultsFacts) -> Any:
        from bertstudio.ui import charts, task_charts

        if results.metrics.get("per_label"):  # metrics that are a multi-label run's whatever the record says
            return task_charts.per_label_f1_figure(results.metrics["per_label"])
        return charts.confusion_figure(results.confusion, results.labels)

    def misses(self, header: list[str], table: list[list[str]]) -> Rows:
        return misclassified_rows_of(header, table)

    def value_pairs(self, header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
        return [], []

    def labels_cell(self, labels: list[str]) -> str:
        return count_cell(labels)

    def targets_words(self, labels: list[str]) -> str:
        return f"{len(labels)} classes"

    def meaning(self, labels: list[str], label_column: str | None, data: dict) -> str:
        return classes_meaning(labels, label_column, data.get("file_name"))

    def waiting(self) -> Answer:
        return Answer(text="")

    def answer(self, prediction: "Prediction", model_config: Any, data: dict) -> Answer:
        return Answer(label=dict(prediction.probabilities))
