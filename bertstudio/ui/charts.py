"""The figures every task shares: pure functions from numbers or a `TrainHistory` to a plotly figure.

No gradio here, so each chart is tested as data. plotly is imported inside the functions: building
the page must not wait for it. The figures of one kind of target (tags, scores) are in
task_charts.py, built on this module's frame (`new_figure`, `empty_figure`), colours and `plain`.
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


def new_figure(title: str, x_title: str = "", y_title: str = "", height: int = HEIGHT) -> "go.Figure":
    """An empty figure in the studio's look, its titles shown as typed."""
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


def empty_figure(fig: "go.Figure", message: str) -> "go.Figure":
    """`fig` with no axes and `message` in the middle: what to do to see the chart."""
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

    fig = new_figure(title, y_title="rows")
    if not counts:
        return empty_figure(fig, "Choose a label column to see how the rows spread over the labels.")
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

    fig = new_figure("Token length per row", x_title="tokens (special tokens included)", y_title="rows")
    if not counts:
        return empty_figure(fig, "Load a dataset on the Data tab to see its token lengths.")
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

    fig = new_figure("Learning rate schedule", x_title="optimizer step", y_title="learning rate")
    if not learning_rates:
        return empty_figure(fig, "Load a dataset to see the schedule over the real number of steps.")
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
    """Training loss, raw and smoothed, with the validation loss on the same axes; a run that
    adapts its model first (`adapt_epochs`) shows that phase's masked-LM loss in a panel of its own."""
    masked_lm = history.task == "masked_lm"
    fig = new_figure("Loss on hidden words" if masked_lm else "Loss", x_title="step", y_title="loss")
    if history.adaptation is not None:
        return _phased_loss_figure(fig, history)
    if not history.step and not history.eval_step:
        return empty_figure(fig, "The loss appears here after the first logged steps.")
    _loss_traces(fig, history.step, history.loss, history.eval_step, history.eval_loss, (MUTED, PRIMARY),
                 perplexity=history.eval_scores.get("perplexity") if masked_lm else None)
    _step_axis(fig, history)
    return fig


def _loss_traces(fig: "go.Figure", steps: Sequence[int], loss: Sequence[float], eval_steps: Sequence[int],
                 eval_loss: Sequence[float | None], colours: tuple[str, str], prefix: str = "",
                 axes: tuple[str, str] = ("x", "y"), perplexity: Sequence[float | None] | None = None,
                 raw_in_legend: bool = True) -> None:
    """The raw and smoothed training loss and the validation loss of one phase, on `axes`."""
    import plotly.graph_objects as go

    raw, smoothed = colours
    if steps:
        fig.add_trace(go.Scatter(x=list(steps), y=list(loss), mode="lines", name=f"{prefix}training (raw)",
                                 line={"color": raw, "width": 1}, opacity=0.7, xaxis=axes[0], yaxis=axes[1],
                                 showlegend=raw_in_legend))
        fig.add_trace(go.Scatter(x=list(steps), y=smooth(loss), mode="lines", xaxis=axes[0], yaxis=axes[1],
                                 name=f"{prefix}training" if prefix else "training (smoothed)",
                                 line={"color": smoothed, "width": 2.5}))
    points = [(s, v, p) for s, v, p in zip(eval_steps, eval_loss, perplexity or [None] * len(eval_steps))
              if v is not None]
    if points:
        # The masked-LM's perplexity (exp of its loss) is the number people compare: in the hover.
        hover = ("validation %{y:.4f} (perplexity %{customdata:.2f})<extra></extra>"
                 if all(p is not None for _, _, p in points) else None)
        fig.add_trace(go.Scatter(x=[s for s, _, _ in points], y=[v for _, v, _ in points], mode="lines+markers",
                                 name=f"{prefix}validation", line={"color": SECONDARY, "width": 2.5},
                                 marker={"size": 8, "symbol": "diamond" if prefix else "circle"},
                                 customdata=[p for _, _, p in points], hovertemplate=hover,
                                 xaxis=axes[0], yaxis=axes[1]))


ADAPTATION = "#0d9488"        # teal 600: the adaptation phase, apart from fine-tuning's indigo
ADAPTATION_MUTED = "#99f6e4"  # teal 200: its raw loss
ADAPTATION_WIDTH = 0.36       # the share of the loss chart the adaptation panel takes


def _phased_loss_figure(fig: "go.Figure", history: "TrainHistory") -> "go.Figure":
    """Two panels side by side: the adaptation's masked-LM loss (its own steps and scale: guessing
    words out of 30,000 starts near 10, a classifier's loss near 1), then the fine-tuning's."""
    adaptation = history.adaptation
    split = ADAPTATION_WIDTH
    fig.update_layout(xaxis={"domain": [0, split - 0.04], "anchor": "y", "title": {"text": "adaptation step"}},
                      yaxis={"anchor": "x", "title": {"text": "masked-LM loss"}},
                      xaxis2={"domain": [split + 0.08, 1], "anchor": "y2", "title": {"text": "fine-tuning step"}},
                      yaxis2={"anchor": "x2", "title": {"text": "loss"}},
                      height=HEIGHT + 30, margin={"t": 64, "b": 84},
                      legend={"orientation": "h", "x": 0.0, "xanchor": "left", "y": -0.3, "yanchor": "top"})
    _loss_traces(fig, adaptation.step, adaptation.loss, adaptation.eval_step, adaptation.eval_loss,
                 (ADAPTATION_MUTED, ADAPTATION), prefix="adapting: ", perplexity=adaptation.eval_perplexity,
                 raw_in_legend=False)
    # The legend holds four entries under the panels: the raw lines explain themselves beside
    # their smoothed ones.
    _loss_traces(fig, history.step, history.loss, history.eval_step, history.eval_loss, (MUTED, PRIMARY),
                 axes=("x2", "y2"), raw_in_legend=False)
    ended = {"stopped": " (stopped)", "failed": " (failed)"}.get(adaptation.phase, "")
    for axis, words, colour in (("x", f"1. Adapting to your texts{ended}", ADAPTATION),
                                ("x2", "2. Fine-tuning", PRIMARY)):
        fig.add_annotation(text=plain(words), showarrow=False, xref=f"{axis} domain", yref="paper", x=0,
                           y=1.02, xanchor="left", yanchor="bottom", font={"size": 12, "color": colour})
    if not adaptation.step and not adaptation.eval_step:
        _panel_message(fig, "x", "y", "The masked-LM loss appears after the first logged steps.")
    if not history.step and not history.eval_step:
        _panel_message(fig, "x2", "y2", "Fine-tuning starts when the adaptation ends."
                       if not adaptation.ended or adaptation.phase == "finished" else "Nothing was fine-tuned.")
    if adaptation.total_steps:
        fig.update_layout(xaxis_range=[0, adaptation.total_steps * 1.02])
    if history.total_steps:
        fig.update_layout(xaxis2_range=[0, history.total_steps * 1.02])
    return fig


def _panel_message(fig: "go.Figure", x: str, y: str, message: str) -> None:
    """`message` in the middle of one panel, whose axes have nothing to show yet."""
    fig.add_annotation(text=plain(message), showarrow=False, x=0.5, y=0.5, xref=f"{x} domain",
                       yref=f"{y} domain", font={"size": 12, "color": "#6b7280"})
    fig.update_layout(**{f"xaxis{x[1:]}_visible": False, f"yaxis{y[1:]}_visible": False})


BOUNDED = ("accuracy", "macro_f1", "micro_f1", "subset_accuracy")  # scores between 0 and 1
# What a task's metric means where its plain name would mislead: a masked-LM's "accuracy" is
# the share of hidden words it guessed, not of rows it classified.
SERIES_WORDS = {"masked_lm": {"accuracy": "hidden words guessed right"}}


def metrics_figure(history: "TrainHistory") -> "go.Figure":
    """The run's headline validation scores per evaluation (`TrainHistory.charted`): accuracy and
    macro-F1, macro- and micro-F1, or Pearson with RMSE on an axis of its own (another unit)."""
    import plotly.graph_objects as go

    from bertstudio.tasks.metrics import LOWER_IS_BETTER
    from bertstudio.tasks.wording import metric_name

    names = history.charted
    title = "Validation " + " and ".join(metric_name(n) for n in names) if names else "Validation scores"
    fig = new_figure(title, x_title="step", y_title="score")
    if not history.eval_step or not names:
        return empty_figure(fig, "Fine-tuning's validation scores appear after its first evaluation; the model "
                                 "is adapting to your texts first." if history.adapting else
                                 "Validation scores appear after the first evaluation.")
    # An error (RMSE, perplexity) beside a score (Pearson, accuracy) is in units of its own: give
    # it the right axis.
    errors = LOWER_IS_BETTER | {"perplexity"}
    second_axis = any(n in errors for n in names) and any(n not in errors for n in names)
    words = SERIES_WORDS.get(history.task, {})
    for i, name in enumerate(names):
        on_right = second_axis and name in errors
        fig.add_trace(go.Scatter(x=history.eval_step, y=history.eval_scores[name], mode="lines+markers",
                                 name=plain(words.get(name, metric_name(name))
                                            + (" (lower is better)" if on_right else "")),
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
        right = next(n for n in names if n in errors)
        left = next(n for n in names if n not in errors)
        if left in BOUNDED:
            fig.update_layout(yaxis_range=[0, 1.05])
        fig.update_layout(yaxis_title=plain(words.get(left, metric_name(left))),
                          yaxis2={"title": plain(metric_name(right)), "overlaying": "y", "side": "right",
                                  "rangemode": "tozero", "showgrid": False},
                          margin={"r": 56})
    _step_axis(fig, history)
    return fig


MARKERS_UP_TO = 60  # logged points drawn as dots too; past this many the line alone reads better


def learning_rate_figure(history: "TrainHistory",
                         planned: tuple[Sequence[int], Sequence[float]] | None = None) -> "go.Figure":
    """The learning rate at each logged step, over the run's `planned` (steps, rates) when given.

    A run logs a Step every `logging_steps` (10 by default) and at its last step, each with the rate
    after that step's scheduler update: a run shorter than its interval logs one point, at the end
    of the decay (0 under linear and cosine). A line through one point draws nothing, so few logged
    points are dots as well; the planned schedule (`estimate.schedule_points` of the run's config,
    the same rates in the same convention) shows the curve they sit on.
    """
    import plotly.graph_objects as go

    fig = new_figure("Learning rate", x_title="step", y_title="learning rate")
    planned = planned if planned and len(planned[0]) else None
    if not history.step and not planned:
        return empty_figure(fig, "The learning rate appears here after the first logged steps.")
    if planned:
        steps, rates = planned
        fig.add_trace(go.Scatter(x=list(steps), y=list(rates), mode="lines", name="planned",
                                 line={"color": MUTED, "width": 2, "dash": "dot"}))
    if history.step:
        fig.add_trace(go.Scatter(x=history.step, y=history.learning_rate, name="learning rate",
                                 mode="lines+markers" if len(history.step) <= MARKERS_UP_TO else "lines",
                                 line={"color": PRIMARY, "width": 2.5}, marker={"size": 7},
                                 cliponaxis=False))  # the last step's dot sits on the axes' corner
    fig.update_yaxes(exponentformat="e", rangemode="tozero")
    fig.update_layout(showlegend=bool(planned))
    _step_axis(fig, history)
    return fig


def _step_axis(fig: "go.Figure", history: "TrainHistory") -> None:
    if history.total_steps:
        fig.update_xaxes(range=[0, history.total_steps * 1.02])


def confusion_figure(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> "go.Figure":
    """Rows are the true labels, columns the predicted ones; the diagonal is what the model got right."""
    import plotly.graph_objects as go

    size = max(HEIGHT, min(640, 120 + 48 * len(labels)))
    fig = new_figure("Confusion matrix (validation)", x_title="predicted label", y_title="true label",
                  height=size)
    if not matrix or not labels:
        return empty_figure(fig, "The confusion matrix appears when the run has been evaluated.")
    names = [plain(label) for label in labels]
    fig.add_trace(go.Heatmap(z=[list(row) for row in matrix], x=names, y=names, colorscale="Blues",
                             text=[[str(v) for v in row] for row in matrix], texttemplate="%{text}",
                             showscale=False,
                             hovertemplate="true %{y}, predicted %{x}: %{z} rows<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    fig.update_layout(hovermode="closest")
    return fig
