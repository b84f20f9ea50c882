"""Step 4, Train: start and stop a background run, follow it live from its events, show the results.

The page only reads: the worker trains, the trainer appends to events.jsonl, and each timer tick
reads the bytes added since the last one. Closing or reloading the page changes nothing for the
run; the browser remembers the run id and a reopened page rebuilds the charts from the file.
A visitor has one run waiting or training at a time: Start stays off until it ends, and the
worker refuses a second start on the server whatever the page sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.ui import charts, device_picker, estimate, render, results_text
from bertstudio.ui.adaptation_progress import adaptation_status_html
from bertstudio.ui.device_picker import DevicePicker
from bertstudio.ui.history import FollowedRun, TrainHistory
from bertstudio.ui.results import RunResults, download_files, misses_title, read_results, results_figure
from bertstudio.ui.session import BrowserMemory
from bertstudio.ui.task_views import get_view

if TYPE_CHECKING:
    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.data_tab import LoadedData
    from bertstudio.ui.form import ConfigForm
    from bertstudio.worker import Job, JobManager

TICK_SECONDS = 1.0


@dataclass
class TrainTab:
    plan: gr.Markdown
    start: gr.Button
    stop: gr.Button
    problem: gr.HTML
    progress: gr.HTML
    loss_chart: gr.Plot
    metrics_chart: gr.Plot
    lr_chart: gr.Plot
    log: gr.Textbox
    results: gr.Column
    metrics: gr.Markdown
    per_class: gr.Dataframe
    confusion: gr.Plot
    misclassified: gr.Dataframe
    downloads: gr.File
    timer: gr.Timer
    followed: gr.State
    start_hint: gr.Markdown
    devices: DevicePicker

    @property
    def view(self) -> list[Any]:
        """The outputs `render_view` fills, in its order."""
        return [self.progress, self.loss_chart, self.metrics_chart, self.lr_chart, self.log, self.results,
                self.metrics, self.per_class, self.confusion, self.misclassified, self.downloads, self.timer]

    @property
    def gate(self) -> list[Any]:
        """The outputs `start_gate` fills: the Start button and the line saying why it is off."""
        return [self.start, self.start_hint]


def build(choose_device: bool = True) -> TrainTab:
    """The tab; `choose_device=False` (hosted, or runs in the server's own thread) leaves the
    device to the host and shows only the memory estimate."""
    gr.Markdown("Training runs in the background: you can switch tabs, close the page or reload it, "
                "and come back to the same run.", elem_classes="tab-intro")
    plan = gr.Markdown("Load a dataset on the Data tab, then start.", elem_id="train-plan")
    devices = device_picker.build(choose_device)
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start", scale=3)
        stop = gr.Button("Stop", variant="stop", elem_id="train-stop", scale=1)
    start_hint = gr.Markdown(visible=False, elem_id="train-start-hint", elem_classes="preset-help")
    problem = gr.HTML(elem_id="train-problem")
    progress = gr.HTML(render.progress_html(TrainHistory()), elem_id="train-progress")
    empty = TrainHistory()
    with gr.Row(equal_height=True):
        loss_chart = gr.Plot(charts.loss_figure(empty), show_label=False, elem_id="train-loss", min_width=320)
        metrics_chart = gr.Plot(charts.metrics_figure(empty), show_label=False, elem_id="train-metrics",
                                min_width=320)
    with gr.Row(equal_height=True):
        lr_chart = gr.Plot(charts.learning_rate_figure(empty), show_label=False, elem_id="train-lr", min_width=320)
        log = gr.Textbox(label="Event log", lines=11, max_lines=11, interactive=False, autoscroll=True,
                         elem_id="train-log", min_width=320)
    with gr.Column(visible=False, elem_id="train-results") as results:
        gr.Markdown("### Results on the validation data")
        metrics = gr.Markdown(elem_id="train-metrics-summary")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):
                per_class = gr.Dataframe(headers=results_text.PER_CLASS_HEADERS, label="Per class", interactive=False,
                                         elem_id="train-per-class")
                downloads = gr.File(label="Downloads: the model folder (zip) and its model card",
                                    file_count="multiple", interactive=False, elem_id="train-downloads")
            with gr.Column(min_width=320):
                confusion = gr.Plot(show_label=False, elem_id="train-confusion")
        misclassified = gr.Dataframe(label="Misclassified validation rows (most confident mistakes first)",
                                     interactive=False, wrap=True, max_height=360, elem_id="train-misclassified")
    return TrainTab(plan=plan, start=start, stop=stop, problem=problem, progress=progress, loss_chart=loss_chart,
                    metrics_chart=metrics_chart, lr_chart=lr_chart, log=log, results=results, metrics=metrics,
                    per_class=per_class, confusion=confusion, misclassified=misclassified, downloads=downloads,
                    timer=gr.Timer(TICK_SECONDS, active=False), followed=gr.State(None), start_hint=start_hint,
                    devices=devices)


# --- what the page shows for a followed run ---------------------------------------------------------

def planned_schedule(history: TrainHistory) -> tuple[list[int], list[float]] | None:
    """The run's whole learning-rate schedule from its Started settings, under the logged rates: a
    run shorter than its logging interval logs one rate, and one dot says nothing of the curve."""
    if not history.config or history.total_steps <= 0:
        return None
    try:
        config = TrainConfig.from_dict(history.config)
    except (StudioError, TypeError, ValueError):
        return None  # a log from another version: the logged rates alone
    return estimate.schedule_points(config, history.total_steps)


def render_view(followed: FollowedRun | None, *, live: bool, position: int | None = None,
                job_message: str = "", downloads: Callable[[], Path] | None = None,
                charts_too: bool = True, wait_seconds: float | None = None) -> list[Any]:
    """Every output of `TrainTab.view` for the run as it stands; `charts_too=False` leaves the charts
    alone (nothing new arrived). The timer keeps ticking only while the run can still change."""
    history = followed.history if followed else TrainHistory()
    progress = progress_html(history, position, job_message, wait_seconds)
    timer = gr.Timer(active=live)
    if not charts_too:
        return [progress] + [gr.skip()] * 10 + [timer]
    figures = [charts.loss_figure(history), charts.metrics_figure(history),
               charts.learning_rate_figure(history, planned_schedule(history)), "\n".join(history.log)]
    if followed is None or not history.ended or history.status == "failed":
        return [progress, *figures, gr.update(visible=False)] + [gr.skip()] * 5 + [timer]
    run_dir = Path(followed.events_path).parent
    results = read_results(run_dir)
    files = download_files(run_dir, downloads()) if downloads else []
    return [progress, *figures, gr.update(visible=True),
            results_text.metrics_summary(results.metrics or history.last_metrics),
            results_table(results), results_figure(results),
            gr.update(value={"headers": results.misclassified_headers or ["text"],
                             "data": results.misclassified or []}, label=misses_title(results)),
            files or None, timer]


def progress_html(history: TrainHistory, position: int | None = None, job_message: str = "",
                  wait_seconds: float | None = None) -> str:
    """The status line: the adaptation's while the run adapts its model first, else the run's."""
    waiting = position is not None and position > 0
    adapting = None if waiting or job_message else adaptation_status_html(history)
    return adapting or render.progress_html(history, position, job_message, wait_seconds)


def results_table(results: "RunResults") -> Any:
    """The per-class (one label per row) or per-label table with thresholds (several labels);
    a score has no such table, so it is hidden there and the scatter says what it would."""
    label, headers, rows = results_text.results_table(results.metrics)
    return gr.update(value={"headers": headers, "data": rows}, label=label, visible=results.view.results_table)


def _job_message(job: "Job | None") -> str:
    if job is None:
        return ""
    return job.message if job.state in ("failed", "cancelled") or job.timed_out else ""


# --- one run per visitor ------------------------------------------------------------------------

OWN_RUN_HINT = ("Start is off while your run is waiting or training (one run at a time per visitor); "
                "stop it, or wait for it to end.")
ADDRESS_HINT = ("Start is off while a run started from your network address (another browser or tab) "
                "is waiting or training; it comes back when that run ends.")


def request_address(request: gr.Request | None, hosting: "HostingSettings | None") -> str | None:
    """The address this visitor's live runs are counted under (hosted only; see
    `bertstudio.hosting.visitor_address` for why the forwarded header is trusted there)."""
    from bertstudio.hosting import visitor_address

    if hosting is None or request is None:
        return None
    client = getattr(request, "client", None)
    return visitor_address(hosting, dict(getattr(request, "headers", None) or {}),
                           getattr(client, "host", None) if client else None)


def start_gate(jobs: "JobManager", owner: str, address: str | None = None,
               hosting: "HostingSettings | None" = None) -> list[Any]:
    """Start on or off for this visitor, with the reason shown while it is off: not signed in
    where training needs it (`hosting.require_signin`), or a run of theirs (their account's, or
    from their address when not signed in) waiting or training."""
    from bertstudio.accounts import SIGN_IN_HINT

    if hosting is not None:
        if hosting.require_signin and not hosting.account(owner):
            return [gr.update(interactive=False), gr.update(value=SIGN_IN_HINT + ".", visible=True)]
        address = hosting.counted_address(owner, address)
    job = jobs.live_job(owner, address)
    if job is None:
        return [gr.update(interactive=True), gr.update(value="", visible=False)]
    hint = OWN_RUN_HINT if job.owner == owner else ADDRESS_HINT
    return [gr.update(interactive=False), gr.update(value=hint, visible=True)]


# --- handlers ------------------------------------------------------------------------------------

def start(form: "ConfigForm", jobs: "JobManager", loaded: "LoadedData | None", memory_value: Any,
          *values: Any, hosting: "HostingSettings | None" = None, address: str | None = None,
          device: str | None = None, listing: "device_picker.DeviceListing | None" = None) -> list[Any]:
    """Queue a run for this browser; outputs: followed, browser memory, problem, the view, the gate.
    On a shared deployment the limits are checked here, on the server, whatever the page sent, and
    the host's device is used whatever "Train on" says (the page hides it there)."""
    memory = BrowserMemory.from_value(memory_value).with_owner()
    try:
        if loaded is None:
            raise StudioError("Load a dataset on the Data tab first (or press 'Use the example dataset').")
        if hosting is not None:  # before the settings: nothing about them matters until then
            hosting.check_may_train(memory.owner)
            address = hosting.counted_address(memory.owner, address)
        config = form.build_config(loaded.path, loaded.validation_path, values)
        if hosting is not None:
            hosting.check_config(config)
            hosting.check_rows(len(loaded.table), loaded.table.name)
        on = device_picker.launch_arguments(device, listing) if hosting is None and device else {}
        job = jobs.submit(config, owner=memory.owner, address=address, **on)
    except StudioError as exc:
        return ([gr.skip(), gr.skip(), render.problem(exc.message)] + [gr.skip()] * 12
                + start_gate(jobs, memory.owner, address, hosting))
    followed = FollowedRun(run_id=job.run_id, events_path=str(job.events_path))
    view = render_view(followed, live=True, position=jobs.position(job.run_id),
                       wait_seconds=jobs.wait_estimate(job.run_id))
    return ([followed, memory.following(job.run_id).to_value(), ""] + view
            + start_gate(jobs, memory.owner, address, hosting))


def stop(jobs: "JobManager", followed: FollowedRun | None, memory_value: Any) -> str:
    """Ask the followed run to stop after its current step; outputs: the problem box."""
    if followed is None:
        return render.problem("There is no training to stop.")
    try:
        job = jobs.stop(followed.run_id, BrowserMemory.from_value(memory_value).owner)
    except StudioError as exc:
        return render.problem(exc.message)
    if job.state == "running":
        return render.notice("Stopping after the current step; the model as it stands will be kept.")
    return ""


def tick(jobs: "JobManager", downloads: Callable[[], Path], followed: FollowedRun | None,
         memory_value: Any = None, address: str | None = None, hosting: "HostingSettings | None" = None) -> list[Any]:
    """One timer tick: read only the new bytes of events.jsonl and redraw if anything arrived.
    Outputs: the view, then the gate (left alone when no browser memory is given)."""
    owner = BrowserMemory.from_value(memory_value).owner
    if hosting is not None:
        address = hosting.counted_address(owner, address)
    gate = start_gate(jobs, owner, address, hosting) if memory_value is not None else [gr.skip(), gr.skip()]
    if followed is None:
        # Nothing followed, yet Start may be off for a run from this address: keep ticking until it ends.
        closed = memory_value is not None and jobs.live_job(owner, address) is not None
        return [gr.skip()] * 11 + [gr.Timer(active=closed)] + gate
    job = jobs.get(followed.run_id)
    new = followed.poll()
    history = followed.history
    # A job the worker knows is live until it ends; one it does not know (an app restart)
    # is followed until its events say it ended.
    live = (not job.ended) if job is not None else not history.ended
    view = render_view(followed, live=live, position=jobs.position(followed.run_id),
                       job_message=_job_message(job), downloads=downloads,
                       charts_too=new or not live, wait_seconds=jobs.wait_estimate(followed.run_id))
    if not live and memory_value is not None and jobs.live_job(owner, address) is not None:
        view[-1] = gr.Timer(active=True)  # Start is still off for another run: tick on to reopen it
    return view + gate


def reattach(jobs: "JobManager", runs_dir: Path, downloads: Callable[[], Path],
             memory_value: Any, private: bool = False, address: str | None = None,
             hosting: "HostingSettings | None" = None) -> list[Any]:
    """On page load: give the browser an owner token and pick up its run, rebuilding the charts from
    the whole events file once: its run waiting or training if it has one (whatever run the memory
    names), else the run it last followed. Outputs: followed, browser memory, the view, the gate.
    On a shared deployment only a run this browser's owner token started is picked up."""
    from bertstudio.hosting import owns
    from bertstudio.runs.folder import EVENTS_FILE, RunFolder, is_safe_run_id

    memory = BrowserMemory.from_value(memory_value).with_owner()
    if hosting is not None:
        address = hosting.counted_address(memory.owner, address)
    gate = start_gate(jobs, memory.owner, address, hosting)
    own = jobs.live_job(memory.owner)  # never another browser's run, even from the same address
    # A search is followed on the Hyperparameters tab; here it only keeps Start off (the gate).
    if own is not None and own.owner == memory.owner and own.run_id != memory.run_id and own.kind == "train":
        memory = memory.following(own.run_id)
    run_id = memory.run_id
    job = jobs.get(run_id)
    if not run_id or (job is not None and job.owner != memory.owner) or not is_safe_run_id(run_id) or (
            job is None and private and not owns(runs_dir, run_id, memory.owner)):
        return [None, memory.to_value()] + _idle_view(jobs, memory.owner, address) + gate
    events = job.events_path if job is not None else Path(runs_dir) / run_id / EVENTS_FILE
    if job is None and not events.exists():
        return [None, memory.to_value()] + _idle_view(jobs, memory.owner, address) + gate
    followed = FollowedRun(run_id=run_id, events_path=str(events))
    followed.poll()
    if job is not None:
        live, message = not job.ended, _job_message(job)
    else:
        status = RunFolder(events.parent).status()
        live = status == "running"
        message = ("This run was interrupted: the app stopped before it finished. Resume it from the "
                   "Runs tab, or start it again." if status == "interrupted" else "")
    return [followed, memory.to_value()] + render_view(
        followed, live=live, position=jobs.position(run_id), job_message=message, downloads=downloads,
        wait_seconds=jobs.wait_estimate(run_id)) + gate


def _idle_view(jobs: "JobManager", owner: str, address: str | None) -> list[Any]:
    """The empty view; its timer ticks while Start is off for a run from this address."""
    view = render_view(None, live=False)
    if jobs.live_job(owner, address) is not None:
        view[-1] = gr.Timer(active=True)
    return view


def plan_text(form: "ConfigForm", loaded: "LoadedData | None", prepared: Any, *values: Any) -> str:
    """One line saying what Start will do, so nothing surprising happens on the click."""
    if loaded is None:
        return "Load a dataset on the Data tab, then start."
    try:
        config = form.build_config(loaded.path, loaded.validation_path, values)
        if prepared is None:
            # The Data tab's check failed or has not run: ask the engine's own check, the one
            # the run itself starts with, rather than say "Ready" for data it will refuse.
            from bertstudio.data.dataset import prepare_data

            prepared = prepare_data(config, loaded.table, loaded.validation_table)
    except StudioError as exc:
        return render.md_escape(exc.message)
    rows = f"{prepared.report.train_size:,} training rows, "
    columns = getattr(prepared, "columns", None)
    target = (", ".join(getattr(columns, "label_columns", None) or ()) or getattr(columns, "label", None)
              or config.label_column or "?")
    task = get_view(getattr(prepared, "task", None)).plan_words
    return (f"**Ready:** {render.md_escape(Path(loaded.path).name)} ({rows}"
            f"columns {render.md_escape(getattr(columns, 'text', None) or config.text_column or '?')} → "
            f"{render.md_escape(target)}{task}) "
            f"· model **{render.md_escape(config.model)}** · {config.epochs} epoch{'s' if config.epochs != 1 else ''} "
            f"· batch {config.batch_size} · learning rate {config.learning_rate:.1e} · max length {config.max_length}")
