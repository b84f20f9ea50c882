"""Step 6, Runs: every run with status, date, model, data and scores; open, stop, resume or delete one.

Runs still waiting in the queue have no folder yet; they are listed from the worker, as "waiting",
and a visitor's own live run (waiting or training) can be stopped here as on the Train tab.

On a shared deployment (`private`) a browser sees only the runs its owner token started, as
recorded beside the runs by the worker; the token list in the browser's memory grants nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import charts, render, results_text, runs_compare, runs_publish
from bertstudio.ui.history import FollowedRun
from bertstudio.ui.results import (RUNS_HEADERS, TASK_WORDS, download_files, history_of, read_results,
                                   results_figure, run_choice_label, runs_rows, settings_rows)
from bertstudio.ui.session import BrowserMemory
from bertstudio.ui.train_tab import results_table

if TYPE_CHECKING:
    from bertstudio.hosting import HostingSettings
    from bertstudio.worker import Job, JobManager


@dataclass
class RunsTab:
    table: gr.Dataframe
    refresh: gr.Button
    picker: gr.Dropdown
    delete: gr.Button
    resume: gr.Button
    stop: gr.Button
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
    train_again: gr.Button
    publish: runs_publish.PublishSection
    compare: runs_compare.CompareSection

    @property
    def detail_outputs(self) -> list[Any]:
        return [self.detail, self.summary, self.loss_chart, self.metrics_chart, self.confusion, self.per_class,
                self.settings, self.downloads, self.confirm, self.problem, self.resume, self.stop]


def build() -> RunsTab:
    gr.Markdown("Every run in the runs folder, newest first. Click a row (or pick it below) to open the run "
                "and see its charts, settings and downloads; compare several at the bottom.",
                elem_classes="tab-intro")
    table = gr.Dataframe(headers=RUNS_HEADERS, interactive=False, wrap=True, max_height=300, label="Runs",
                         elem_id="runs-table")
    with gr.Row(equal_height=False):
        picker = gr.Dropdown(label="Open a run", choices=[], value=None, scale=4, elem_id="runs-picker")
        refresh = gr.Button("Refresh list", size="md", scale=1, min_width=120, elem_id="runs-refresh",
                            elem_classes="align-end")
        resume = gr.Button("Resume this run", variant="primary", size="md", scale=1, min_width=140,
                           visible=False, elem_id="runs-resume", elem_classes="align-end")
        stop = gr.Button("Stop this run", variant="stop", size="md", scale=1, min_width=120, visible=False,
                         elem_id="runs-stop", elem_classes="align-end")
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
                per_class = gr.Dataframe(headers=results_text.PER_CLASS_HEADERS, label="Per class", interactive=False)
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False)
            with gr.Column(min_width=320):
                confusion = gr.Plot(show_label=False)
        with gr.Row(equal_height=False):
            train_again = gr.Button("Train again with these settings", size="md", scale=0, min_width=320,
                                    elem_id="runs-train-again")
        settings = gr.Dataframe(headers=["setting", "value"], label="Settings of this run", interactive=False,
                                max_height=360, wrap=True)
        publish = runs_publish.build()
    compare = runs_compare.build()
    return RunsTab(train_again=train_again, publish=publish, compare=compare,
                   table=table, refresh=refresh, picker=picker, delete=delete, resume=resume, stop=stop,
                   confirm=confirm,
                   problem=problem,
                   detail=detail, summary=summary, loss_chart=loss_chart, metrics_chart=metrics_chart,
                   confusion=confusion, per_class=per_class, settings=settings, downloads=downloads)


# --- handlers ------------------------------------------------------------------------------------

def run_of_row(row: list[Any] | None) -> Any:
    """The run a clicked table row names (its last cell), for the picker; nothing for an empty row."""
    if not row or not isinstance(row[-1], str) or not row[-1]:
        return gr.skip()
    return row[-1]


def visible_runs(runs_dir: Path, memory_value: Any, private: bool) -> list:
    """The runs this visitor may see: all of them on a personal install, only their own on a shared one."""
    from bertstudio.hosting import owns
    from bertstudio.runs.folder import list_runs

    summaries = list_runs(runs_dir)
    if not private:
        return summaries
    owner = BrowserMemory.from_value(memory_value).owner
    return [s for s in summaries if owns(runs_dir, s.run_id, owner)]


def may_see(runs_dir: Path, private: bool, memory_value: Any, run_id: str | None) -> bool:
    """Whether `run_id` (a value the browser sent) names an existing run this visitor may open."""
    from bertstudio.hosting import owns
    from bertstudio.runs.folder import is_run_folder, is_safe_run_id

    if not is_safe_run_id(run_id) or not is_run_folder(Path(runs_dir) / run_id):
        return False
    return not private or owns(runs_dir, run_id, BrowserMemory.from_value(memory_value).owner)


def waiting_jobs(jobs: "JobManager | None", memory_value: Any, private: bool) -> list["Job"]:
    """Runs still waiting in the queue (they have no folder yet) that this visitor may see."""
    if jobs is None:
        return []
    owner = BrowserMemory.from_value(memory_value).owner
    return [job for job in jobs.waiting_jobs() if not private or (owner and job.owner == owner)]


def _waiting_row(job: "Job") -> list[str]:
    data = Path(job.config.data or "").name or "—"
    task = getattr(job.config, "task", "auto")
    return [time.strftime("%Y-%m-%d %H:%M", time.localtime(job.submitted)), "waiting",
            TASK_WORDS.get(task, "decided from the data"), "—", "—", job.config.run_name or "—", "—",
            Path(job.config.model).name or job.config.model,
            data, "—", job.run_id]


def _waiting_label(job: "Job") -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.submitted))
    return f"{when} · {Path(job.config.model).name or job.config.model} · waiting · {job.run_id[-12:]}"


def refresh(runs_dir: Path, private: bool, memory_value: Any, current: str | None,
            jobs: "JobManager | None" = None) -> tuple[Any, Any]:
    """Outputs: the table (waiting runs first), the picker (keeping the open run when it still exists)."""
    summaries = visible_runs(runs_dir, memory_value, private)
    ids = {s.run_id for s in summaries}
    waiting = [job for job in waiting_jobs(jobs, memory_value, private) if job.run_id not in ids]
    choices = [(_waiting_label(job), job.run_id) for job in waiting]
    choices += [(run_choice_label(s), s.run_id) for s in summaries]
    ids |= {job.run_id for job in waiting}
    return ({"headers": RUNS_HEADERS, "data": [_waiting_row(job) for job in waiting] + runs_rows(summaries)},
            gr.update(choices=choices, value=current if current in ids else None))


def _own_live_job(jobs: "JobManager | None", memory_value: Any, run_id: str | None) -> "Job | None":
    """The run as a job of this visitor's that is waiting or training, else None."""
    job = jobs.get(run_id) if jobs is not None else None
    owner = BrowserMemory.from_value(memory_value).owner
    return job if job is not None and not job.ended and owner and job.owner == owner else None


def open_run(runs_dir: Path, private: bool, downloads: Callable[[], Path], memory_value: Any,
             run_id: str | None, jobs: "JobManager | None" = None) -> list[Any]:
    """Show one run: its charts rebuilt from events.jsonl, results, settings and downloads; a Stop
    button while it is this visitor's run waiting or training."""
    hidden = [gr.update(visible=False)] + [gr.skip()] * 7 + [gr.update(visible=False), "", gr.update(visible=False)]
    if not run_id:
        return hidden + [gr.update(visible=False)]
    live = _own_live_job(jobs, memory_value, run_id)
    stop = gr.update(visible=live is not None)
    if live is not None and live.state == "queued":
        return [gr.update(visible=True), _waiting_summary(jobs, live)] + [gr.skip()] * 6 + [
            gr.update(visible=False), "", gr.update(visible=False), stop]
    if not may_see(runs_dir, private, memory_value, run_id):
        return hidden[:-2] + [render.problem("That run is no longer there; press Refresh."),
                              gr.update(visible=False), gr.update(visible=False)]
    run_dir = Path(runs_dir) / run_id
    history = history_of(run_dir).history
    results = read_results(run_dir)
    status = {"finished": "Finished", "stopped": "Stopped by the user", "failed": "Failed",
              "running": "Still training",
              "interrupted": "Interrupted: the app stopped before the end. Resume continues from the last "
                             "checkpoint", "damaged": "Damaged"}
    state = results.status
    if state == "interrupted" and jobs is not None and jobs.is_live(run_id):
        # Its folder is just being written (config.json before the run's start is logged): the
        # job manager knows it trains, which the files say only a moment later.
        state = "running"
    summary = f"**{status.get(state, state)}** · " + results_text.metrics_summary(results.metrics)
    if results.checkpoint_step is not None:
        summary += f" (the evaluation at step {results.checkpoint_step}, where its checkpoint was taken)"
    if results.damage:
        summary = f"**{status['damaged']}** · " + render.md_escape(results.damage)
    if history.status == "failed" and history.ending is not None:
        summary += "\n\n" + render.md_escape(getattr(history.ending, "message", ""))
    if results.warning and not results.damage:
        summary += "\n\n" + results_text.warning_markdown(results.warning)
    if not results.damage:
        summary += lineage_markdown(runs_dir, run_dir, private, memory_value)
    return [gr.update(visible=True), summary, charts.loss_figure(history), charts.metrics_figure(history),
            results_figure(results), results_table(results),
            {"headers": ["setting", "value"], "data": settings_rows(run_dir)},
            download_files(run_dir, downloads()) or None, gr.update(visible=False), "",
            gr.update(visible=results.resumable), stop]


def lineage_markdown(runs_dir: Path, run_dir: Path, private: bool, memory_value: Any) -> str:
    """Where the run's model came from and went: a fine-tuning run that started from an adapted
    model names it; a pretraining run lists the runs fine-tuned from it (this visitor's only,
    where runs are private). "" when neither applies."""
    from bertstudio.hosting import owns
    from bertstudio.runs.folder import read_run
    from bertstudio.runs.lineage import adapted_origin, adapted_texts, fine_tuned_from
    from bertstudio.tasks.base import PRETRAINING_TASK

    record = read_run(run_dir)
    if record is None or record.config is None:
        return ""
    if record.config.task != PRETRAINING_TASK:
        origin = adapted_origin(run_dir, record.config)
        source = read_run(origin[0]) if origin is not None else None
        if source is None:
            return ""
        texts = adapted_texts(source)
        on = f" on {texts:,} texts" if texts is not None else ""
        return (f"\n\nStarted from the adapted model **{render.md_escape(_run_name(source))}** "
                f"(continued pretraining{on}).")
    owner = BrowserMemory.from_value(memory_value).owner
    children = [r for r in fine_tuned_from(runs_dir, run_dir)
                if not private or (owner and owns(runs_dir, r.run_id, owner))]
    if not children:
        return ("\n\nNo run has been fine-tuned from this adapted model yet: pick it in the Tokenizer tab's "
                "model list, then train.")
    names = ", ".join(f"**{render.md_escape(_run_name(r))}**" for r in children)
    return f"\n\nFine-tuned from this adapted model: {names}."


def _run_name(record: Any) -> str:
    name = record.config.run_name if record.config is not None else None
    return f"{name} ({record.run_id})" if name else record.run_id


def _waiting_summary(jobs: "JobManager", job: "Job") -> str:
    place = jobs.position(job.run_id)
    wait = jobs.wait_estimate(job.run_id)
    words = f" Expected start: {render.wait_words(wait)}." if wait is not None else ""
    return (f"**Waiting in line{f': number {place}' if place else ''}.**{words} It starts by itself when "
            "the trainings ahead of it end; follow it on the Train tab.")


def stop_run(jobs: "JobManager", memory_value: Any, run_id: str | None) -> tuple[Any, Any]:
    """Stop the opened run (this visitor's, waiting or training); outputs: problem, stop button."""
    if _own_live_job(jobs, memory_value, run_id) is None:
        return render.problem("This run is not waiting or training any more; press Refresh."), \
            gr.update(visible=False)
    try:
        job = jobs.stop(run_id, BrowserMemory.from_value(memory_value).owner)
    except StudioError as exc:
        return render.problem(exc.message), gr.update(visible=False)
    if job.state == "running":
        return render.notice("Stopping after the current step; the model as it stands will be kept."), \
            gr.update(visible=False)
    return render.notice("Taken out of the queue; it will not start."), gr.update(visible=False)


def ask_delete(run_id: str | None) -> tuple[Any, str]:
    if not run_id:
        return gr.update(visible=False), render.problem("Pick a run to delete first.")
    return gr.update(visible=True), ""


def delete(runs_dir: Path, private: bool, memory_value: Any, run_id: str | None) -> tuple[Any, ...]:
    """Delete the picked run; outputs: problem, confirm button, detail column, browser memory."""
    from bertstudio.hosting import forget_owner
    from bertstudio.runs.folder import delete_run

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
           run_id: str | None, address: str | None = None, hosting: "HostingSettings | None" = None) -> list[Any]:
    """Queue the opened (interrupted) run to continue from its last checkpoint, followed on the Train tab.
    On a shared deployment the same limits as Start apply: sign-in where training needs it, and
    one live run per account when signed in, else per client address.
    Outputs: problem, resume button, browser memory, the Train tab's followed run."""
    memory = BrowserMemory.from_value(memory_value).with_owner()
    if not may_see(runs_dir, private, memory_value, run_id):
        return [render.problem("Pick one of your runs to resume."), gr.skip(), gr.skip(), gr.skip()]
    try:
        if hosting is not None:  # as train_tab.start: a resumed run is a training like a new one
            hosting.check_may_train(memory.owner)
            address = hosting.counted_address(memory.owner, address)
        job = jobs.resume(Path(runs_dir) / run_id, memory.owner, address=address)
    except StudioError as exc:
        return [render.problem(exc.message), gr.skip(), gr.skip(), gr.skip()]
    followed = FollowedRun(run_id=job.run_id, events_path=str(job.events_path))
    return [render.notice("Resuming from the last checkpoint; follow it on the Train tab."),
            gr.update(visible=False), memory.following(job.run_id).to_value(), followed]
