"""The run's README.md: a model card a reader can trust without opening any other file."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from bertstudio.config import TrainConfig, field_specs
from bertstudio.tasks.base import PRETRAINING_TASK, TargetSpace
from bertstudio.tasks.registry import DEFAULT_TASK, get_task
from bertstudio.tasks.wording import table_cell


def _is_hub_id(name: str) -> bool:
    """'bert-base-uncased' or 'org/name', not a local folder or the bundled model."""
    return name != "bundled" and not name.startswith(("/", ".", "~")) and name.count("/") <= 1


def reproduce_command(run_id: str, config: TrainConfig, hub_id: str | None = None) -> str:
    """The command that trains the run again; on the Hub, from the repo's copy of the settings."""
    if hub_id is not None:
        data = shlex.quote(Path(config.data).name) if config.data else "FILE"
        return f"bertstudio train --config bertstudio/config.json --data {data}  # the repo's config.json, your file"
    return f"bertstudio train --config {shlex.quote(f'{config.output_dir}/{run_id}/config.json')}"


EXAMPLE_MAX_CHARS = 500  # a widget's example is read on the page: a long review is cut


def widget_front_matter(example: str | None) -> list[str]:
    """The Hub's `widget:` lines for an example text; none without one. A JSON string is a valid
    YAML double-quoted scalar, so any text (quotes, colons, newlines) stays one value."""
    text = " ".join(str(example or "").split())[:EXAMPLE_MAX_CHARS]
    return ["widget:", f"- text: {json.dumps(text, ensure_ascii=False)}"] if text else []


def _task_and_space(data: dict[str, Any]) -> tuple[Any, TargetSpace]:
    """The run's task and target space from its data record; records from before tasks are
    single-label over their `labels`."""
    task = get_task(data.get("task") or DEFAULT_TASK)
    space = data.get("space")
    if isinstance(space, dict) and isinstance(space.get("names"), list):
        return task, TargetSpace(names=list(space["names"]), stats=dict(space.get("stats") or {}))
    return task, TargetSpace(names=list(data.get("labels", [])))


def _one_line(text: str) -> str:
    """A sentence inside a Markdown quote: a newline would end the quote."""
    return " ".join(str(text).split())


# What the model is and what a counts row names, by the head's kind: transformers knows three
# problem types, so a new task with a classification head reads right without a line here.
_KIND = {"regression": ("A text regression model", "value")}
_CLASSIFIER = ("A text classifier", "label")
# Several tags per text: every tag's score is wanted, and each tag has its own cut.
_USE_NOTE = {"multi_label_classification": "  # a score per tag; the model's config.json holds "
                                           "each tag's tuned threshold (bertstudio_thresholds)"}


def render_model_card(run_id: str, config: TrainConfig, data: dict[str, Any], metrics: dict[str, Any],
                      environment: dict[str, Any], warning: str | None = None, *, hub_id: str | None = None,
                      example: str | None = None, onnx: dict[str, str] | None = None) -> str:
    """The card; `warning` (the task's sentence when the model learned nothing useful) comes
    right after what the model is, before anyone reads how to use it.

    `hub_id`: the card of the run published as that Hub repo, whose code loads the model from the
    repo; `example`: a text from the run's own validation data, the Hub page's widget example;
    `onnx`: the run's ONNX export ({"folder": ..., "file": the model to serve}), once there is one,
    which the card then shows how to serve without torch."""
    task, space = _task_and_space(data)
    model_ref = hub_id or f"{config.output_dir}/{run_id}/model"
    if task.name == PRETRAINING_TASK:
        lines = _pretraining_head(run_id, config, data, metrics, warning, model_ref,
                                  hub_id or f"{config.output_dir}/{run_id}")
    else:
        lines = _classifier_head(run_id, config, data, metrics, task, space, warning, model_ref,
                                 widget_front_matter(example))
        if onnx:
            at = lines.index("## Data")
            lines[at:at] = onnx_snippet(onnx["folder"], onnx["file"], task.problem_type, config.max_length)
    lines += _settings_and_environment(run_id, config, data, task, environment, hub_id)
    return "\n".join(lines)


def _pretraining_head(run_id: str, config: TrainConfig, data: dict[str, Any], metrics: dict[str, Any],
                      warning: str | None, model_path: str, run_ref: str) -> list[str]:
    """What a continued-pretraining run's model is: an encoder that fills in words, not a
    classifier; the way to use it is to guess a hidden word, or to fine-tune it on labels."""
    task = get_task(PRETRAINING_TASK)
    texts = int(data.get("train_size") or 0) + int(data.get("validation_size") or 0)
    length = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}" + (
        f", at most {config.max_steps} steps" if config.max_steps else "")
    if isinstance(metrics.get("steps"), int):
        length += f" ({metrics['steps']} steps)"
    extra = config.unlabeled_data or []
    sources = f"`{table_cell(data.get('file_name'))}`" + (
        " and " + ", ".join(f"`{table_cell(Path(f).name)}`" for f in extra) if extra else "")
    return [
        "---",
        "library_name: transformers",
        "pipeline_tag: fill-mask",
        *([f"base_model: {config.model}"] if _is_hub_id(config.model) else []),
        "tags: [bert-studio, fill-mask, continued-pretraining]",
        "---",
        "",
        f"# {config.run_name or run_id}",
        "",
        f"A BERT encoder adapted to your texts by continued masked-language-model pretraining, from base "
        f"model `{config.model}`, with BERT Studio. It read {texts:,} texts ({data.get('train_size', 0)} to "
        f"train on, {data.get('validation_size', 0)} held out to measure it) for {length}, hiding "
        f"{config.mlm_probability:.0%} of the tokens"
        + (" a whole word at a time (whole-word masking)." if config.whole_word_masking else
           " one word piece at a time (no whole-word masking).")
        + " It predicts no labels yet: fine-tune it on a labelled file.",
        "",
        *([f"> **Warning:** {_one_line(warning)}", ""] if warning else []),
        "## Use it",
        "",
        "Guess a hidden word:",
        "",
        "```python",
        "from transformers import pipeline",
        f"fill = pipeline('fill-mask', model='{model_path}')",
        "fill(f'The parcel arrived {fill.tokenizer.mask_token}.')  # [MASK] for BERT models",
        "```",
        "",
        "Fine-tune it on a labelled file (the usual reason to adapt a model first):",
        "",
        "```bash",
        f"bertstudio train --data FILE --model {shlex.quote(run_ref)}",
        "```",
        "",
        "## Data",
        "",
        f"- Texts from {sources}",
        f"- Fingerprint (file bytes + options): `{data.get('fingerprint', '')[:16]}…`",
        f"- Texts: {data.get('train_size', 0)} for training, {data.get('validation_size', 0)} for validation",
        "",
        "## Results on the validation data (masked-LM)",
        "",
        *task.card_section(metrics or {}, TargetSpace(names=[])),
    ]


def _classifier_head(run_id: str, config: TrainConfig, data: dict[str, Any], metrics: dict[str, Any], task,
                     space: TargetSpace, warning: str | None, model_ref: str, widget: list[str]) -> list[str]:
    kind, counted = _KIND.get(task.problem_type, _CLASSIFIER)
    report = data.get("report", {})
    columns = data.get("columns", {})
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        *([f"base_model: {config.model}"] if _is_hub_id(config.model) else []),
        "tags: [bert-studio, text-classification]",
        *widget,
        "---",
        "",
        f"# {config.run_name or run_id}",
        "",
        f"{kind} fine-tuned from `{config.model}` with BERT Studio. "
        + task.card_intro(space, bool(columns.get("text_pair"))),
        "",
        *([f"> **Warning: this model learned nothing useful.** {_one_line(warning)}", ""] if warning else []),
        "## Use it",
        "",
        "```python",
        "from transformers import pipeline",
        f"classifier = pipeline('text-classification', model='{model_ref}'"
        + (", top_k=None)" if task.problem_type == "multi_label_classification" else ")"),
        "classifier('Your text here')" + _USE_NOTE.get(task.problem_type, ""),
        "```",
        "",
        "## Data",
        "",
        f"- File: `{table_cell(data.get('file_name'))}`"
        + (f", validation file `{table_cell(data.get('validation_file_name'))}`" if data.get("validation_file_name") else
           f", {config.validation_split:.0%} held out for validation (stratified, seed {config.seed})"),
        f"- Fingerprint (file bytes + options): `{data.get('fingerprint', '')[:16]}…`",
        f"- Columns: text `{table_cell(columns.get('text'))}`"
        + (f", second text `{table_cell(columns.get('text_pair'))}`" if columns.get("text_pair") else "")
        + (", label columns " + ", ".join(f"`{table_cell(c)}`" for c in columns["label_columns"])
           if columns.get("label_columns") else f", label `{table_cell(columns.get('label'))}`"),
        f"- Rows: {data.get('train_size', 0)} for training, {data.get('validation_size', 0)} for validation",
    ]
    dropped = report.get("dropped") or {}
    if dropped:
        lines.append("- Rows dropped: " + ", ".join(f"{count} ({reason})" for reason, count in dropped.items()))
    counts = report.get("label_counts") or {}
    if counts:
        lines += ["", f"| {counted} | rows |", "|---|---:|"] + [f"| {table_cell(k)} | {v} |" for k, v in counts.items()]

    lines += ["", "## Results on the validation data", ""]
    return lines + task.card_section(metrics or {}, space)


# The snippet's last line, by the head's kind: what the raw outputs mean (the config's labels,
# per-tag thresholds, or the value itself in the training file's units).
_ONNX_ANSWER = {
    "multi_label_classification": "print([label for i, label in labels.items() if 1 / (1 + np.exp(-logits[0, int(i)])) "
                                  ">= config['bertstudio_thresholds'][label]])",
    "regression": "print(float(logits[0, 0]))  # in the training file's units",
}
_ONNX_DEFAULT_ANSWER = "print(labels[str(int(logits[0].argmax()))])"


def onnx_snippet(folder: str, file: str, problem_type: str, max_length: int) -> list[str]:
    """Ten lines that serve the exported model with onnxruntime and tokenizers alone (no torch)."""
    return [
        "Serve the ONNX export with onnxruntime and the tokenizer alone (no torch; "
        "`bertstudio predict --backend onnx` adds the studio's text cleaning and truncation):",
        "",
        "```python",
        "import json, numpy as np, onnxruntime as ort, tokenizers",
        f"folder = '{folder}'",
        f"session = ort.InferenceSession(f'{{folder}}/{file}', providers=['CPUExecutionProvider'])",
        "tokenizer = tokenizers.Tokenizer.from_file(f'{folder}/tokenizer.json')",
        f"tokenizer.enable_truncation({max_length})",
        "config = json.load(open(f'{folder}/config.json')); labels = config['id2label']",
        "enc = tokenizer.encode('Your text here')",
        "feed = {'input_ids': [enc.ids], 'attention_mask': [enc.attention_mask], 'token_type_ids': [enc.type_ids]}",
        "logits = session.run(None, {i.name: np.array(feed[i.name], np.int64) for i in session.get_inputs()})[0]",
        _ONNX_ANSWER.get(problem_type, _ONNX_DEFAULT_ANSWER),
        "```",
        "",
    ]


def _settings_and_environment(run_id: str, config: TrainConfig, data: dict[str, Any], task,
                              environment: dict[str, Any], hub_id: str | None = None) -> list[str]:
    lines = ["", "## Training settings", "", "| setting | value |", "|---|---|"]
    # Files and columns are told under Data, with the columns actually used rather than "auto".
    skipped = {"data", "validation_data", "text_column", "text_pair_column", "label_column", "label_columns"}
    for spec in field_specs():
        if spec.name in skipped:
            continue
        # The task and the watched metric as the run resolved them: "auto" would not say which.
        value = getattr(config, spec.name)
        if spec.name == "task":
            value = task.name
        elif spec.name == "metric_for_best" and value == "auto":
            value = task.headline
        elif spec.name == "label_separator" and data.get("label_separator"):
            value = data["label_separator"]  # the one the cells were split on, detected or given
        lines.append(f"| {spec.metadata.get('label', spec.name)} | {table_cell(value)} |")

    lines += ["", "## Environment", ""]
    for key in ("python", "torch", "transformers", "accelerate", "datasets", "device", "precision",
                "num_processes"):
        if key in environment:
            lines.append(f"- {key}: {environment[key]}")
    lines += ["", "## Reproduce", "", "```bash", reproduce_command(run_id, config, hub_id), "```", ""]
    return lines
