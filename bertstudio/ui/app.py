"""The studio page: the header, the hosted banner, the six tabs in order, and the app's public face.

What the page is made of lives beside it: the events between the tabs in `wiring.py`, the theme
and CSS in `style.py`, the deployment settings in `app_settings.py`; app.py and the tests import
them from here.

Per-visitor objects live in a `SessionRegistry` keyed by gradio's session hash and are dropped on
unload; the only object shared by visitors is the `JobManager`, because the device is shared.
In hosted mode (`AppSettings.hosting`) a banner states the limits, the controls offer only what
the limits allow, and the handlers check them again on the server.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import gradio as gr

from bertstudio.accounts import claim_runs
from bertstudio.hosting import browser_secret
from bertstudio.ui import (api, choices, data_tab, device_picker, hyperparams_tab, model_choices, predict_tab, render,
                           runs_tab, search_panel, tokenizer_tab, train_tab)
from bertstudio.ui.app_settings import AppSettings, default_runs_dir  # noqa: F401  (public face)
from bertstudio.ui.data_tab import DataTab
from bertstudio.ui.form import ConfigForm
from bertstudio.ui.hyperparams_tab import HyperparamsTab
from bertstudio.ui.refusals import quiet_refusals
from bertstudio.ui.session import BrowserMemory, SessionObjects, SessionRegistry
from bertstudio.ui.style import CSS, launch_options, theme  # noqa: F401  (public face)
from bertstudio.ui.tokenizer_tab import TokenizerTab
from bertstudio.ui.relays import Relays
from bertstudio.ui.wiring import (wire_choices, wire_hyperparams, wire_predict, wire_runs, wire_tokenizer,
                                  wire_train)
from bertstudio.worker import JobManager

TITLE = "BERT Studio"
STORAGE_KEY = "bertstudio-memory"

HEADER = f"""# {TITLE}
Fine-tune a BERT model on your own file (CSV, Excel, JSON or Parquet) to give each text
one label, several tags or a score. Step by step: **1 Data** (your file and its columns) →
**2 Tokenizer** (how the model reads your texts) → **3 Hyperparameters** → **4 Train** (live charts) →
**5 Predict** → **6 Runs**."""


def build_app(settings: AppSettings, jobs: JobManager) -> gr.Blocks:
    """The whole page. Nothing heavy happens here: models load when a handler first needs one."""
    registry: SessionRegistry[SessionObjects] = SessionRegistry(
        partial(SessionObjects, downloads_root=settings.downloads_root))
    runs_dir = Path(settings.runs_dir)
    example = settings.example_data or data_tab.example_path()
    limits = settings.limits
    # Gradio's cache holds the uploads and the copies of every download; hosted, it is emptied of
    # files older than the time to live, checked every hour (or sooner for a short TTL).
    delete_cache = (int(min(3600, limits.ttl_seconds)) or 1, int(limits.ttl_seconds)) if limits else None

    def objects(request: gr.Request) -> SessionObjects:
        return registry.get(request.session_hash)

    with gr.Blocks(title=TITLE, fill_width=False, delete_cache=delete_cache) as demo:
        gr.Markdown(HEADER, elem_id="studio-header")
        if limits is not None:
            gr.HTML(render.hosted_banner(limits.facts()), elem_id="hosted-banner")
        signin = limits is not None and limits.require_signin
        if signin:  # only then: off a Space, gradio's stand-in sign-in asks the Hub who is logged in here
            with gr.Row(elem_id="signin-row"):
                gr.Markdown("Signed in, your runs and limits follow your Hugging Face account into any "
                            "browser.", elem_classes="preset-help")
                # A small button at the end of the row: it is an account control, not the page's action.
                gr.LoginButton("Sign in with Hugging Face", elem_id="signin", size="sm", variant="secondary",
                               scale=0, min_width=240)
        # The same key across restarts: a browser keeps its owner token, and so its runs.
        memory = gr.BrowserState({}, storage_key=STORAGE_KEY, secret=browser_secret(runs_dir))
        # The visitor's file, columns and settings, in their own browser (see ui/choices.py).
        remembered = gr.BrowserState({}, storage_key=choices.STORAGE_KEY, secret=browser_secret(runs_dir))
        with gr.Tabs(elem_id="studio-tabs", overflow_behavior="wrap"):  # all six steps in sight on a phone
            with gr.Tab("1 · Data", id="data", elem_id="tab-data"):
                data = data_tab.build()
            with gr.Tab("2 · Tokenizer", id="tokenizer", elem_id="tab-tokenizer") as tokenizer_page:
                tok = tokenizer_tab.build(settings.default_model, limits.models if limits else None)
            with gr.Tab("3 · Hyperparameters", id="hyperparameters", elem_id="tab-hyperparameters"):
                hp = hyperparams_tab.build(limits.max_epochs if limits else None, model=tok.model.component.value)
                search = search_panel.build(limits)  # "Find good settings for me", below the settings
            with gr.Tab("4 · Train", id="train", elem_id="tab-train"):
                # Hosted, the Space decides the device; a thread launcher trains where the server does.
                train = train_tab.build(choose_device=limits is None and jobs.chooses_devices)
            with gr.Tab("5 · Predict", id="predict", elem_id="tab-predict") as predict_page:
                predict = predict_tab.build()
            with gr.Tab("6 · Runs", id="runs", elem_id="tab-runs") as runs_page:
                runs = runs_tab.build()

        form = config_form(data, tok, hp, runs_dir)
        relays = Relays()  # one per page: the controls several handlers follow (relays.py)
        data_tab.wire(data, form, relays, example, limits, settings.uploads_dir)
        wire_tokenizer(demo, tok, data, hp, relays, objects, limits)
        model_choices.wire(tokenizer_page, demo, tok.model.component, runs_dir, limits.models if limits else None,
                           settings.private_runs, memory)
        wire_hyperparams(hp, data, tok, train, form, relays, objects, limits)
        wire_train(train, data, form, jobs, memory, objects, limits)
        wire_predict(predict, predict_page, settings, memory, objects)
        wire_runs(runs, runs_page, train, settings, jobs, memory, objects, data=data, hp=hp, form=form)

        def on_load(memory_value, request: gr.Request, profile: gr.OAuthProfile | None):
            # Signing in or out reloads the page, so this is where the visitor's owner is settled.
            if limits is not None:
                before = BrowserMemory.from_value(memory_value)
                now = before.for_visitor(profile.username if profile is not None and signin else None,
                                         limits.account_key)
                if limits.account(now.owner) and not limits.account(before.owner) and before.owner:
                    claim_runs(runs_dir, now.runs, before.owner, now.owner, busy=jobs.is_live)
                memory_value = now.to_value()
            return train_tab.reattach(jobs, runs_dir, objects(request).downloads_dir, memory_value,
                                      settings.private_runs, train_tab.request_address(request, limits),
                                      hosting=limits)

        reload = demo.load(on_load, [memory], [train.followed, memory, *train.view, *train.gate],
                           show_progress="hidden")
        wire_choices(reload, remembered, data, hp, train, form, relays, settings, example, objects)
        device_picker.wire(train.devices, reload, data.loaded, form)
        search_panel.wire(search, reload, data, hp, form, jobs, memory, limits)

        def on_unload(request: gr.Request):
            registry.drop(request.session_hash)

        demo.unload(on_unload)
        # Last: every event above is the page's own (private); the API and MCP tools are chosen here.
        api.publish(demo, settings)
    return quiet_refusals(demo)  # a stale or forged value: one log line, not a traceback


def config_form(data: DataTab, tok: TokenizerTab, hp: HyperparamsTab, runs_dir: Path) -> ConfigForm:
    """The one form over all tabs: every TrainConfig field the user sets, each with one control."""
    return ConfigForm(controls=[*data.controls, *tok.controls, *hp.controls], output_dir=str(runs_dir))

