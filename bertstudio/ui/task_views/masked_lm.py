"""Continued pretraining (adapting a model to the user's texts): no classes and nothing to
predict, so its results are the masked-LM numbers and its Predict answer points to fine-tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bertstudio.ui.task_views.base import Answer, DataCharts, DataFacts, ResultsFacts, Rows

if TYPE_CHECKING:
    from bertstudio.tasks.base import Prediction

FINE_TUNE_FIRST = ("This run adapted a model to your texts; it predicts no labels. Pick it as the model on the "
                   "Tokenizer tab and train on a labelled file, then predict with that run.")


class MaskedLMView:
    name = "masked_lm"
    title = "Adapt the model to your texts"
    words = "adaptation"
    plan_words = ", guessing hidden words of the texts (continued pretraining)"
    label_sets = False
    misses_title = "Validation texts whose hidden words were hardest to guess"
    by_confidence = False
    results_table = False
    answer_views = frozenset({"text"})

    def data_charts(self, facts: DataFacts) -> DataCharts:
        from bertstudio.ui.charts import empty_figure, new_figure

        return DataCharts(empty_figure(new_figure("Texts"), "Continued pretraining reads the texts only"))

    def results_figure(self, results: ResultsFacts) -> Any:
        """The final masked-LM numbers in words: the results carry no per-evaluation history (the
        Train tab's loss chart and the perplexity chart beside it draw that from the run's log)."""
        from bertstudio.ui.charts import empty_figure, new_figure

        metrics = results.metrics or {}
        parts = [words.format(metrics[key]) for key, words in
                 (("loss", "Loss on hidden words: {:.3f}"), ("perplexity", "perplexity {:,.1f}"),
                  ("accuracy", "{:.0%} of hidden words guessed right"))
                 if isinstance(metrics.get(key), (int, float)) and not isinstance(metrics.get(key), bool)]
        return empty_figure(new_figure("Adaptation"), " · ".join(parts) if parts else "No evaluation")

    def misses(self, header: list[str], table: list[list[str]]) -> Rows:
        """The validation texts with the highest loss on their hidden words, highest first."""
        if "loss" not in header:
            return header, [], 0
        at = header.index("loss")
        scored = [row for row in table if len(row) > at and row[at]]
        scored.sort(key=lambda row: -float(row[at]))
        return header, scored[:50], len(scored)

    def value_pairs(self, header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
        return [], []

    def labels_cell(self, labels: list[str]) -> str:
        return "—"

    def targets_words(self, labels: list[str]) -> str:
        return "guessing hidden words of your texts"

    def meaning(self, labels: list[str], label_column: str | None, data: dict) -> str:
        return FINE_TUNE_FIRST

    def waiting(self) -> Answer:
        return Answer(text=FINE_TUNE_FIRST)

    def answer(self, prediction: "Prediction", model_config: Any, data: dict) -> Answer:
        return Answer(text=FINE_TUNE_FIRST)
