"""Step 6, Runs: every run with status, date, model, data and scores; open one, or delete it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import charts, render
from bertstudio.ui.results import (RUNS_HEADERS, history_of, model_zip, read_results, run_choice_label,
                                   runs_rows, settings_rows)
from bertstudio.ui.session import BrowserMemory


@dataclass
class RunsTab:
    table: gr.Dataframe
    refresh: gr.Button
    picker: gr.Dropdown
    delete: gr.Button
    confirm: gr.Button
    problem: gr.HTML
    detail: gr.Column
    summary: gr.Markdown
    loss_chart: gr.Plot
    metrics_chart: gr.Plot
    confusion: gr.Plot
    per_class: gr.Dataframe
    settings: gr.Dataframe
    downloads: gr.File

    @property
    def detail_outputs(self) -> list[Any]:
        return [self.detail, self.summary, self.loss_chart, self.metrics_chart, self.confusion, self.per_class,
                self.settings, self.downloads, self.confirm, self.problem]


def build() -> RunsTab:
    gr.Markdown("Every run in the runs folder, newest first. Open one to see its charts, settings and "
                "downloads.", elem_classes="tab-intro")
    table = gr.Dataframe(headers=RUNS_HEADERS, interactive=False, wrap=True, max_height=300, label="Runs",
                         elem_id="runs-table")
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(label="Open a run", choices=[], value=None, scale=4, elem_id="runs-picker")
        refresh = gr.Button("Refresh list", size="md", scale=1, min_width=120, elem_classes="align-end")
        delete = gr.Button("Delete this run", variant="stop", size="md", scale=1, min_width=140,
                           elem_id="runs-delete", elem_classes="align-end")
    confirm = gr.Button("Yes, delete it for good", variant="stop", visible=False, elem_id="runs-confirm")
    problem = gr.HTML(elem_id="runs-problem")
    with gr.Column(visible=False) as detail:
        summary = gr.Markdown(elem_id="runs-summary")
        with gr.Row(equal_height=True):
            loss_chart = gr.Plot(show_label=False, min_width=320)
            metrics_chart = gr.Plot(show_label=False, min_width=320)
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):
                per_class = gr.Dataframe(headers=render.PER_CLASS_HEADERS, label="Per class", interactive=False)
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False)
            with gr.Column(min_width=320):
                confusion = gr.Plot(show_label=False)
        settings = gr.Dataframe(headers=["setting", "value"], label="Settings of this run", interactive=False,
                                max_height=360, wrap=True)
    return RunsTab(table=table, refresh=refresh, picker=picker, delete=delete, confirm=confirm, problem=problem,
                   detail=detail, summary=summary, loss_chart=loss_chart, metrics_chart=metrics_chart,
                   confusion=confusion, per_class=per_class, settings=settings, downloads=downloads)


# --- handlers ------------------------------------------------------------------------------------

def visible_runs(runs_dir: Path, memory_value: Any, private: bool) -> list:
    """The runs this visitor may see: all of them on a personal install, only their own on a shared one."""
    from bertstudio.runs import list_runs

    summaries = list_runs(runs_dir)
    if not private:
        return summaries
    own = set(BrowserMemory.from_value(memory_value).runs)
    return [s for s in summaries if s.run_id in own]


def refresh(runs_dir: Path, private: bool, memory_value: Any, current: str | None) -> tuple[Any, Any]:
    """Outputs: the table, the picker (keeping the open run when it still exists)."""
    summaries = visible_runs(runs_dir, memory_value, private)
    choices = [(run_choice_label(s), s.run_id) for s in summaries]
    ids = {s.run_id for s in summaries}
    return ({"headers": RUNS_HEADERS, "data": runs_rows(summaries)},
            gr.update(choices=choices, value=current if current in ids else None))


def open_run(runs_dir: Path, private: bool, downloads: Callable[[], Path], memory_value: Any,
             run_id: str | None) -> list[Any]:
    """Show one run: its charts rebuilt from events.jsonl, results, settings and downloads."""
    hidden = [gr.update(visible=False)] + [gr.skip()] * 7 + [gr.update(visible=False), ""]
    if not run_id:
        return hidden
    if run_id not in {s.run_id for s in visible_runs(runs_dir, memory_value, private)}:
        return hidden[:-1] + [render.problem("That run is no longer there; press Refresh.")]
    run_dir = Path(runs_dir) / run_id
    history = history_of(run_dir).history
    results = read_results(run_dir)
    status = {"finished": "Finished", "stopped": "Stopped by the user", "failed": "Failed",
              "running": "Still training", "interrupted": "Interrupted (the app stopped before the end)"}
    summary = f"**{status.get(results.status, results.status)}** · " + render.metrics_summary(results.metrics)
    if history.status == "failed" and history.ending is not None:
        summary += "\n\n" + render.md_escape(getattr(history.ending, "message", ""))
    files = [str(p) for p in (model_zip(run_dir, downloads()), results.card) if p]
    return [gr.update(visible=True), summary, charts.loss_figure(history), charts.metrics_figure(history),
            charts.confusion_figure(results.confusion, results.labels),
            {"headers": render.PER_CLASS_HEADERS, "data": render.per_class_rows(results.metrics)},
            {"headers": ["setting", "value"], "data": settings_rows(run_dir)}, files or None,
            gr.update(visible=False), ""]


def ask_delete(run_id: str | None) -> tuple[Any, str]:
    if not run_id:
        return gr.update(visible=False), render.problem("Pick a run to delete first.")
    return gr.update(visible=True), ""


def delete(runs_dir: Path, private: bool, memory_value: Any, run_id: str | None) -> tuple[Any, ...]:
    """Delete the picked run; outputs: problem, confirm button, detail column, browser memory."""
    from bertstudio.runs import delete_run

    if not run_id or run_id not in {s.run_id for s in visible_runs(runs_dir, memory_value, private)}:
        return render.problem("Pick one of your runs to delete."), gr.update(visible=False), gr.skip(), gr.skip()
    try:
        delete_run(runs_dir, run_id)
    except StudioError as exc:
        return render.problem(exc.message), gr.update(visible=False), gr.skip(), gr.skip()
    memory = BrowserMemory.from_value(memory_value).forgetting(run_id)
    return "", gr.update(visible=False), gr.update(visible=False), memory.to_value()
