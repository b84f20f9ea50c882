"""The figures that belong to one kind of target: a tag column's label frequency and labels per
row, a score column's value histogram, a multi-label run's F1 per label and one text's probability
per label against its thresholds, and a regression run's predicted-versus-true scatter.

The figures every task shares (loss, scores, learning rate, token lengths, class balance, the
confusion matrix) are in charts.py, whose frame, colours and escaping these use too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from bertstudio.ui.charts import DANGER, HEIGHT, MUTED, PRIMARY, SECONDARY, empty_figure, new_figure, plain

if TYPE_CHECKING:
    import plotly.graph_objects as go


# --- data tab: several labels per row, a number per row ---------------------------------------

def label_frequency_figure(counts: dict[str, int], rows: int | None = None,
                           title: str = "Rows per label") -> "go.Figure":
    """Rows carrying each tag, most frequent first, as horizontal bars: 28 tag names stay readable
    on a phone, where upright bars would squeeze them. With `rows`, each bar names its share."""
    import plotly.graph_objects as go

    height = max(HEIGHT, min(760, 90 + 22 * len(counts)))
    fig = new_figure(title, x_title="rows", height=height)
    if not counts:
        return empty_figure(fig, "Choose the label column to see how often each label is used.")
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

    fig = new_figure("Labels per row", x_title="labels in the row", y_title="rows")
    if not per_row:
        return empty_figure(fig, "Each row's number of labels appears here.")
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

    fig = new_figure(f"Values of {name}", x_title=name, y_title="rows")
    data = np.asarray([v for v in values if v is not None], dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return empty_figure(fig, "Choose the column of numbers to see how its values spread.")
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


# --- results of a multi-label or a regression run -------------------------------------------------

def per_label_f1_figure(per_label: dict[str, dict]) -> "go.Figure":
    """Multi-label results: each label's F1 at its tuned threshold, a bar per label (in label
    order), its validation rows in the hover; where the confusion matrix is for one label per row."""
    import plotly.graph_objects as go

    size = max(HEIGHT, min(900, 90 + 26 * len(per_label)))
    fig = new_figure("F1 per label (validation, tuned thresholds)", x_title="F1", height=size)
    if not per_label:
        return empty_figure(fig, "The per-label scores appear when the run has been evaluated.")
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

    fig = new_figure(f"Predicted versus true {target} (validation)", x_title=f"true {target}",
                  y_title=f"predicted {target}", height=380)
    points = [(float(g), float(p)) for g, p in zip(gold, predicted)]
    if not points:
        return empty_figure(fig, "The predictions appear here when the run has been evaluated.")
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
    # The title is short enough for a phone's width (plotly does not wrap it); the threshold mark
    # is explained under the axis instead.
    fig = new_figure("Probability per label", x_title="probability · red mark: threshold",
                     height=size)
    if not probabilities:
        return empty_figure(fig, "Type a text and press Predict to see each label's probability.")
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
