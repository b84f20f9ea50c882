"""Step 6, Runs: every run with status, date, model, data and scores; open, resume or delete one.

On a shared deployment (`private`) a browser sees only the runs its owner token started, as
recorded beside the runs by the worker; the token list in the browser's memory grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import charts, render
from bertstudio.ui.history import FollowedRun
from bertstudio.ui.results import (RUNS_HEADERS, download_files, history_of, read_results, run_choice_label,
                                   runs_rows, settings_rows)
from bertstudio.ui.session import BrowserMemory

if TYPE_CHECKING:
    from bertstudio.worker import JobManager


@dataclass
class RunsTab:
    table: gr.Dataframe
    refresh: gr.Button
    picker: gr.Dropdown
    delete: gr.Button
    resume: gr.Button
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
                self.settings, self.downloads, self.confirm, self.problem, self.resume]


def build() -> RunsTab:
    gr.Markdown("Every run in the runs folder, newest first. Open one to see its charts, settings and "
                "downloads.", elem_classes="tab-intro")
    table = gr.Dataframe(headers=RUNS_HEADERS, interactive=False, wrap=True, max_height=300, label="Runs",
                         elem_id="runs-table")
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(label="Open a run", choices=[], value=None, scale=4, elem_id="runs-picker")
        refresh = gr.Button("Refresh list", size="md", scale=1, min_width=120, elem_id="runs-refresh",
                            elem_classes="align-end")
        resume = gr.Button("Resume this run", variant="primary", size="md", scale=1, min_width=140,
                           visible=False, elem_id="runs-resume", elem_classes="align-end")
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
    return RunsTab(table=table, refresh=refresh, picker=picker, delete=delete, resume=resume, confirm=confirm,
                   problem=problem,
                   detail=detail, summary=summary, loss_chart=loss_chart, metrics_chart=metrics_chart,
                   confusion=confusion, per_class=per_class, settings=settings, downloads=downloads)


# --- handlers ------------------------------------------------------------------------------------

def visible_runs(runs_dir: Path, memory_value: Any, private: bool) -> list:
    """The runs this visitor may see: all of them on a personal install, only their own on a shared one."""
    from bertstudio.hosting import owns
    from bertstudio.runs import list_runs

    summaries = list_runs(runs_dir)
    if not private:
        return summaries
    owner = BrowserMemory.from_value(memory_value).owner
    return [s for s in summaries if owns(runs_dir, s.run_id, owner)]


def may_see(runs_dir: Path, private: bool, memory_value: Any, run_id: str | None) -> bool:
    """Whether `run_id` (a value the browser sent) names an existing run this visitor may open."""
    from bertstudio.hosting import owns
    from bertstudio.runs import CONFIG_FILE

    if not run_id or run_id.startswith(".") or any(ch in run_id for ch in "/\\\x00"):
        return False
    if not (Path(runs_dir) / run_id / CONFIG_FILE).is_file():
        return False
    return not private or owns(runs_dir, run_id, BrowserMemory.from_value(memory_value).owner)


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
    hidden = [gr.update(visible=False)] + [gr.skip()] * 7 + [gr.update(visible=False), "", gr.update(visible=False)]
    if not run_id:
        return hidden
    if not may_see(runs_dir, private, memory_value, run_id):
        return hidden[:-2] + [render.problem("That run is no longer there; press Refresh."), gr.update(visible=False)]
    run_dir = Path(runs_dir) / run_id
    history = history_of(run_dir).history
    results = read_results(run_dir)
    status = {"finished": "Finished", "stopped": "Stopped by the user", "failed": "Failed",
              "running": "Still training",
              "interrupted": "Interrupted: the app stopped before the end. Resume continues from the last "
                             "checkpoint", "damaged": "Damaged"}
    summary = f"**{status.get(results.status, results.status)}** · " + render.metrics_summary(results.metrics)
    if results.checkpoint_step is not None:
        summary += f" (the evaluation at step {results.checkpoint_step}, where its checkpoint was taken)"
    if results.damage:
        summary = f"**{status['damaged']}** · " + render.md_escape(results.damage)
    if history.status == "failed" and history.ending is not None:
        summary += "\n\n" + render.md_escape(getattr(history.ending, "message", ""))
    return [gr.update(visible=True), summary, charts.loss_figure(history), charts.metrics_figure(history),
            charts.confusion_figure(results.confusion, results.labels),
            {"headers": render.PER_CLASS_HEADERS, "data": render.per_class_rows(results.metrics)},
            {"headers": ["setting", "value"], "data": settings_rows(run_dir)},
            download_files(run_dir, downloads()) or None, gr.update(visible=False), "",
            gr.update(visible=results.resumable)]


def ask_delete(run_id: str | None) -> tuple[Any, str]:
    if not run_id:
        return gr.update(visible=False), render.problem("Pick a run to delete first.")
    return gr.update(visible=True), ""


def delete(runs_dir: Path, private: bool, memory_value: Any, run_id: str | None) -> tuple[Any, ...]:
    """Delete the picked run; outputs: problem, confirm button, detail column, browser memory."""
    from bertstudio.hosting import forget_owner
    from bertstudio.runs import delete_run

    if not may_see(runs_dir, private, memory_value, run_id):
        return render.problem("Pick one of your runs to delete."), gr.update(visible=False), gr.skip(), gr.skip()
    try:
        delete_run(runs_dir, run_id)
    except StudioError as exc:
        return render.problem(exc.message), gr.update(visible=False), gr.skip(), gr.skip()
    forget_owner(runs_dir, run_id)
    memory = BrowserMemory.from_value(memory_value).forgetting(run_id)
    return "", gr.update(visible=False), gr.update(visible=False), memory.to_value()


def resume(jobs: "JobManager", runs_dir: Path, private: bool, memory_value: Any,
           run_id: str | None) -> list[Any]:
    """Queue the opened (interrupted) run to continue from its last checkpoint, followed on the Train tab.
    Outputs: problem, resume button, browser memory, the Train tab's followed run."""
    memory = BrowserMemory.from_value(memory_value).with_owner()
    if not may_see(runs_dir, private, memory_value, run_id):
        return [render.problem("Pick one of your runs to resume."), gr.skip(), gr.skip(), gr.skip()]
    try:
        job = jobs.resume(Path(runs_dir) / run_id, memory.owner)
    except StudioError as exc:
        return [render.problem(exc.message), gr.skip(), gr.skip(), gr.skip()]
    followed = FollowedRun(run_id=job.run_id, events_path=str(job.events_path))
    return [render.notice("Resuming from the last checkpoint; follow it on the Train tab."),
            gr.update(visible=False), memory.following(job.run_id).to_value(), followed]
