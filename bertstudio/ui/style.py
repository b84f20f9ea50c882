"""The studio's look: the gradio theme, the page's CSS, and the launch arguments that carry them.

gradio 6 takes the theme and CSS in `Blocks.launch`, not in `gr.Blocks()`, so they travel together.
"""

from __future__ import annotations

import gradio as gr


def theme() -> gr.themes.Base:
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="amber", neutral_hue="slate",
                          font=("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "sans-serif"))


CSS = """
.gradio-container { margin: 0 auto !important; }
#studio-header h1 { margin-bottom: 0.1em; }
#studio-header p { margin-top: 0; color: var(--body-text-color-subdued); }
.tab-intro p { color: var(--body-text-color-subdued); margin: 0.2em 0 0.6em; }
.preset-help p { font-size: 0.9em; color: var(--body-text-color-subdued); margin-top: -0.3em; }
.problem { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; border-radius: 8px;
           padding: 0.55em 0.8em; margin: 0.3em 0; line-height: 1.4; }
.notice { background: #eef2ff; border: 1px solid #c7d2fe; color: #3730a3; border-radius: 8px; padding: 0.55em 0.8em; }
.report ul { margin-top: 0.3em; }
#train-device-refresh { align-self: center; }  /* a small button beside the choices, not a tall panel */
.memory-need { border-left: 4px solid #10b981; padding: 0.3em 0.7em; margin: 0.2em 0; line-height: 1.45; font-size: 0.93em; }
.memory-need.memory-tight { border-left-color: #f59e0b; }
.memory-need.memory-short { border-left-color: #dc2626; }
#data-task { padding: 0.5em 0.8em; line-height: 1.45; }
#data-column-problem:not(:has(.problem)) { display: none; }  /* no empty band between the task and its chart */
.hosted-banner { background: #fffbeb; border: 1px solid #fcd34d; color: #78350f; border-radius: 10px;
                 padding: 0.6em 0.9em; margin: 0.2em 0 0.6em; line-height: 1.45; font-size: 0.95em; }
.hosted-banner ul { display: inline; margin: 0; padding: 0; }
.hosted-banner li { display: inline; }
.hosted-banner * { color: inherit !important; }  /* gradio's prose rule colours every element inside */
.hosted-banner li + li::before { content: " · "; }
.run-state { border-radius: 10px; padding: 0.7em 0.9em; border: 1px solid var(--border-color-primary);
             background: var(--block-background-fill); line-height: 1.5; }
.run-state.waiting { background: #fffbeb; border-color: #fde68a; color: #92400e; }
.run-state.failed { background: #fef2f2; border-color: #fecaca; color: #991b1b; }
.run-state.finished { border-color: #a7f3d0; }
.run-state .bar { height: 10px; background: #e0e7ff; border-radius: 999px; overflow: hidden; margin-bottom: 0.45em; }
.run-state .fill { height: 100%; background: #4f46e5; transition: width 0.5s; }
.run-state.finished .fill { background: #059669; }
.tok-view { font-size: 14px; }
.tok-summary { color: var(--body-text-color-subdued); margin-bottom: 0.45em; }
.tok-line { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: center; line-height: 1; max-height: 420px; overflow-y: auto; }
.tok-word { display: inline-flex; flex-wrap: wrap; gap: 1px; max-width: 100%; }  /* a long word's pieces wrap, not cut */
.tok { display: inline-block; padding: 5px 7px; border-radius: 6px; background: #e0e7ff; color: #1e1b4b;
       font-family: ui-monospace, Consolas, monospace; font-size: 13px; border: 1px solid #c7d2fe; cursor: default; }
.tok-word .tok + .tok { border-top-left-radius: 0; border-bottom-left-radius: 0; }
.tok-word .tok:has(+ .tok) { border-top-right-radius: 0; border-bottom-right-radius: 0; }
.tok-cont { background: #c7d2fe; }
.tok-special { background: #334155; color: #f8fafc; border-color: #334155; font-weight: 600; }
.tok-b { background: #fef3c7; border-color: #fde68a; color: #78350f; }
.tok-b.tok-cont { background: #fde68a; }
.tok-unk { background: #fee2e2; border: 2px solid #dc2626; color: #991b1b; font-weight: 700; }
.tok-dropped { opacity: 0.45; text-decoration: line-through; background: #f1f5f9; border-style: dashed; color: #64748b; }
.tok-cut { color: #dc2626; font-weight: 700; font-size: 13px; padding: 0 2px; border-left: 2px dashed #dc2626; padding-left: 6px; }
.tok-legend { margin-top: 0.8em; font-size: 12px; color: var(--body-text-color-subdued); display: flex;
              flex-wrap: wrap; gap: 6px; align-items: center; }
.tok-legend .tok { font-size: 11px; padding: 2px 5px; }
.tok-row-title { font-weight: 600; margin: 0.3em 0 0.5em; }
/* Explanations: the same chips, green toward the label, red against it, five shades by share */
.why-line { font-size: 15px; margin-bottom: 0.25em; }
.why-facts { color: var(--body-text-color-subdued); font-size: 12px; margin-bottom: 0.6em; }
.tok-view .tok.tok-why-pos-1 { background: #f0fdf4; border-color: #dcfce7; color: #14532d; }
.tok-view .tok.tok-why-pos-2 { background: #dcfce7; border-color: #bbf7d0; color: #14532d; }
.tok-view .tok.tok-why-pos-3 { background: #86efac; border-color: #4ade80; color: #14532d; }
.tok-view .tok.tok-why-pos-4 { background: #22c55e; border-color: #16a34a; color: #052e16; }
.tok-view .tok.tok-why-pos-5 { background: #15803d; border-color: #166534; color: #ffffff; }
.tok-view .tok.tok-why-neg-1 { background: #fef2f2; border-color: #fee2e2; color: #7f1d1d; }
.tok-view .tok.tok-why-neg-2 { background: #fee2e2; border-color: #fecaca; color: #7f1d1d; }
.tok-view .tok.tok-why-neg-3 { background: #fca5a5; border-color: #f87171; color: #7f1d1d; }
.tok-view .tok.tok-why-neg-4 { background: #ef4444; border-color: #dc2626; color: #450a0a; }
.tok-view .tok.tok-why-neg-5 { background: #b91c1c; border-color: #991b1b; color: #ffffff; }
/* The tab bar wraps (Tabs' overflow_behavior="wrap") so all six steps stay in sight on a phone. */
#studio-tabs { width: 100%; min-width: 0; max-width: 100%; }
.tab-container:not(.visually-hidden) { min-width: 0 !important; flex-wrap: wrap; }
/* The page is a flex item of gradio's app element, so by default it grew to its widest content (a
   table's header row) and the whole page scrolled sideways. A table's box takes no width from its
   rows (inline-size containment), so it is as wide as the column it sits in and scrolls inside.
   No 100vw here: it counts the vertical scrollbar, which a desktop browser draws beside the page,
   and the page came out that much wider than the window. */
.gradio-container, .gradio-container > .main { min-width: 0 !important; max-width: min(1280px, 100%) !important; }
.table-wrap { max-width: 100%; overflow-x: auto; contain: inline-size; }
.align-end { align-self: flex-end; }
#cfg-learning_rate .tab-like-container, #cfg-learning_rate .min_value, #cfg-learning_rate .max_value { display: none; }
@media (max-width: 700px) {
  .gradio-container { padding: 0 6px !important; }
  .row { flex-wrap: wrap !important; }
  .row > .column, .row > .block, .row > .form { min-width: 100% !important; flex-basis: 100% !important; }
  .tok { font-size: 12px; }
  body, .gradio-container { overflow-x: hidden; }
  /* A long label wraps to a second line on a phone: floating, it covered the predicted class. */
  #predict-label > [data-testid="block-label"].float { position: relative; }
}
"""


def launch_options() -> dict:
    """Arguments for `Blocks.launch` that gradio 6 takes there rather than in `gr.Blocks()`."""
    return {"theme": theme(), "css": CSS}
