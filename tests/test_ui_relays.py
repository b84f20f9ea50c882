"""Controls several handlers follow reach them through one relay each (bertstudio/ui/relays.py): gradio 6's
page re-fires a control's whole event when one of its always_last listeners finishes with a change
waiting, so two such listeners on one control re-ran each other for as long as the page stayed open."""

from __future__ import annotations

import collections
import time

import gradio as gr
import pytest

from bertstudio.hosting import HostingSettings
from bertstudio.ui.app import build_app
from bertstudio.ui.app_settings import AppSettings
from bertstudio.ui.relays import Relays
from bertstudio.worker import JobManager
from browser_support import BROWSER_MARKS, events_sent, free_port, launched_chromium


def _always_last_listeners(demo: gr.Blocks) -> dict[tuple[str, str], list[str]]:
    """(control, event) -> the always_last handlers on it, for every control that is not a State
    (a State's change reaches its listeners one by one, so its re-runs repeat only themselves)."""
    listeners: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for fn in demo.fns.values():
        if fn.trigger_mode != "always_last":
            continue
        for block_id, event in fn.targets:
            block = demo.blocks.get(block_id)
            if block is None or block.stateful:
                continue
            name = getattr(block, "elem_id", None) or f"{type(block).__name__} {block_id}"
            listeners[(name, event)].append(fn.name)
    return listeners


@pytest.mark.parametrize("hosting", [HostingSettings(), HostingSettings(hosted=True, require_signin=False)],
                         ids=["personal", "hosted"])
def test_no_control_event_of_the_studio_has_two_always_last_listeners(tmp_path, hosting):
    demo = build_app(AppSettings(runs_dir=tmp_path / "runs", hosting=hosting), JobManager())
    listeners = _always_last_listeners(demo)
    crowded = {key: names for key, names in listeners.items() if len(names) > 1}
    assert not crowded, f"route these through relays.py: {crowded}"
    # The relays are in place where they matter: a setting the summary, plan and memory all follow.
    assert ("cfg-max_length", "change") in listeners and ("cfg-batch_size", "change") in listeners


@BROWSER_MARKS[0]
@BROWSER_MARKS[1]
def test_quick_changes_of_a_control_four_handlers_follow_end_with_each_showing_the_last_value():
    """The page that looped without relays (four always_last handlers on a slider, three values
    typed in a row) settles, every handler showing the last value."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright for Python")

    def slow_echo(value):
        time.sleep(0.05)  # long enough that the next change arrives while handlers still run
        return str(int(value))

    with gr.Blocks() as demo:
        relays = Relays()
        slider = gr.Slider(8, 512, value=128, step=8, elem_id="length")
        echoes = [gr.Textbox(elem_id=f"echo-{i}") for i in range(4)]
        for echo in echoes:
            gr.on([relays.change(slider)], slow_echo, slider, echo, trigger_mode="always_last",
                  show_progress="hidden")
    port = free_port()
    demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with launched_chromium(sync_api) as browser:
            page = browser.new_page()
            events = events_sent(page)
            page.goto(f"http://127.0.0.1:{port}")
            box = page.locator("#length input[type=number]").first
            for value in (24, 32, 40):
                box.fill(str(value))
                box.press("Enter")
            for i in range(4):
                sync_api.expect(page.locator(f"#echo-{i} textarea")).to_have_value("40", timeout=30_000)
            settled = len(events)
            page.wait_for_timeout(3000)
            assert len(events) == settled, f"{len(events) - settled} events ran after the last change"
            # Three changes: at most a stamp and four handlers for each, and usually fewer.
            assert settled <= 3 * 5
    finally:
        demo.close()
