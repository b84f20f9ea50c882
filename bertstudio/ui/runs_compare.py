"""The Runs tab's comparison: pick two to five runs, see their curves, settings and final metrics.

The figures and tables come from `compare.py` (no gradio); this module builds the section and
adapts the picks to it, showing only runs this visitor may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import compare, render


@dataclass
class CompareSection:
    picks: gr.Dropdown
    button: gr.Button
    only_differences: gr.Checkbox
    problem: gr.HTML
    shown: gr.Column
    note: gr.Markdown
    loss_chart: gr.Plot
    metric_chart: gr.Plot
    settings: gr.Dataframe
    metrics: gr.Dataframe

    @property
    def outputs(self) -> list[Any]:
        return [self.problem, self.shown, self.note, self.loss_chart, self.metric_chart, self.settings,
                self.metrics]


def build() -> CompareSection:
    with gr.Accordion("Compare runs", open=True, elem_id="runs-compare"):
        gr.Markdown(f"Pick {compare.FEWEST} to {compare.MOST} runs to see their curves overlaid, their settings "
                    "side by side (the ones that differ highlighted) and their final metrics in one table.")
        with gr.Row(equal_height=False):
            picks = gr.Dropdown(label="Runs to compare", choices=[], value=[], multiselect=True,
                                max_choices=compare.MOST, scale=4, elem_id="runs-compare-picks")
            button = gr.Button("Compare", variant="primary", size="md", scale=1, min_width=120,
                               elem_id="runs-compare-button", elem_classes="align-end")
        only_differences = gr.Checkbox(label="Show only the settings that differ", value=False,
                                       elem_id="runs-compare-only-differences")
        problem = gr.HTML(elem_id="runs-compare-problem")
        with gr.Column(visible=False) as shown:
            note = gr.Markdown(elem_id="runs-compare-note")
            with gr.Row(equal_height=True):
                loss_chart = gr.Plot(show_label=False, min_width=320, elem_id="runs-compare-loss")
                metric_chart = gr.Plot(show_label=False, min_width=320, elem_id="runs-compare-metric")
            metrics = gr.Dataframe(label="Final metrics", interactive=False, wrap=True,
                                   elem_id="runs-compare-metrics")
            settings = gr.Dataframe(label="Settings side by side (the ones that differ first, highlighted)",
                                    interactive=False, wrap=True, max_height=420, elem_id="runs-compare-settings")
    return CompareSection(picks=picks, button=button, only_differences=only_differences, problem=problem,
                          shown=shown, note=note, loss_chart=loss_chart, metric_chart=metric_chart,
                          settings=settings, metrics=metrics)


def choices(runs_dir: Path, private: bool, memory_value: Any, current: list[str] | None) -> Any:
    """The runs offered for comparison (those with a folder this visitor may see), keeping the picks
    that are still there."""
    from bertstudio.ui.results import run_choice_label
    from bertstudio.ui.runs_tab import visible_runs

    summaries = [s for s in visible_runs(runs_dir, memory_value, private) if not s.damage]
    ids = {s.run_id for s in summaries}
    kept = [run_id for run_id in (current or []) if run_id in ids]
    return gr.update(choices=[(run_choice_label(s), s.run_id) for s in summaries], value=kept)


def show(runs_dir: Path, private: bool, memory_value: Any, run_ids: list[str] | None,
         only_differences: bool) -> list[Any]:
    """Outputs in `CompareSection.outputs` order: the problem box, then the comparison."""
    from bertstudio.ui.runs_tab import may_see

    hidden = [gr.update(visible=False)] + [gr.skip()] * 5
    try:
        picked = compare.check_selection(run_ids)
        if not all(may_see(runs_dir, private, memory_value, run_id) for run_id in picked):
            raise StudioError("One of those runs is no longer there; press Refresh and pick again.")
        runs = [compare.read_compared(Path(runs_dir) / run_id) for run_id in picked]
    except StudioError as exc:
        return [render.problem(exc.message), *hidden]
    return ["", gr.update(visible=True), compare.compare_note(runs), compare.loss_overlay_figure(runs),
            compare.metric_overlay_figure(runs), compare.settings_table(runs, only_differences),
            compare.metrics_table(runs)]
