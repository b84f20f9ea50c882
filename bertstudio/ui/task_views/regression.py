"""A number per row: the values' histogram, predicted against true, the largest misses, and the
predicted value beside the training values' range."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertstudio.ui import misses
from bertstudio.ui.markup import md_escape
from bertstudio.ui.task_views.base import Answer, DataCharts, DataFacts, ResultsFacts, Rows

if TYPE_CHECKING:
    from bertstudio.tasks.base import Prediction


class RegressionView:
    name = "regression"
    title = "A number (score)"
    words = "regression"
    plan_words = ", a number per row"
    label_sets = False
    misses_title = "Largest misses: the validation rows furthest from their true value"
    by_confidence = False  # furthest first, whatever the file says
    results_table = False  # no classes: the scatter says what such a table would
    answer_views = frozenset({"text"})

    def data_charts(self, facts: DataFacts) -> DataCharts:
        from bertstudio.ui.task_charts import value_histogram_figure

        return DataCharts(value_histogram_figure(user_values(facts),
                                                 name=facts.names[0] if facts.names else "the value"))

    def results_figure(self, results: ResultsFacts) -> Any:
        from bertstudio.ui.task_charts import regression_scatter_figure

        return regression_scatter_figure(results.gold, results.predicted, results.target)

    def misses(self, header: list[str], table: list[list[str]]) -> Rows:
        return misses.largest_misses(header, table)

    def value_pairs(self, header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
        return misses.value_pairs(header, table)

    def labels_cell(self, labels: list[str]) -> str:
        return "—"  # its one "label" is the column it predicts

    def targets_words(self, labels: list[str]) -> str:
        return f"predicting the value of {labels[0]!r}" if labels else "predicting a value"

    def meaning(self, labels: list[str], label_column: str | None, data: dict) -> str:
        column = label_column or (labels[0] if labels else "value")
        stats = target_stats(data)
        span = (f" (from {stats['min']:.4g} to {stats['max']:.4g} in the training rows)"
                if isinstance(stats.get("min"), (int, float)) and isinstance(stats.get("max"), (int, float)) else "")
        return f"Predicts a number: the value of column **{md_escape(column)}**{span}"

    def waiting(self) -> Answer:
        return Answer(text="Type a text and press **Predict** to see the value the model gives it.")

    def answer(self, prediction: "Prediction", model_config: Any, data: dict) -> Answer:
        from bertstudio.ui.results_text import value_words

        value = prediction.value if prediction.value is not None else float(prediction.label)
        return Answer(text=value_words(value, target_stats(data)))


def user_values(facts: DataFacts) -> list[float]:
    """The kept values in the user's units: the prepared targets are held standardised."""
    if not facts.targets or "mean" not in facts.stats:
        return []
    mean, std = facts.stats["mean"], facts.stats["std"]
    return [float(z) * std + mean for z in facts.targets]


def target_stats(data: dict) -> dict:
    """The training values' numbers (min, max, mean, std) from a run's data.json."""
    space = data.get("space") or {}
    stats = space.get("stats") if isinstance(space, dict) else None
    stats = stats if isinstance(stats, dict) else data.get("stats")
    return stats if isinstance(stats, dict) else {}
