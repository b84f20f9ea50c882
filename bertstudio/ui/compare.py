"""Two to five runs side by side: their curves overlaid, their settings and final metrics in tables.

No gradio: runs are read from their folders into `ComparedRun`s, and the figures and tables are
pure functions of those, tested as data. Runs of different tasks share no metric, so they compare
on loss, and the metric chart says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from bertstudio.errors import StudioError
from bertstudio.tasks.wording import metric_name
from bertstudio.ui.charts import empty_figure, new_figure, plain, smooth
from bertstudio.ui.results_text import number
from bertstudio.ui.run_diff import settings_side_by_side

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertstudio.ui.history import TrainHistory

FEWEST, MOST = 2, 5
# One colour per run, told apart on any screen and by most colour-blind readers (Okabe–Ito).
RUN_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00")
# Amber 100 behind dark text: a setting that differs, readable in the light and the dark theme alike.
HIGHLIGHT = "background-color: #fef3c7; color: #1f2937; font-weight: 600"
MULTI_TASK = ("These runs are of different tasks ({tasks}), so they share no score: they compare on loss "
              "(left). Pick runs of one task to see their {kind} overlaid.")


@dataclass
class ComparedRun:
    """What the comparison needs of one run, read once from its folder."""

    run_id: str
    name: str            # the run's name, or the end of its id: the legend's and the columns' words
    task: str
    headline: str        # the metric its best model was chosen by
    history: "TrainHistory"
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = ""


def check_selection(run_ids: Sequence[str] | None) -> list[str]:
    """The picked run ids, in the order picked; StudioError unless there are two to five."""
    picked = list(dict.fromkeys(run_ids or []))
    if len(picked) < FEWEST:
        raise StudioError(f"Pick at least {FEWEST} runs to compare (you picked {len(picked)}).")
    if len(picked) > MOST:
        raise StudioError(f"Pick at most {MOST} runs to compare (you picked {len(picked)}); remove some from "
                          "the list.")
    return picked


def read_compared(run_dir: str | Path) -> ComparedRun:
    """One run folder read for comparison; StudioError when it is gone or cannot be read."""
    from bertstudio.runs.folder import read_run
    from bertstudio.ui.results import headline, history_of, task_of

    record = read_run(run_dir)
    if record is None or record.damage:
        raise StudioError(f"The run {Path(run_dir).name} is gone or damaged; press Refresh and pick again.")
    config = record.config.to_dict() if record.config is not None else {}
    name = config.get("run_name") or record.run_id[-12:]
    return ComparedRun(run_id=record.run_id, name=str(name), task=task_of(record), headline=headline(record)[0],
                       history=history_of(run_dir).history, config=config, metrics=record.metrics,
                       status=record.status)


def distinct_names(runs: Sequence[ComparedRun]) -> list[str]:
    """Each run's column and legend words; two runs of one name get the end of their id added."""
    names = [run.name for run in runs]
    return [f"{name} ({run.run_id[-6:]})" if names.count(name) > 1 else name for name, run in zip(names, runs)]


def one_task(runs: Sequence[ComparedRun]) -> bool:
    return len({run.task for run in runs}) == 1


def loss_overlay_figure(runs: Sequence[ComparedRun]) -> "go.Figure":
    """Each run's training loss (smoothed, solid) and validation loss (dotted, with markers) in its
    own colour, over training steps."""
    import plotly.graph_objects as go

    fig = new_figure("Loss, run by run", x_title="step", y_title="loss")
    if not any(run.history.step or run.history.eval_step for run in runs):
        return empty_figure(fig, "None of these runs has logged a step yet.")
    for run, name, colour in zip(runs, distinct_names(runs), RUN_COLOURS):
        history = run.history
        if history.step:
            fig.add_trace(go.Scatter(x=list(history.step), y=smooth(history.loss), mode="lines",
                                     name=plain(f"{name} · training"), legendgroup=run.run_id,
                                     line={"color": colour, "width": 2.5}))
        points = [(s, v) for s, v in zip(history.eval_step, history.eval_loss) if v is not None]
        if points:
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], mode="lines+markers",
                                     name=plain(f"{name} · validation"), legendgroup=run.run_id,
                                     line={"color": colour, "width": 2, "dash": "dot"}, marker={"size": 7}))
    return fig


def metric_overlay_figure(runs: Sequence[ComparedRun]) -> "go.Figure":
    """The task's headline metric at each evaluation, one line per run; runs of different tasks
    get the sentence saying they compare on loss only."""
    import plotly.graph_objects as go

    metric = _shared_headline(runs)
    fig = new_figure(f"Validation {metric_name(metric)}, run by run" if metric else "Validation score",
                     x_title="step", y_title=metric_name(metric) if metric else "")
    if not one_task(runs):
        tasks = ", ".join(sorted({run.task.replace("_", "-") for run in runs}))
        return empty_figure(fig, MULTI_TASK.format(tasks=tasks, kind="scores"))
    drawn = False
    for run, name, colour in zip(runs, distinct_names(runs), RUN_COLOURS):
        values = run.history.eval_scores.get(metric, [])
        points = [(s, v) for s, v in zip(run.history.eval_step, values) if v is not None]
        if points:
            drawn = True
            fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], mode="lines+markers",
                                     name=plain(name), line={"color": colour, "width": 2.5}, marker={"size": 7}))
    if not drawn:
        return empty_figure(fig, f"None of these runs has reported its {metric_name(metric)} yet: it appears "
                                 "after each run's first evaluation.")
    return fig


def _shared_headline(runs: Sequence[ComparedRun]) -> str | None:
    """The metric to chart: the headline most of the runs were chosen by (the first run's on a tie)."""
    if not runs or not one_task(runs):
        return None
    names = [run.headline for run in runs]
    return max(dict.fromkeys(names), key=names.count)


def settings_table(runs: Sequence[ComparedRun], only_differences: bool = False) -> dict[str, Any]:
    """The runs' settings side by side as a Dataframe value: the rows that differ first (in the
    form's order) and highlighted, then the shared ones. Of some fifty settings two or three
    differ; at the form's place they would sit below the table's fold, out of sight."""
    rows, differs = settings_side_by_side([run.config for run in runs], only_differences)
    order = sorted(range(len(rows)), key=lambda i: not differs[i])
    rows, differs = [rows[i] for i in order], [differs[i] for i in order]
    headers = ["setting", *distinct_names(runs)]
    styling = [[HIGHLIGHT if different else ""] * len(headers) for different in differs]
    return {"headers": headers, "data": rows, "metadata": {"display_value": rows, "styling": styling}}


def _scalar_metrics(metrics: dict[str, Any]) -> list[str]:
    return [name for name, value in metrics.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)]


def metrics_table(runs: Sequence[ComparedRun]) -> dict[str, Any]:
    """Every run's final metrics in one table: the headline first, then the loss, then the rest in
    the order the runs report them; "—" where a run lacks one (another task, or no end yet)."""
    order: list[str] = []
    for run in runs:
        for name in [run.headline, "loss", *_scalar_metrics(run.metrics)]:
            if name not in order and any(name in _scalar_metrics(r.metrics) for r in runs):
                order.append(name)
    rows = [[metric_name(name), *(number(run.metrics.get(name)) for run in runs)] for name in order]
    return {"headers": ["metric", *distinct_names(runs)], "data": rows}


def compare_note(runs: Sequence[ComparedRun]) -> str:
    """The sentence above the comparison: what is compared, and why scores are missing if they are."""
    names = ", ".join(distinct_names(runs))
    if not one_task(runs):
        return (f"Comparing {names}. They are of different tasks, so they compare on loss; the final "
                "metrics table shows each run's own scores.")
    unfinished = [name for name, run in zip(distinct_names(runs), runs) if run.status != "finished"]
    tail = f" Not finished: {', '.join(unfinished)} (their curves stop where they stopped)." if unfinished else ""
    return f"Comparing {names}.{tail}"
