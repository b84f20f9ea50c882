"""The run's README.md: a model card a reader can trust without opening any other file."""

from __future__ import annotations

import shlex
from typing import Any

from bertstudio.config import TrainConfig, field_specs


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return "—" if value is None else str(value)


def _cell(value: Any) -> str:
    """Markdown table cells: pipes and newlines would break the table."""
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _is_hub_id(name: str) -> bool:
    """'bert-base-uncased' or 'org/name', not a local folder or the bundled model."""
    return name != "bundled" and not name.startswith(("/", ".", "~")) and name.count("/") <= 1


def reproduce_command(run_id: str, config: TrainConfig) -> str:
    return f"bertstudio train --config {shlex.quote(f'{config.output_dir}/{run_id}/config.json')}"


def render_model_card(run_id: str, config: TrainConfig, data: dict[str, Any], metrics: dict[str, Any],
                      environment: dict[str, Any]) -> str:
    labels = data.get("labels", [])
    report = data.get("report", {})
    columns = data.get("columns", {})
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        *([f"base_model: {config.model}"] if _is_hub_id(config.model) else []),
        "tags: [bert-studio, text-classification]",
        "---",
        "",
        f"# {config.run_name or run_id}",
        "",
        f"A text classifier fine-tuned from `{config.model}` with BERT Studio. It sorts "
        f"{'pairs of texts' if columns.get('text_pair') else 'texts'} into {len(labels)} classes: "
        + ", ".join(f"`{_cell(label)}`" for label in labels) + ".",
        "",
        "## Use it",
        "",
        "```python",
        "from transformers import pipeline",
        f"classifier = pipeline('text-classification', model='{config.output_dir}/{run_id}/model')",
        "classifier('Your text here')",
        "```",
        "",
        "## Data",
        "",
        f"- File: `{_cell(data.get('file_name'))}`"
        + (f", validation file `{_cell(data.get('validation_file_name'))}`" if data.get("validation_file_name") else
           f", {config.validation_split:.0%} held out for validation (stratified, seed {config.seed})"),
        f"- Fingerprint (file bytes + options): `{data.get('fingerprint', '')[:16]}…`",
        f"- Columns: text `{_cell(columns.get('text'))}`"
        + (f", second text `{_cell(columns.get('text_pair'))}`" if columns.get("text_pair") else "")
        + f", label `{_cell(columns.get('label'))}`",
        f"- Rows: {data.get('train_size', 0)} for training, {data.get('validation_size', 0)} for validation",
    ]
    dropped = report.get("dropped") or {}
    if dropped:
        lines.append("- Rows dropped: " + ", ".join(f"{count} ({reason})" for reason, count in dropped.items()))
    counts = report.get("label_counts") or {}
    if counts:
        lines += ["", "| label | rows |", "|---|---:|"] + [f"| {_cell(k)} | {v} |" for k, v in counts.items()]

    lines += ["", "## Results on the validation data", ""]
    if metrics:
        lines += ["| metric | value |", "|---|---:|"]
        for key in ("accuracy", "macro_f1", "loss"):
            if metrics.get(key) is not None:
                lines.append(f"| {key} | {_fmt(metrics[key])} |")
        per_class = metrics.get("per_class") or {}
        if per_class:
            lines += ["", "| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
            lines += [f"| {_cell(label)} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['f1'])} | "
                      f"{m['support']} |" for label, m in per_class.items()]
    else:
        lines.append("No evaluation was completed.")

    lines += ["", "## Training settings", "", "| setting | value |", "|---|---|"]
    # Files and columns are told under Data, with the columns actually used rather than "auto".
    skipped = {"data", "validation_data", "text_column", "text_pair_column", "label_column"}
    for spec in field_specs():
        if spec.name in skipped:
            continue
        lines.append(f"| {spec.metadata.get('label', spec.name)} | {_cell(getattr(config, spec.name))} |")

    lines += ["", "## Environment", ""]
    for key in ("python", "torch", "transformers", "accelerate", "datasets", "device", "precision",
                "num_processes"):
        if key in environment:
            lines.append(f"- {key}: {environment[key]}")
    lines += ["", "## Reproduce", "", "```bash", reproduce_command(run_id, config), "```", ""]
    return "\n".join(lines)
