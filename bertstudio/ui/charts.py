"""Every figure the studio draws: pure functions from numbers or a `TrainHistory` to a plotly figure.

No gradio here, so each chart is tested as data. plotly is imported inside the functions: building
the page must not wait for it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from bertstudio.ui.history import TrainHistory

PRIMARY = "#4f46e5"    # indigo 600: the theme's primary hue
SECONDARY = "#f59e0b"  # amber 500: validation, contrasts with the primary on any screen
MUTED = "#a5b4fc"      # indigo 300: raw, noisy series behind their smoothed line
DANGER = "#dc2626"
HEIGHT = 300
SMOOTHING = 0.6        # exponential moving average weight, as TensorBoard's default slider


def plain(text: object) -> str:
    """`text` as plotly shows it literally. plotly.js renders a subset of HTML in every string it
    draws (`<a href>` as a live link, `<b>`, `<span style>`) and decodes entities only in the text
    between tags, so escaping `&`, `<` and `>` shows a label exactly as typed. Every string that
    enters a figure (titles, axis titles, categories, annotations) passes through here; the
    hovertemplates are ours and keep their `<extra>` markup."""
    return html.escape(str(text), quote=False)


def _figure(title: str, x_title: str = "", y_title: str = "", height: int = HEIGHT) -> "go.Figure":
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(
        title={"text": plain(title), "x": 0.01, "font": {"size": 15}}, template="plotly_white",
        height=height, margin={"l": 56, "r": 16, "t": 44, "b": 44},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        xaxis_title=plain(x_title), yaxis_title=plain(y_title), hovermode="x unified",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    return fig


def _empty(fig: "go.Figure", message: str) -> "go.Figure":
    fig.add_annotation(text=plain(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 13, "color": "#6b7280"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def smooth(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """Debiased exponential moving average: the first point is the first value, not pulled to 0."""
    out: list[float] = []
    average = 0.0
    for i, value in enumerate(values, start=1):
        average = weight * average + (1 - weight) * value
        out.append(average / (1 - weight ** i))
    return out


# --- data tab -------------------------------------------------------------------------------------

def label_distribution_figure(counts: dict[str, int], title: str = "Rows per label") -> "go.Figure":
    import plotly.graph_objects as go

    fig = _figure(title, y_title="rows")
    if not counts:
        return _empty(fig, "Choose a label column to see how the rows spread over the labels.")
    labels = [plain(label) for label in counts]
    fig.add_trace(go.Bar(x=labels, y=list(counts.values()), marker_color=PRIMARY,
                         text=list(counts.values()), textposition="outside", cliponaxis=False,
                         hovertemplate="%{x}: %{y} rows<extra></extra>"))
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(type="category")
    return fig


# --- tokenizer tab --------------------------------------------------------------------------------

def length_histogram_figure(edges: Sequence[float], counts: Sequence[int], max_length: int,
                            suggested: int | None = None) -> "go.Figure":
    """Token lengths per row as bars, split at `max_length`: bars past the line are truncated rows."""
    import plotly.graph_objects as go

    fig = _figure("Token length per row", x_title="tokens (special tokens included)", y_title="rows")
    if not counts:
        return _empty(fig, "Load a dataset on the Data tab to see its token lengths.")
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
    colors = [PRIMARY if center <= max_length else MUTED for center in centers]
    fig.add_trace(go.Bar(x=centers, y=list(counts), width=widths, marker_color=colors,
                         marker_line_width=0, name="rows",
                         customdata=[[a, b] for a, b in zip(edges[:-1], edges[1:])],
                         hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f} tokens: "
                                       "%{y} rows<extra></extra>"))
    fig.add_vline(x=max_length, line_color=DANGER, line_width=2,
                  annotation_text=f"max length {max_length}", annotation_position="top right",
                  annotation_font_color=DANGER)
    if suggested is not None and suggested != max_length:
        fig.add_vline(x=suggested, line_color="#059669", line_dash="dot", line_width=2,
                      annotation_text=f"suggested {suggested}", annotation_position="top left",
                      annotation_font_color="#059669")
    fig.update_layout(hovermode="closest", showlegend=False, bargap=0.02)
    return fig


# --- hyperparameters tab --------------------------------------------------------------------------

def schedule_figure(learning_rates: Sequence[float], warmup_steps: int = 0,
                    steps: Sequence[int] | None = None) -> "go.Figure":
    """The learning rate over the run's optimizer steps (every step, or the sampled `steps`)."""
    import plotly.graph_objects as go

    fig = _figure("Learning rate schedule", x_title="optimizer step", y_title="learning rate")
    if not learning_rates:
        return _empty(fig, "Load a dataset to see the schedule over the real number of steps.")
    steps = list(steps) if steps is not None else list(range(1, len(learning_rates) + 1))
    fig.add_trace(go.Scatter(x=steps, y=list(learning_rates), mode="lines", name="learning rate",
                             line={"color": PRIMARY, "width": 2.5}, fill="tozeroy",
                             fillcolor="rgba(79,70,229,0.08)",
                             hovertemplate="step %{x}: %{y:.2e}<extra></extra>"))
    if warmup_steps > 0:
        fig.add_vrect(x0=0, x1=warmup_steps, fillcolor=SECONDARY, opacity=0.12, line_width=0,
                      annotation_text="warmup", annotation_position="top left")
    fig.update_yaxes(exponentformat="e", rangemode="tozero")
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


# --- train tab ------------------------------------------------------------------------------------

def loss_figure(history: "TrainHistory") -> "go.Figure":
    """Training loss, raw and smoothed, with the validation loss on the same axes."""
    import plotly.graph_objects as go

    fig = _figure("Loss", x_title="step", y_title="loss")
    if not history.step and not history.eval_step:
        return _empty(fig, "The loss appears here after the first logged steps.")
    if history.step:
        fig.add_trace(go.Scatter(x=history.step, y=history.loss, mode="lines", name="training (raw)",
                                 line={"color": MUTED, "width": 1}, opacity=0.7))
        fig.add_trace(go.Scatter(x=history.step, y=smooth(history.loss), mode="lines",
                                 name="training (smoothed)", line={"color": PRIMARY, "width": 2.5}))
    points = [(s, v) for s, v in zip(history.eval_step, history.eval_loss) if v is not None]
    if points:
        fig.add_trace(go.Scatter(x=[s for s, _ in points], y=[v for _, v in points], mode="lines+markers",
                                 name="validation", line={"color": SECONDARY, "width": 2.5},
                                 marker={"size": 8}))
    _step_axis(fig, history)
    return fig


BOUNDED = ("accuracy", "macro_f1", "micro_f1", "subset_accuracy")  # scores between 0 and 1


def metrics_figure(history: "TrainHistory") -> "go.Figure":
    """The run's headline validation scores per evaluation (`TrainHistory.charted`): accuracy and
    macro-F1, macro- and micro-F1, or Pearson with RMSE on an axis of its own (another unit)."""
    import plotly.graph_objects as go

    from bertstudio.tasks.metrics import LOWER_IS_BETTER
    from bertstudio.tasks.wording import metric_name

    names = history.charted
    title = "Validation " + " and ".join(metric_name(n) for n in names) if names else "Validation scores"
    fig = _figure(title, x_title="step", y_title="score")
    if not history.eval_step or not names:
        return _empty(fig, "Validation scores appear after the first evaluation.")
    # An error (RMSE) beside a score (Pearson) is in the target's own units: give it the right axis.
    second_axis = any(n in LOWER_IS_BETTER for n in names) and any(n not in LOWER_IS_BETTER for n in names)
    for i, name in enumerate(names):
        on_right = second_axis and name in LOWER_IS_BETTER
        fig.add_trace(go.Scatter(x=history.eval_step, y=history.eval_scores[name], mode="lines+markers",
                                 name=plain(metric_name(name) + (" (lower is better)" if on_right else "")),
                                 yaxis="y2" if on_right else "y",
                                 line={"color": (PRIMARY, SECONDARY)[i], "width": 2.5,
                                       "dash": "dash" if i else "solid"}, marker={"size": 8},
                                 connectgaps=True))
    # The legend under the axis: above it, beside a title naming two metrics, it covered the
    # title on a phone.
    fig.update_layout(legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.22, "yanchor": "top"},
                      margin={"b": 76})
    if all(n in BOUNDED for n in names):
        fig.update_yaxes(range=[0, 1.05])
    if second_axis:
        right = next(n for n in names if n in LOWER_IS_BETTER)
        left = next(n for n in names if n not in LOWER_IS_BETTER)
        fig.update_layout(yaxis_title=plain(metric_name(left)),
                          yaxis2={"title": plain(metric_name(right)), "overlaying": "y", "side": "right",
                                  "rangemode": "tozero", "showgrid": False},
                          margin={"r": 56})
    _step_axis(fig, history)
    return fig


def learning_rate_figure(history: "TrainHistory") -> "go.Figure":
    import plotly.graph_objects as go

    fig = _figure("Learning rate", x_title="step", y_title="learning rate")
    if not history.step:
        return _empty(fig, "The learning rate appears here after the first logged steps.")
    fig.add_trace(go.Scatter(x=history.step, y=history.learning_rate, mode="lines", name="learning rate",
                             line={"color": PRIMARY, "width": 2.5}))
    fig.update_yaxes(exponentformat="e", rangemode="tozero")
    fig.update_layout(showlegend=False)
    _step_axis(fig, history)
    return fig


def _step_axis(fig: "go.Figure", history: "TrainHistory") -> None:
    if history.total_steps:
        fig.update_xaxes(range=[0, history.total_steps * 1.02])


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> "go.Figure":
    """Rows are the true labels, columns the predicted ones; the diagonal is what the model got right."""
    import plotly.graph_objects as go

    size = max(HEIGHT, min(640, 120 + 48 * len(labels)))
    fig = _figure("Confusion matrix (validation)", x_title="predicted label", y_title="true label",
                  height=size)
    if not matrix or not labels:
        return _empty(fig, "The confusion matrix appears when the run has been evaluated.")
    names = [plain(label) for label in labels]
    fig.add_trace(go.Heatmap(z=[list(row) for row in matrix], x=names, y=names, colorscale="Blues",
                             text=[[str(v) for v in row] for row in matrix], texttemplate="%{text}",
                             showscale=False,
                             hovertemplate="true %{y}, predicted %{x}: %{z} rows<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    fig.update_layout(hovermode="closest")
    return fig


# --- results of a multi-label or a regression run -------------------------------------------------

def per_label_f1_figure(per_label: dict[str, dict]) -> "go.Figure":
    """Multi-label results: each label's F1 at its tuned threshold, a bar per label (in label
    order), its validation rows in the hover; where the confusion matrix is for one label per row."""
    import plotly.graph_objects as go

    size = max(HEIGHT, min(900, 90 + 26 * len(per_label)))
    fig = _figure("F1 per label (validation, tuned thresholds)", x_title="F1", height=size)
    if not per_label:
        return _empty(fig, "The per-label scores appear when the run has been evaluated.")
    names = [plain(label) for label in per_label]
    f1 = [float(m.get("f1") or 0.0) for m in per_label.values()]
    support = [m.get("support") for m in per_label.values()]
    fig.add_trace(go.Bar(y=names, x=f1, orientation="h", marker_color=PRIMARY, customdata=support,
                         text=[f"{v:.2f}" for v in f1], textposition="outside", cliponaxis=False,
                         hovertemplate="%{y}: F1 %{x:.3f} on %{customdata} validation rows<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(range=[0, 1.1])
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


SCATTER_POINTS = 3000  # more points than this are sampled evenly: the shape shows, the page stays light


def regression_scatter_figure(gold: Sequence[float], predicted: Sequence[float],
                              target: str = "value") -> "go.Figure":
    """Regression results: each validation row's prediction against its true value, with the line
    where they are equal; points far from it are the misses."""
    import plotly.graph_objects as go

    fig = _figure(f"Predicted versus true {target} (validation)", x_title=f"true {target}",
                  y_title=f"predicted {target}", height=380)
    points = [(float(g), float(p)) for g, p in zip(gold, predicted)]
    if not points:
        return _empty(fig, "The predictions appear here when the run has been evaluated.")
    if len(points) > SCATTER_POINTS:
        stride = len(points) / SCATTER_POINTS
        points = [points[int(i * stride)] for i in range(SCATTER_POINTS)]
    low = min(min(g, p) for g, p in points)
    high = max(max(g, p) for g, p in points)
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="predicted = true",
                             line={"color": "#94a3b8", "dash": "dash", "width": 1.5}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[g for g, _ in points], y=[p for _, p in points], mode="markers",
                             name="validation rows", marker={"color": PRIMARY, "size": 6, "opacity": 0.55},
                             hovertemplate="true %{x:.3g}, predicted %{y:.3g}<extra></extra>"))
    # The same range on both axes (not a locked aspect ratio, which left most of a wide chart
    # empty): the dashed line is then the diagonal, and distance from it reads the same both ways.
    pad = (high - low) * 0.05 or 0.5
    fig.update_xaxes(range=[low - pad, high + pad])
    fig.update_yaxes(range=[low - pad, high + pad])
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


# --- predict tab ----------------------------------------------------------------------------------

def label_probabilities_figure(probabilities: dict[str, float], thresholds: dict[str, float],
                               chosen: Sequence[str]) -> "go.Figure":
    """One text's multi-label answer: a bar per label (its probability), each label's own
    threshold marked on its bar, the labels that passed it in the primary colour."""
    import plotly.graph_objects as go

    size = max(220, min(900, 70 + 28 * len(probabilities)))
    fig = _figure("Probability per label (red mark: its threshold)", x_title="probability", height=size)
    if not probabilities:
        return _empty(fig, "Type a text and press Predict to see each label's probability.")
    names = [plain(label) for label in probabilities]
    values = list(probabilities.values())
    passed = set(chosen)
    fig.add_trace(go.Bar(y=names, x=values, orientation="h", name="probability",
                         marker_color=[PRIMARY if label in passed else MUTED for label in probabilities],
                         text=[f"{v:.2f}" for v in values], textposition="outside", cliponaxis=False,
                         hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    marks = [(plain(label), thresholds[label]) for label in probabilities if label in thresholds]
    if marks:
        fig.add_trace(go.Scatter(y=[n for n, _ in marks], x=[t for _, t in marks], mode="markers",
                                 name="threshold", marker={"symbol": "line-ns", "size": 22, "color": DANGER,
                                                           "line": {"width": 3, "color": DANGER}},
                                 hovertemplate="%{y}: threshold %{x:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category", automargin=True)
    fig.update_xaxes(range=[0, 1.12])
    fig.update_layout(hovermode="closest", showlegend=False, bargap=0.3)
    return fig


# --- data tab: the charts of the other tasks (several labels per row, a number per row) -------------

def label_frequency_figure(counts: dict[str, int], rows: int | None = None,
                           title: str = "Rows per label") -> "go.Figure":
    """Rows carrying each tag, most frequent first, as horizontal bars: 28 tag names stay readable
    on a phone, where upright bars would squeeze them. With `rows`, each bar names its share."""
    import plotly.graph_objects as go

    height = max(HEIGHT, min(760, 90 + 22 * len(counts)))
    fig = _figure(title, x_title="rows", height=height)
    if not counts:
        return _empty(fig, "Choose the label column to see how often each label is used.")
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    names = [plain(name) for name, _ in ordered]
    values = [value for _, value in ordered]
    text = [f"{v:,} ({_share(v, rows)})" if rows else f"{v:,}" for v in values]
    fig.add_trace(go.Bar(x=values, y=names, orientation="h", marker_color=PRIMARY, text=text,
                         textposition="outside", cliponaxis=False,
                         hovertemplate="%{y}: %{x} rows<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed", automargin=True)
    fig.update_xaxes(rangemode="tozero", range=[0, max(values) * 1.25])
    fig.update_layout(hovermode="closest", showlegend=False, margin={"l": 8, "r": 16, "t": 44, "b": 44})
    return fig


def _round_edges(low: float, high: float, bins: int) -> "list[float]":
    """Bin edges of a round width (1, 2, 2.5 or 5 times a power of ten) giving at most `bins`
    bins, each centred on a multiple of the width: scores given in steps (STS-B's 0.2) land in
    the middle of a bin, never on an edge, where float rounding left every fifth bin empty."""
    import math

    raw = (high - low) / bins
    scale = 10 ** math.floor(math.log10(raw))
    width = next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= raw * (1 - 1e-9))
    start = math.floor(low / width + 0.5) * width - width / 2
    count = max(1, math.ceil((high - start) / width))
    if start + count * width <= high:
        count += 1
    return [start + i * width for i in range(count + 1)]


def _share(part: int, whole: int) -> str:
    """A share as a whole percent, where a few rows out of many read "<1%", not "0%"."""
    return "<1%" if 0 < part < whole / 100 else f"{part / whole:.0%}"


def labels_per_row_figure(per_row: dict[int, int]) -> "go.Figure":
    """How many labels each row carries: 0 (none of the labels, allowed), 1, 2, ..."""
    import plotly.graph_objects as go

    fig = _figure("Labels per row", x_title="labels in the row", y_title="rows")
    if not per_row:
        return _empty(fig, "Each row's number of labels appears here.")
    keys = sorted(per_row, key=int)
    fig.add_trace(go.Bar(x=[str(k) for k in keys], y=[per_row[k] for k in keys], marker_color=SECONDARY,
                         text=[f"{per_row[k]:,}" for k in keys], textposition="outside", cliponaxis=False,
                         hovertemplate="%{x} labels: %{y} rows<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def value_histogram_figure(values: Sequence[float], bins: int | None = None, name: str = "value") -> "go.Figure":
    """The target's values as a histogram (binned here, so the page gets at most 30 bars, not
    every row; about the square root of the rows, at least 10), with the mean marked."""
    import math

    import numpy as np
    import plotly.graph_objects as go

    fig = _figure(f"Values of {name}", x_title=name, y_title="rows")
    data = np.asarray([v for v in values if v is not None], dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return _empty(fig, "Choose the column of numbers to see how its values spread.")
    bins = bins or min(30, max(10, round(math.sqrt(data.size))))
    distinct = np.unique(data)
    if distinct.size <= bins:  # a few values (1-5 stars): one bar each, not empty bins between them
        counts = [int((data == v).sum()) for v in distinct]
        fig.add_trace(go.Bar(x=distinct.tolist(), y=counts, marker_color=PRIMARY,
                             hovertemplate="%{x}: %{y} rows<extra></extra>"))
    else:
        counts, edges = np.histogram(data, bins=_round_edges(float(data.min()), float(data.max()), bins))
        centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        fig.add_trace(go.Bar(x=centers.tolist(), y=counts.tolist(), width=widths.tolist(),
                             marker_color=PRIMARY, marker_line_width=0,
                             customdata=np.stack([edges[:-1], edges[1:]], axis=1).tolist(),
                             hovertemplate="%{customdata[0]:.3g}–%{customdata[1]:.3g}: %{y} rows<extra></extra>"))
    mean = float(data.mean())
    fig.add_vline(x=mean, line_color=SECONDARY, line_width=2, line_dash="dash",
                  annotation_text=f"mean {mean:.3g}", annotation_position="top right",
                  annotation_font_color="#b45309")
    fig.update_layout(hovermode="closest", showlegend=False, bargap=0.05)
    return fig
