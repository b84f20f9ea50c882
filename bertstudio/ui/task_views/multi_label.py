"""Several labels per row: label frequency and labels per row, F1 per label, a bar per label
against its threshold and the set that passed."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from bertstudio.ui.misses import NO_LABELS, misclassified_rows_of
from bertstudio.ui.task_views.base import (Answer, DataCharts, DataFacts, ResultsFacts, Rows, classes_meaning,
                                          count_cell)

if TYPE_CHECKING:
    from bertstudio.tasks.base import Prediction


class MultiLabelView:
    name = "multi_label"
    title = "Several labels per row"
    words = "multi-label"
    plan_words = ", several labels per row"
    label_sets = True
    misses_title = "Validation rows given a wrong set of labels"
    by_confidence = True
    results_table = True
    answer_views = frozenset({"chart", "text"})

    def data_charts(self, facts: DataFacts) -> DataCharts:
        from bertstudio.ui import task_charts

        counts = facts.counts
        per_row = facts.per_row if facts.per_row is not None else labels_per_row(facts.targets)
        return DataCharts(task_charts.label_frequency_figure(counts, facts.rows,
                                                             f"Rows per label ({len(counts)} labels)"),
                          task_charts.labels_per_row_figure(per_row))

    def results_figure(self, results: ResultsFacts) -> Any:
        from bertstudio.ui.task_charts import per_label_f1_figure

        return per_label_f1_figure(results.metrics.get("per_label") or {})

    def misses(self, header: list[str], table: list[list[str]]) -> Rows:
        headers, rows, total = misclassified_rows_of(header, table)
        # An empty set of tags is an answer too: say so rather than leave a blank.
        at = [i for i, name in enumerate(headers) if name in ("gold", "predicted")]
        return headers, [[NO_LABELS if i in at and not cell else cell for i, cell in enumerate(row)]
                         for row in rows], total

    def value_pairs(self, header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
        return [], []

    def labels_cell(self, labels: list[str]) -> str:
        return count_cell(labels)

    def targets_words(self, labels: list[str]) -> str:
        return f"{len(labels)} labels (any number per row)"

    def meaning(self, labels: list[str], label_column: str | None, data: dict) -> str:
        return ("Labels (any number per text, each decided at its own threshold): "
                + classes_meaning(labels, label_column, data.get("file_name")).removeprefix("Classes: "))

    def waiting(self) -> Answer:
        from bertstudio.ui.task_charts import label_probabilities_figure

        return Answer(chart=label_probabilities_figure({}, {}, []),
                      text="Type a text and press **Predict** to see each label's probability.")

    def answer(self, prediction: "Prediction", model_config: Any, data: dict) -> Answer:
        from bertstudio.ui.results_text import label_set_words
        from bertstudio.ui.task_charts import label_probabilities_figure

        thresholds = prediction.thresholds or getattr(model_config, "bertstudio_thresholds", None) or {}
        chosen = list(prediction.labels or [])
        return Answer(chart=label_probabilities_figure(dict(prediction.probabilities), dict(thresholds), chosen),
                      text=label_set_words(chosen))


def labels_per_row(targets: list[Any]) -> dict[int, int]:
    """Rows by how many labels they carry (multi-hot rows: their sum), fewest first."""
    return dict(sorted(Counter(int(round(sum(row))) for row in targets).items()))
