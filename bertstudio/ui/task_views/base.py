"""The UI's seam per kind of target: what a task shows on each tab, as plain values (no gradio).

A `TaskView` answers the tabs' questions: the Data tab's charts and controls, the results figure
and the misses table, the Predict tab's answer views, the words of the plan, the event log and the
runs table. The tab modules turn its figures, Markdown and flags into components' updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bertstudio.ui.markup import md_escape

if TYPE_CHECKING:
    from bertstudio.tasks.base import Prediction

Rows = tuple[list[str], list[list[str]], int]  # headers, the rows shown, how many there were in all
ANSWER_VIEWS = ("label", "chart", "text")  # the Predict tab's gr.Label, bar chart and Markdown


class ResultsFacts(Protocol):
    """What a finished run's results page knows that a view draws from (ui.results.RunResults
    has these; the views name only this, so they never import the page that asks them)."""

    metrics: dict[str, Any]
    labels: list[str]
    confusion: list[list[int]]
    gold: list[float]
    predicted: list[float]
    target: str


@dataclass
class DataFacts:
    """What the Data tab knows of the training file's targets, for the task's charts."""

    counts: dict[str, int]            # rows per class, per tag, or per value bin
    rows: int                         # rows kept
    names: list[str]                  # the target space's names (a score: its column's name)
    targets: list[Any] = field(default_factory=list)      # the kept rows' encoded targets, once prepared
    stats: dict[str, Any] = field(default_factory=dict)   # the target space's numbers (a score's mean, std)
    per_row: dict[int, int] | None = None  # rows by labels carried, from the summary when nothing was prepared


@dataclass
class DataCharts:
    """The Data tab's charts: the main one, and a second (labels per row) or None to hide it."""

    chart: Any
    second: Any = None


@dataclass
class Answer:
    """What the Predict tab shows: None leaves that view's value as it is."""

    label: dict[str, float] | None = None  # a probability per class, for gr.Label
    chart: Any = None                      # a figure
    text: str | None = None                # Markdown


class TaskView(Protocol):
    """One kind of target as the tabs show it."""

    name: ClassVar[str]             # the engine's task name
    title: ClassVar[str]            # the task switch and the Data tab's note: "Several labels per row"
    words: ClassVar[str]            # the runs table and run picker: "multi-label"
    plan_words: ClassVar[str]       # the Train tab's plan after the target column: ", a number per row"
    label_sets: ClassVar[bool]      # a set of labels per row: separator, yes/no columns, rare-label weighting
    misses_title: ClassVar[str]     # the title of the validation rows it got wrong
    by_confidence: ClassVar[bool]   # whether those rows can come most confident first
    results_table: ClassVar[bool]   # whether a per-class (or per-label) table goes beside the figure
    answer_views: ClassVar[frozenset[str]]  # which of ANSWER_VIEWS the Predict tab shows

    def data_charts(self, facts: DataFacts) -> DataCharts:
        """The Data tab's charts of the training file's targets."""

    def results_figure(self, results: ResultsFacts) -> Any:
        """The figure beside the results table."""

    def misses(self, header: list[str], table: list[list[str]]) -> Rows:
        """predictions.csv's validation rows the model got wrong, in the order worth reading."""

    def value_pairs(self, header: list[str], table: list[list[str]]) -> tuple[list[float], list[float]]:
        """(true values, predictions) for a scatter; empty for targets that are no numbers."""

    def labels_cell(self, labels: list[str]) -> str:
        """The runs table's "labels" cell."""

    def targets_words(self, labels: list[str]) -> str:
        """What the model learns to predict, as the event log's start line says it."""

    def meaning(self, labels: list[str], label_column: str | None, data: dict) -> str:
        """The Predict tab's line on what the model predicts (`data`: the run's data.json)."""

    def waiting(self) -> Answer:
        """The answer views before anything was predicted."""

    def answer(self, prediction: "Prediction", model_config: Any, data: dict) -> Answer:
        """One text's prediction in the answer views."""


def count_cell(labels: list[str]) -> str:
    """How many classes or tags, or "—" when the run recorded none."""
    return str(len(labels) or "—")


def classes_meaning(labels: list[str], label_column: str | None, file_name: str | None) -> str:
    """The classes, and where they come from: bare values like 0/1 (MRPC, RTE) mean only what they
    meant in the training file's label column, so say which column and which file that was."""
    shown = ", ".join(md_escape(label) for label in labels)
    if not label_column:
        return f"Classes: {shown}"
    column = f"column **{md_escape(label_column)}**"
    source = f" of {md_escape(file_name)}" if file_name else " of the training file"
    if all(label.strip().lstrip("+-").replace(".", "", 1).isdigit() for label in labels):
        return (f"Classes: {shown}: the values of {column}{source}, which gave them no names; "
                f"{md_escape(labels[-1])} means what it meant there")
    return f"Classes: {shown} (from {column}{source})"
