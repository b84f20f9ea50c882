"""The search panel's chart: each try's score on the validation rows, and the best so far.

A pure function from the trials search.json records to a plotly figure, in charts.py's frame and
colours, so it is tested as data like the other charts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from bertstudio.ui.charts import DANGER, MUTED, PRIMARY, SECONDARY, empty_figure, new_figure, plain

if TYPE_CHECKING:
    import plotly.graph_objects as go

# How each way a trial ended is drawn; a trial without a score (failed) has no point.
STATE_STYLE = {
    "complete": ("trained to the end", PRIMARY, "circle"),
    "pruned": ("stopped early (behind the others)", MUTED, "x"),
    "stopped": ("stopped (Stop or time budget)", DANGER, "diamond"),
}


def trial_scores_figure(trials: Sequence[dict[str, Any]], metric_words: str, higher_is_better: bool = True
                        ) -> "go.Figure":
    """One point per scored trial (x: the trial's number, y: its score on the validation rows),
    marked by how it ended, and a line through the best score so far among the complete trials."""
    import plotly.graph_objects as go

    fig = new_figure("Score of each try", x_title="try", y_title=metric_words)
    scored = [t for t in trials if isinstance(t.get("value"), (int, float))]
    if not scored:
        return empty_figure(fig, "Each try's score on the validation rows shows here once it has trained.")
    for state, (words, colour, symbol) in STATE_STYLE.items():
        points = [t for t in scored if t.get("state") == state]
        if points:
            fig.add_trace(go.Scatter(
                x=[t["number"] for t in points], y=[t["value"] for t in points], mode="markers", name=plain(words),
                marker={"color": colour, "symbol": symbol, "size": 11, "line": {"width": 1, "color": "#ffffff"}},
                hovertemplate="try %{x}: %{y:.4f}<extra>" + plain(words) + "</extra>"))
    xs, best_line, best = [], [], None
    for trial in sorted(trials, key=lambda t: t["number"]):
        value = trial.get("value")
        if trial.get("state") == "complete" and isinstance(value, (int, float)):
            best = value if best is None else (max if higher_is_better else min)(best, value)
        if best is not None:
            xs.append(trial["number"])
            best_line.append(best)
    if best_line:
        fig.add_trace(go.Scatter(x=xs, y=best_line, mode="lines", name="best so far", line_shape="hv",
                                 line={"color": SECONDARY, "width": 2},
                                 hovertemplate="best after try %{x}: %{y:.4f}<extra></extra>"))
    fig.update_xaxes(tickmode="linear", dtick=1)
    fig.update_layout(hovermode="closest")
    return fig
