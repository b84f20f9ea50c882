"""Markdown and HTML the tabs show, made by pure functions from engine results; user text is escaped.

Every string that came from a user's file or keyboard goes through `html.escape` (HTML) or
`md_escape` (Markdown) here, so a review that says `<script>` is shown as text and never run.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

from bertstudio.training.progress import format_duration
from bertstudio.ui.markup import md_escape, shorten  # noqa: F401 (the tabs import them from here)

if TYPE_CHECKING:
    from bertstudio.data.dataset import DataReport
    from bertstudio.events import Step
    from bertstudio.explain import Explanation
    from bertstudio.data.tabular import Table
    from bertstudio.tasks.base import Task
    from bertstudio.text.token_preview import TokenPreview
    from bertstudio.text.tokenization import LengthStats
    from bertstudio.ui.history import TrainHistory

DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
FORMAT_NAMES = {"xlsx": "Excel workbook", "json": "JSON", "jsonl": "JSON Lines", "parquet": "Parquet"}
def problem(message: str | None) -> str:
    """A problem box's content: the engine's sentence, escaped, or nothing when all is well."""
    if not message:
        return ""
    return f'<div class="problem" role="alert">⚠️ {html.escape(message)}</div>'


def notice(message: str) -> str:
    return f'<div class="notice">{html.escape(message)}</div>'


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


# --- data tab -------------------------------------------------------------------------------------

def file_facts(table: "Table", role: str = "File") -> str:
    """What was detected about a file: its format (a text table's encoding and delimiter), header,
    size, and the fixes applied."""
    header = f"**Header row:** {'yes' if table.has_header else 'no (columns were numbered)'}"
    if table.format == "csv":
        delimiter = DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))
        kind = f"**Encoding:** {md_escape(table.encoding)} · **Delimiter:** {delimiter} · {header}"
    else:  # a workbook, JSON or Parquet file has no delimiter; its cells arrive as text already
        kind = f"**Format:** {FORMAT_NAMES.get(table.format, md_escape(table.format))}"
        if table.sheet is not None:
            kind += f", sheet '{md_escape(table.sheet)}'"
        if table.format == "xlsx":  # only a sheet's first row may or may not be a header
            kind += f" · {header}"
    lines = [f"**{role}:** {md_escape(table.name)} — {count(len(table.rows), 'row')}, "
             f"{count(len(table.columns), 'column')}",
             kind + (" · gzip" if table.compressed else "")]
    lines += [f"- {md_escape(note)}" for note in table.notes]
    return "\n\n".join(lines[:2]) + ("\n\n" + "\n".join(lines[2:]) if len(lines) > 2 else "")


def preview_rows(table: "Table", limit: int = 12, width: int = 160) -> list[list[str]]:
    """The first rows for the preview table, long cells shortened so the table stays readable."""
    return [[cell if len(cell) <= width else cell[:width - 1] + "…" for cell in row]
            for row in table.rows[:limit]]


def data_report(report: "DataReport", task: "Task | None" = None) -> str:
    """The data report: what was kept, dropped and why, duplicates, leakage between the splits, and
    what `task` (the run's resolved task; one label per row when not given) says of the balance."""
    if task is None:
        from bertstudio.tasks.registry import DEFAULT_TASK, get_task

        task = get_task(DEFAULT_TASK)
    lines = [f"**{report.rows_kept:,} of {report.rows_total:,} rows are usable:** "
             f"{report.train_size:,} for training, {report.validation_size:,} for validation "
             + (f"(held out from the file, {task.split_words})." if report.validation_source == "split"
                else f"(from {md_escape(report.validation_source)}).")]
    if report.dropped:
        lines.append("- Dropped: " + ", ".join(f"{count(n, 'row')} with {md_escape(reason)}"
                                               for reason, n in report.dropped.items()) + ".")
    if report.validation_dropped:
        lines.append("- Dropped from the validation file: " + ", ".join(
            f"{count(n, 'row')} with {md_escape(reason)}" for reason, n in report.validation_dropped.items()) + ".")
    if report.sampled_out:
        lines.append(f"- The row limit left out {count(report.sampled_out, 'row')} (a seeded random sample is kept).")
    # What a messy file needs (mojibake, spilled text, HTML, duplicates), each with its setting.
    lines += [f"- {md_escape(finding)}" for finding in report.findings]
    if not report.duplicate_texts:
        lines.append("- No duplicate texts.")
    if report.overlap_train_validation:
        lines.append(f"- {count(report.overlap_train_validation, 'validation row')} also appear in "
                     "training, so the model has seen them; turn on 'Remove duplicate texts' for an "
                     "honest score.")
    else:
        lines.append("- No text appears in both training and validation.")
    # The task's own sentences (numbers, no file text), so they need no escaping.
    balance = task.balance_note(report.label_counts)
    if balance:
        lines.append(f"- {balance}")
    return "\n".join(lines)


# --- tokenizer tab --------------------------------------------------------------------------------

def token_chips(preview: "TokenPreview", marks: "dict[int, tuple[str, str, str]] | None" = None,
                legend: str | None = None) -> str:
    """WordPiece pieces as chips: specials distinct, `##` pieces glued to their word, [UNK] flagged,
    the second text of a pair tinted, and a cut mark where truncation starts dropping tokens.
    `marks` (the masking preview, explanations) restyles pieces by position: (CSS class, text
    shown, note); `legend` replaces the Tokenizer tab's legend."""
    parts: list[str] = []
    group: list[str] = []
    group_word: tuple[int | None, int | None] | None = None
    previous_kept = True

    def flush() -> None:
        if group:
            parts.append(f'<span class="tok-word">{"".join(group)}</span>')
            group.clear()

    previous_position = -1
    for piece in preview.tokens:
        position = piece.position
        if position > previous_position + 1:  # a long text's middle is not listed (TokenPreview)
            flush()
            parts.append(f'<span class="tok-cut tok-gap" title="not shown">… {position - previous_position - 1:,} '
                         f'more tokens …</span>')
        previous_position = position
        if previous_kept and not piece.kept:
            flush()
            parts.append(f'<span class="tok-cut" title="max length {preview.max_length}: '
                         f'the tokens after this mark are dropped">✂ cut</span>')
        if not previous_kept and piece.kept and piece.is_special is False:
            flush()
            parts.append('<span class="tok-cut" title="kept again from here">✂</span>')
        previous_kept = piece.kept
        classes = ["tok"]
        if piece.is_special:
            classes.append("tok-special")
        if piece.is_continuation:
            classes.append("tok-cont")
        if piece.is_unknown:
            classes.append("tok-unk")
        if piece.segment == 1:
            classes.append("tok-b")
        if not piece.kept:
            classes.append("tok-dropped")
        title = f"#{position} · id {piece.id} · segment {piece.segment}" + (
            "" if piece.kept else " · dropped by truncation") + (
            " · unknown to the vocabulary" if piece.is_unknown else "")
        mark = marks.get(position) if marks else None
        if mark is not None:
            classes.append(mark[0])
            title += f" · {mark[2]}"
        text = html.escape(piece.text if mark is None else mark[1])
        chip = f'<span class="{" ".join(classes)}" title="{html.escape(title)}">{text}</span>'
        word = (piece.sequence, piece.word_index)
        if piece.is_special or piece.word_index is None or word != group_word:
            flush()
        group.append(chip)
        group_word = None if piece.is_special else word
    flush()
    summary = (f"{preview.kept_length} of {preview.length} tokens kept"
               + (f" — {preview.dropped_count} dropped by truncation ({html.escape(preview.truncation)})"
                  if preview.truncated else " — nothing truncated"))
    unknown = preview.unknown_count
    if unknown:
        summary += f" — {unknown} [UNK]"
    if preview.hidden_count:
        head = next((i for i, p in enumerate(preview.tokens) if p.position != i), len(preview.tokens))
        tail = len(preview.tokens) - head
        summary += (f"<br>A long text: the first {head:,} tokens are shown"
                    + (f", and the last {tail:,} that are kept" if tail > 1 else "")
                    + f"; {preview.hidden_count:,} more are not shown.")
    return (f'<div class="tok-view"><div class="tok-summary">{summary}</div>'
            f'<div class="tok-line">{"".join(parts)}</div>{_LEGEND if legend is None else legend}</div>')


_LEGEND = ('<div class="tok-legend"><span class="tok tok-special">[CLS]</span> special '
           '<span class="tok">word</span><span class="tok tok-cont">##piece</span> one word in pieces '
           '<span class="tok tok-unk">[UNK]</span> unknown '
           '<span class="tok tok-b">second</span> second text '
           '<span class="tok tok-dropped">cut</span> dropped</div>')


WHY_LEVELS = 5  # shades of each colour in an explanation's chips, by |share| against the largest


def explanation_html(explanation: "Explanation", words: int = 5) -> str:
    """An explanation as the Tokenizer tab's chips, each shaded by its attribution (green toward
    the label, red against, darker for a larger share), under one line naming the words that
    pushed most and how far the text moved the output."""
    largest = max((abs(p.share) for p in explanation.pieces), default=0.0) or 1.0
    marks = {}
    for piece in explanation.pieces:
        if piece.is_special:
            continue
        level = min(WHY_LEVELS, 1 + int(abs(piece.share) / largest * WHY_LEVELS))
        side = "pos" if piece.score >= 0 else "neg"
        marks[piece.position] = (f"tok-why-{side}-{level}", piece.text, f"{piece.share:+.1%} {explanation.toward}")
    top = explanation.top_words(words)
    toward = [f"<b>“{html.escape(w.text)}”</b> {w.share:+.0%}" for w in top if w.share > 0]
    against = [f"<b>“{html.escape(w.text)}”</b> {w.share:+.0%}" for w in top if w.share < 0]
    line = f"Pushed most {html.escape(explanation.toward)}: " + (", ".join(toward) or "no word")
    if against:
        line += "; against: " + ", ".join(against)
    facts = (f"{html.escape(explanation.change())} · integrated gradients, {explanation.steps} steps, "
             f"{explanation.seconds:.1f} s · convergence delta {explanation.delta:.1e}")
    legend = ('<div class="tok-legend"><span class="tok tok-why-pos-4">word</span> toward the label '
              '<span class="tok tok-why-neg-4">word</span> against it · darker: a larger share '
              '(hover a piece for its share) · shares of all pieces sum to 100% in size</div>')
    chips = token_chips(explanation.preview, marks, legend) if explanation.preview is not None else ""
    return (f'<div class="why-view"><div class="why-line">{line}</div>'
            f'<div class="why-facts">{facts}</div>{chips}</div>')


def token_table(preview: "TokenPreview") -> list[list[Any]]:
    """One row per token for the ids table: position, piece, id, segment, kept, kind."""
    rows = []
    for piece in preview.tokens:
        position = piece.position
        kind = ("special" if piece.is_special else "unknown" if piece.is_unknown
                else "continues word" if piece.is_continuation else "word start")
        rows.append([position, piece.text, piece.id, piece.segment, "yes" if piece.kept else "no", kind])
    return rows


TOKEN_TABLE_HEADERS = ["#", "token", "id", "segment", "kept", "kind"]


def length_summary(stats: "LengthStats", max_length: int) -> str:
    """The numbers beside the length histogram, for the max length currently on the slider."""
    share = stats.truncated_share(max_length)
    lost = f", losing {stats.tokens_lost_share(max_length):.1%} of all tokens" if share else ""
    lines = [
        f"**{share:.1%} of rows are cut** at max length {max_length} "
        f"({count(int(round(share * stats.count)), 'row')} of {stats.count:,}){lost}.",
        f"Token lengths: median {stats.median:.0f}, 95% of rows ≤ {stats.p95:.0f}, longest {stats.max:,}.",
    ]
    suggested, model_max = stats.suggested_max_length, stats.model_max_length
    if stats.truncated_share(suggested) <= 0.05:
        lines.append(f"**Suggested max length: {suggested}** (covers at least 95% of rows).")
    else:  # the suggestion hit the model's limit: say what stays cut even there
        lines.append(f"**Suggested max length: {suggested}**, as long as this model reads. Even at its limit of "
                     f"{model_max} tokens **{stats.model_cut_share:.1%} of rows stay cut**, losing "
                     f"{stats.tokens_lost_share(model_max):.1%} of all tokens.")
    if stats.suggests_head_tail:
        lines.append("Many texts are longer than the model reads: set **Truncation** to **head_tail** to keep "
                     "the start and the end of each text (where reviews tend to sum up; Sun et al. 2019).")
    if stats.suggests_strip_html:
        lines.append(f"**{stats.html_share:.0%} of rows hold HTML** such as `<br />` or `&amp;`: turn on "
                     "**Strip HTML tags** (Data tab, Cleaning) so markup does not use up tokens.")
    if stats.unk_count:
        words = ", ".join(f"{md_escape(word)} ({n})" for word, n in stats.unk_words[:12])
        lines.append(f"**[UNK] rate: {stats.unk_share:.2%}** of tokens ({count(stats.unk_count, 'token')}). "
                     f"Words the vocabulary cannot spell: {words}. A cased or multilingual model may fit "
                     "this data better.")
    else:
        lines.append("**[UNK] rate: 0%** — the vocabulary can spell every word.")
    return "\n\n".join(lines)


# --- train tab ------------------------------------------------------------------------------------

def progress_html(history: "TrainHistory", position: int | None = None, job_message: str = "",
                  wait_seconds: float | None = None, now: float | None = None) -> str:
    """The progress bar with step/total, epoch, speed and the measured time left (at `now`, the
    clock by default); or where the run waits in line and about how long until it starts."""
    if position is not None and position > 0:
        ahead = position - 1
        wait = (f' Expected start: <b>{wait_words(wait_seconds)}</b>.' if wait_seconds is not None else "")
        return (f'<div class="run-state waiting" id="queue-position"><b>Waiting in line: number {position}.</b> '
                f'{"One training is" if ahead == 0 else f"{ahead + 1} trainings are"} ahead of yours '
                f'(counting the one running now).{wait} This machine trains one model at a time so each '
                f'run gets the whole processor; yours starts by itself when the previous one ends. '
                f'You can close this page and come back.</div>')
    if history.status == "failed":
        message = getattr(history.ending, "message", "") or job_message
        return f'<div class="run-state failed"><b>Training failed.</b> {html.escape(message)}</div>'
    if job_message and not history.ended:
        title = "Training did not finish." if history.started else "Training did not start."
        return f'<div class="run-state failed"><b>{title}</b> {html.escape(job_message)}</div>'
    if not history.started:
        return ('<div class="run-state idle">Preparing the data and the model… the first numbers '
                'appear in a few seconds.</div>' if position == 0 else
                '<div class="run-state idle">No training yet. Check the settings, then press '
                '<b>Start training</b>.</div>')
    last = history.last
    pct = history.progress * 100
    step = last.step if last else 0
    facts = [f"step {step:,} / {history.total_steps:,}"]
    if last is None and history.status == "running":
        facts.append("the first steps are under way; the time left is measured from them")
    if last:
        facts += [f"epoch {last.epoch:.2f}", f"{last.samples_per_second:.1f} samples/s"]
        if history.status == "running":
            facts.append(time_left(last, now))
    label = {"running": "Training", "finished": "Finished", "stopped": "Stopped"}.get(history.status, "")
    if history.status == "stopped":
        label = html.escape(job_message) if job_message else "Stopped — the model as it stood was kept"
    return (f'<div class="run-state {history.status}"><div class="bar"><div class="fill" '
            f'style="width:{pct:.1f}%"></div></div><b>{label}</b> · {" · ".join(facts)}'
            f'{learned_nothing_html(history.warning)}</div>')


def learned_nothing_html(warning: str | None) -> str:
    """The box under a finished run's progress bar when its model learned nothing useful: the
    first thing in sight when the run ends, before any chart or score."""
    if not warning:
        return ""
    return (f'<div class="problem learned-nothing" role="alert">⚠️ <b>The model learned nothing '
            f'useful.</b> {html.escape(warning)}</div>')


def time_left(last: "Step", now: float | None = None) -> str:
    """The time left, measured: the trainer's ETA at its last logged step (from the run's own step
    times), counted down from when that step was logged, so it stays true between logged steps
    instead of repeating a figure that is already seconds or minutes old."""
    if last.eta_seconds is None:
        return "measuring the time left"
    since = max(0.0, (time.time() if now is None else now) - last.time)
    left = last.eta_seconds - since
    if left >= 1:
        return f"about {format_duration(left)} left (measured)"
    if last.step >= last.total_steps:
        return "the last steps are under way"
    # The steps since the last measure are slower than the ones before (a busy machine, an
    # evaluation): say so rather than show a time that has already run out.
    return "slower than measured so far; the time left updates at the next logged step"


def wait_words(seconds: float) -> str:
    """A queue wait as people say it: "in under a minute", "in about 7 minutes", "in about 1.5 hours"."""
    if seconds < 60:
        return "in under a minute"
    if seconds < 5400:
        minutes = max(1, round(seconds / 60))
        return f"in about {minutes} minute{'' if minutes == 1 else 's'}"
    return f"in about {seconds / 3600:.1f} hours"


def hosted_banner(facts: list[str]) -> str:
    """The short notice at the top of a shared demo: whose machine this is and what the limits are."""
    items = "".join(f"<li>{html.escape(fact)}</li>" for fact in facts)
    return ('<div class="hosted-banner" role="note"><b>This is a shared public demo.</b> Other visitors use '
            'the same machine, and only you see your files and runs. Please do not upload private data. '
            f'<b>Limits:</b> <ul>{items}</ul></div>')
