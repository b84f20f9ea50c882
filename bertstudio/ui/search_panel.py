""""Find good settings for me", on the Hyperparameters tab: a hyperparameter search run by the worker.

The search is one of the worker's jobs (`JobManager.submit_search`), so it goes on when the page is
closed and counts as the visitor's one live job. The panel only reads: on each tick of its timer
it reads the search folder's search.json (rewritten whole after every trial) and asks the job which
trial trains now, then redraws the table and the chart. "Use the best settings" fills the form
from the search's best_config.json through the same handler as a config.json upload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import render
from bertstudio.ui.session import BrowserMemory

if TYPE_CHECKING:
    import pandas as pd

    from bertstudio.hosting import HostingSettings
    from bertstudio.search.jobs import SearchProgress
    from bertstudio.ui.data_tab import LoadedData
    from bertstudio.ui.form import ConfigForm
    from bertstudio.worker import Job, JobManager

TICK_SECONDS = 2.0  # a trial takes minutes; every two seconds is live enough and cheap
DEFAULT_TRIALS = 8
BUDGETS = [("15 min", 15), ("30 min", 30), ("1 h", 60), ("2 h", 120), ("No limit", 0)]  # minutes; 0: none
DEFAULT_BUDGET = 30
EXPLANATION = (
    "Not sure which settings suit your data? The search **tries different learning rates, batch sizes, "
    "epochs, warmup and weight decay** on your training rows, **judges each try on the validation rows**, "
    "and **stops weak tries early** so the time goes to the promising ones. Every try is an ordinary "
    "training run (you find them on the Runs tab). It runs in the background: you can close the page. "
    "When it is done, press *Use the best settings* to put the winner's settings in the form above; "
    "the other settings (model, columns, max length) stay as you set them before the search.")
HEADERS = ["Try", "Settings", "Score on validation", "State"]
STATE_WORDS = {"running": "running", "complete": "complete", "pruned": "stopped early (pruned)",
               "stopped": "stopped", "failed": "failed"}
SETTING_WORDS = {"learning_rate": ("learning rate", "{:.1e}"), "batch_size": ("batch", "{}"),
                 "epochs": ("epochs", "{}"), "warmup_ratio": ("warmup", "{:g}"),
                 "weight_decay": ("weight decay", "{:g}"), "seed": ("seed", "{}")}


@dataclass
class SearchPanel:
    trials: gr.Slider
    budget: gr.Dropdown
    start: gr.Button
    stop: gr.Button
    problem: gr.HTML
    summary: gr.Markdown
    table: gr.Dataframe
    chart: gr.Plot
    use_best: gr.Button
    timer: gr.Timer
    followed: gr.State  # {"job": the search job's id, "dir": its folder once known} or None

    @property
    def view(self) -> list[Any]:
        """The outputs `render_view` fills, in its order."""
        return [self.followed, self.summary, self.table, self.chart, self.use_best, self.start, self.stop,
                self.timer]


def build(hosting: "HostingSettings | None" = None) -> SearchPanel:
    """The panel, closed until opened. On a shared demo it says why searches are not offered there
    and its Start stays off (the worker refuses them too)."""
    from bertstudio.search.jobs import SEARCH_REFUSED_HOSTED
    from bertstudio.ui.search_charts import trial_scores_figure

    with gr.Accordion("Find good settings for me", open=False, elem_id="search-panel"):
        gr.Markdown(EXPLANATION, elem_classes="tab-intro")
        if hosting is not None:
            gr.Markdown(SEARCH_REFUSED_HOSTED, elem_id="search-hosted")
        with gr.Row(equal_height=True):
            trials = gr.Slider(1, 40, value=DEFAULT_TRIALS, step=1, label="Number of tries",
                               info="More tries find better settings, each one is a whole training.",
                               elem_id="search-trials")
            budget = gr.Dropdown(BUDGETS, value=DEFAULT_BUDGET, label="Time budget",
                                 info="No new try starts after this; the one training then is stopped.",
                                 elem_id="search-budget")
        with gr.Row():
            start = gr.Button("Start search", variant="primary", interactive=hosting is None,
                              elem_id="search-start")
            stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="search-stop")
        problem = gr.HTML(elem_id="search-problem")
        summary = gr.Markdown("", elem_id="search-summary")
        use_best = gr.Button("Use the best settings", interactive=False, elem_id="search-use-best")
        table = gr.Dataframe(headers=HEADERS, value=[], interactive=False, wrap=True, elem_id="search-table")
        chart = gr.Plot(trial_scores_figure([], "score"), show_label=False, elem_id="search-chart")
    return SearchPanel(trials=trials, budget=budget, start=start, stop=stop, problem=problem, summary=summary,
                       table=table, chart=chart, use_best=use_best, timer=gr.Timer(TICK_SECONDS, active=False),
                       followed=gr.State(None))


# --- reading a search ----------------------------------------------------------------------------

def read_record(search_dir: str | None) -> dict[str, Any] | None:
    """The search's search.json, or None before the search has written it (or for a bad folder)."""
    from bertstudio.search.record import SEARCH_FILE

    if not search_dir:
        return None
    try:
        record = json.loads((Path(search_dir) / SEARCH_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("trials"), list) else None


def settings_words(params: dict[str, Any]) -> str:
    """A trial's settings as a person reads them: "learning rate 3.2e-05 · batch 16 · epochs 3"."""
    parts = []
    for name, value in params.items():
        words, shape = SETTING_WORDS.get(name, (name.replace("_", " "), "{}"))
        parts.append(f"{words} {shape.format(value)}")
    return " · ".join(parts)


def trial_rows(record: dict[str, Any] | None, running: "SearchProgress | None" = None) -> list[list[Any]]:
    """One row per trial: Try, Settings, Score on validation, State; the trial training now last."""
    rows = []
    for trial in (record or {}).get("trials", []):
        value = trial.get("value")
        state = STATE_WORDS.get(trial.get("state"), str(trial.get("state")))
        if trial.get("number") == (record or {}).get("best_number"):
            state += " ★ best"
        rows.append([trial.get("number"), settings_words(trial.get("params") or {}),
                     f"{value:.4f}" if isinstance(value, (int, float)) else "—", state])
    if running is not None and running.trial_number is not None:
        rows.append([running.trial_number, settings_words(running.trial_params), "…", STATE_WORDS["running"]])
    return rows


def trials_table(record: dict[str, Any] | None, running: "SearchProgress | None" = None) -> "pd.DataFrame":
    """The table's value; its score column names the metric the trials are compared on."""
    import pandas as pd

    headers = list(HEADERS)
    if record:
        headers[2] = f"{_metric_words(record.get('metric', ''))} on validation"
    return pd.DataFrame(trial_rows(record, running), columns=headers)


def best_config_path(search_dir: str | None) -> Path | None:
    """The best trial's config.json, once a trial has given a model."""
    from bertstudio.search.record import BEST_CONFIG_FILE

    path = Path(search_dir) / BEST_CONFIG_FILE if search_dir else None
    return path if path is not None and path.is_file() else None


def summary_text(record: dict[str, Any] | None, job: "Job | None", position: int | None = None) -> str:
    """Where the search stands, in a sentence or two, and what its best try is so far."""
    state = job.state if job is not None else None
    if state == "queued":
        where = "next in line" if position == 1 else f"number {position} in line" if position else "in line"
        return f"**Waiting** ({where}); the search starts when the trainings ahead of it have ended."
    if record is None:
        if job is not None and job.state == "failed":
            return f"**The search could not start:** {render.md_escape(job.message)}"
        return "**Starting the search:** reading your data and the model…" if job is not None else ""
    trials, asked = record["trials"], record.get("trials_requested")
    metric = _metric_words(record.get("metric", ""))
    done = render.count(len(trials), "try", "tries")
    if job is not None and not job.ended:
        training = job.search.trial_number if job.search is not None else None
        head = (f"**Try {training}{f' of {asked}' if asked else ''} is training**; {done} done."
                if training is not None else f"**Searching**: {done} done.")
    elif job is None and record.get("status") == "running":
        head = f"**This search was interrupted** (the app stopped) after {done}."
    else:
        ends = {"finished": f"**Search finished**: {done}.", "out_of_time": f"**Time budget used up** after {done}.",
                "stopped": f"**Search stopped** after {done}.", "failed": f"**The search failed** after {done}."}
        head = ends.get(record.get("status"), f"**Search ended** after {done}.")
    best = next((t for t in trials if t.get("number") == record.get("best_number")), None)
    lines = [head]
    if best is not None:
        so_far = "Best" if job is None or job.ended else "Best so far"
        lines.append(f"{so_far}: **try {best['number']}**, {metric} **{best['value']:.4f}** on the validation "
                     f"rows ({settings_words(best.get('params') or {})}).")
    if job is not None and job.message:
        lines.append(render.md_escape(job.message))
    if job is not None and job.ended and best is not None:
        lines.append("Press **Use the best settings** to put them in the form, then train on the Train tab.")
    return "\n\n".join(lines)


def _metric_words(name: str) -> str:
    from bertstudio.tasks.wording import metric_name

    return metric_name(name) if name else "score"


def budget_seconds(minutes: Any) -> float | None:
    """The dropdown's choice in seconds (None: no limit); a value it does not offer is refused."""
    offered = {value for _, value in BUDGETS}
    if minutes not in offered:
        raise StudioError("Pick a time budget from the list.")
    return minutes * 60 if minutes else None


# --- handlers ------------------------------------------------------------------------------------

def render_view(jobs: "JobManager", followed: dict[str, Any] | None, owner: str,
                address: str | None = None, hosting: "HostingSettings | None" = None) -> list[Any]:
    """Every output of `SearchPanel.view` for the search as it stands. The timer ticks while the
    search can still change; Start is on only while this visitor has no job waiting or training."""
    from bertstudio.ui.search_charts import trial_scores_figure

    job = jobs.get(followed.get("job")) if followed else None
    if job is not None and job.owner != owner:
        job, followed = None, None  # never another browser's search
    progress = job.search if job is not None else None
    search_dir = (progress.search_dir if progress is not None else None) or (followed or {}).get("dir")
    if followed is not None:
        followed = {**followed, "dir": search_dir}
    record = read_record(search_dir)
    live = job is not None and not job.ended
    free = hosting is None and jobs.live_job(owner, address) is None
    metric = _metric_words(record.get("metric", "")) if record else "score"
    chart = trial_scores_figure((record or {}).get("trials", []), metric,
                                bool(record.get("higher_is_better", True)) if record else True)
    return [followed, summary_text(record, job, jobs.position(job.run_id) if job is not None else None),
            trials_table(record, progress if live else None), chart,
            gr.update(interactive=best_config_path(search_dir) is not None),
            gr.update(interactive=free), gr.update(interactive=live), gr.Timer(active=live)]


def start(form: "ConfigForm", jobs: "JobManager", loaded: "LoadedData | None", memory_value: Any, trials: Any,
          budget: Any, *values: Any, hosting: "HostingSettings | None" = None,
          address: str | None = None) -> list[Any]:
    """Queue a search over the form's settings for this browser; outputs: browser memory, problem,
    then the view. Everything the form sets that the search does not try is kept for every try."""
    from bertstudio.search.jobs import SEARCH_REFUSED_HOSTED

    memory = BrowserMemory.from_value(memory_value).with_owner()
    try:
        if hosting is not None:  # checked here too: the page's Start being off is no guard
            raise StudioError(SEARCH_REFUSED_HOSTED)
        if loaded is None:
            raise StudioError("Load a dataset on the Data tab first (or press 'Use the example dataset').")
        config = form.build_config(loaded.path, loaded.validation_path, values)
        count = int(trials) if isinstance(trials, (int, float)) and float(trials).is_integer() else None
        if count is None:
            raise StudioError("Set the number of tries with the slider.")
        job = jobs.submit_search(config, owner=memory.owner, trials=count,
                                 time_budget_seconds=budget_seconds(budget), address=address)
    except StudioError as exc:
        return [gr.skip(), render.problem(exc.message)] + [gr.skip()] * 8
    return [memory.to_value(), ""] + render_view(jobs, {"job": job.run_id, "dir": None}, memory.owner, address)


def stop(jobs: "JobManager", followed: dict[str, Any] | None, memory_value: Any) -> str:
    """Ask the search to stop: the try training now stops after its step, keeping its model, and
    no other try starts. Outputs: the problem box."""
    if not followed:
        return render.problem("There is no search to stop.")
    try:
        job = jobs.stop(followed.get("job"), BrowserMemory.from_value(memory_value).owner)
    except StudioError as exc:
        return render.problem(exc.message)
    if job.state == "running":
        return render.notice("Stopping after the current step; the tries so far, and the best, are kept.")
    return ""


def reattach(jobs: "JobManager", memory_value: Any, address: str | None = None,
             hosting: "HostingSettings | None" = None) -> list[Any]:
    """On page load: follow this browser's latest search the app still knows, so a reopened page
    shows the search it left; the view is empty when there is none."""
    from bertstudio.worker import SEARCH

    owner = BrowserMemory.from_value(memory_value).owner
    searches = [job for job in jobs.jobs_of(owner) if job.kind == SEARCH] if owner else []
    latest = max(searches, key=lambda job: job.submitted, default=None)
    followed = {"job": latest.run_id, "dir": None} if latest is not None else None
    return render_view(jobs, followed, owner, address, hosting)


def use_best(form: "ConfigForm", loaded: "LoadedData | None", followed: dict[str, Any] | None,
             hosting: "HostingSettings | None" = None) -> list[Any]:
    """Fill the form with the best try's settings: the search's best_config.json through the
    config.json upload's own handler. Outputs: every form control, the panel's problem box, the
    selected preset, then the preset buttons (as `hyperparams_tab.load_settings`)."""
    from bertstudio.ui import hyperparams_tab
    from bertstudio.ui.presets import PRESET_NAMES

    path = best_config_path((followed or {}).get("dir"))
    if path is None:
        return ([gr.skip()] * len(form.controls) + [render.problem("No try has given a model yet; wait for "
                "the first one to finish.")] + [gr.skip()] * (1 + len(PRESET_NAMES)))
    out = hyperparams_tab.load_settings(form, loaded, str(path), hosting)
    if not out[len(form.controls)]:  # filled: say so beside the button, since the form is above it
        out[len(form.controls)] = render.notice("The best try's settings are in the form above; start a "
                                                "training with them on the Train tab.")
    return out


# --- wiring --------------------------------------------------------------------------------------

def wire(panel: SearchPanel, reload: Any, data: Any, hp: Any, form: "ConfigForm", jobs: "JobManager",
         memory: gr.BrowserState, hosting: "HostingSettings | None") -> None:
    """The panel's events. `reload` is the page's load event (after it the browser memory holds its
    owner token); `data` and `hp` are the Data and Hyperparameters tabs' handles."""
    from functools import partial

    from bertstudio.ui import data_tab
    from bertstudio.ui.form import from_log
    from bertstudio.ui.train_tab import request_address

    def on_start(request: gr.Request, loaded, memory_value, trials, budget, *values):
        return start(form, jobs, loaded, memory_value, trials, budget, *values, hosting=hosting,
                     address=request_address(request, hosting))

    panel.start.click(on_start, [data.loaded, memory, panel.trials, panel.budget, *form.inputs],
                      [memory, panel.problem, *panel.view])
    panel.stop.click(partial(stop, jobs), [panel.followed, memory], panel.problem)

    def on_tick(followed, memory_value, request: gr.Request):
        owner = BrowserMemory.from_value(memory_value).owner
        return render_view(jobs, followed, owner, request_address(request, hosting), hosting)

    panel.timer.tick(on_tick, [panel.followed, memory], panel.view, show_progress="hidden")

    def on_reattach(memory_value, request: gr.Request):
        return reattach(jobs, memory_value, request_address(request, hosting), hosting)

    reload.then(on_reattach, [memory], panel.view, show_progress="hidden")
    # The same steps as a config.json upload: the form filled (leaving the preset), the box beside
    # the learning-rate slider, then the Data tab's check of the columns and task the file names;
    # the summary and the plan follow the controls' own change events.
    learning_rate = form.control("learning_rate").component
    panel.use_best.click(partial(use_best, form, hosting=hosting), [data.loaded, panel.followed],
                         [*form.inputs, panel.problem, hp.selected_preset, *hp.presets]).then(
        from_log, learning_rate, hp.learning_rate_box, show_progress="hidden").then(
        partial(data_tab.prepare, form), [data.loaded, *form.inputs], data_tab.prepare_outputs(data),
        show_progress="hidden")
