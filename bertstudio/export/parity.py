"""Does the export answer as the PyTorch model does? The largest logit difference and the share of
rows given the same answer, on the run's own validation rows, for each ONNX file written.

The validation rows are the run's own: its file is prepared again with its settings, which splits
it the way training did (same seed, same task split), and is used only when its fingerprint is the
one data.json recorded; a file since changed or moved falls back to the texts the run wrote into
validation_predictions.csv.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bertstudio.errors import StudioError
from bertstudio.export.onnx_backend import FP32_FILE, INT8_FILE, load_onnx_predictor, read_export
from bertstudio.runs.folder import PREDICTIONS_FILE, RunRecord

MAX_ROWS = 2000  # enough to see a 0.1% disagreement; more only slows an export down


def validation_rows(record: RunRecord) -> tuple[list[str], list[str] | None, str]:
    """The run's validation texts (and second texts) and where they came from, in words."""
    from bertstudio.data.dataset import prepare_data

    config = record.config
    recorded = record.data_record.get("fingerprint")
    if config is not None and config.data and Path(config.data).is_file():
        try:
            data = prepare_data(config)
        except StudioError:
            data = None
        if data is not None and data.fingerprint == recorded:
            return (list(data.validation.texts), data.validation.pairs,
                    f"the run's validation rows, split again from {Path(config.data).name}")
    texts, pairs = _recorded_rows(Path(record.path) / PREDICTIONS_FILE)
    return texts, pairs, f"the validation texts in {PREDICTIONS_FILE} (the training file has changed or moved)"


def _recorded_rows(path: Path) -> tuple[list[str], list[str] | None]:
    """validation_predictions.csv's texts as the user wrote them (csvsafe's guarding apostrophe
    before a formula-like cell taken off again)."""
    from bertstudio.data.csvsafe import FORMULA_PREFIXES

    def plain(cell: str) -> str:
        return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES) else cell

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        rows = []
    if not rows:
        raise StudioError("The run's validation rows cannot be found (its training file has changed or "
                          f"moved, and it has no {PREDICTIONS_FILE}), so the export cannot be checked.")
    pairs = [plain(row.get("text_pair") or "") for row in rows] if "text_pair" in rows[0] else None
    return [plain(row.get("text") or "") for row in rows], pairs


def compare(reference: Any, candidate: Any, task, config) -> dict[str, Any]:
    """Two backends' logits on the same rows: the largest absolute difference, and how many rows
    get the same answer (a class, or a set of tags at the saved thresholds; a value has no answer
    to agree on, so `agreement` is None and the difference is in the target's units)."""
    import numpy as np

    rows = len(reference)
    difference = float(np.abs(np.asarray(reference) - np.asarray(candidate)).max()) if rows else 0.0
    ours, theirs = task.predictions(reference, config), task.predictions(candidate, config)
    if rows and ours[0].value is not None:
        return {"max_abs_logit_diff": difference, "agreeing_rows": None, "agreement": None}
    same = sum(a.label == b.label and a.labels == b.labels for a, b in zip(ours, theirs))
    return {"max_abs_logit_diff": difference, "agreeing_rows": same,
            "agreement": same / rows if rows else None}


def check_parity(record: RunRecord, model, tokenizer, folder: Path) -> dict[str, Any]:
    """parity.json for the export in `folder`: PyTorch fp32 against each ONNX file there."""
    from bertstudio.predict import Predictor, run_settings

    texts, pairs, source = validation_rows(record)
    texts, pairs = texts[:MAX_ROWS], pairs[:MAX_ROWS] if pairs is not None else None
    settings, columns = run_settings(Path(record.path))
    torch_side = Predictor.from_parts(model.config, tokenizer, settings, columns, model=model)
    reference = torch_side.logits(texts, pairs)
    report: dict[str, Any] = {"rows": len(texts), "source": source, "task": torch_side.task.name,
                              "reference": "PyTorch fp32"}
    exported = read_export(folder)
    for precision, name in (("fp32", FP32_FILE), ("int8", INT8_FILE)):
        if precision == "int8" and not exported.get("int8"):
            continue
        onnx_side = load_onnx_predictor(folder, precision=precision)
        result = compare(reference, onnx_side.logits(texts, pairs), torch_side.task, model.config)
        report[precision] = {"file": name, **result}
    return report


def parity_lines(report: dict[str, Any]) -> list[str]:
    """The report in plain lines: one per ONNX file."""
    lines = [f"parity on {report['rows']:,} rows ({report['source']}), against {report['reference']}:"]
    for precision in ("fp32", "int8"):
        item = report.get(precision)
        if not item:
            continue
        line = f"  {precision} ({item['file']}): largest logit difference {item['max_abs_logit_diff']:.2g}"
        if item["agreement"] is not None:
            line += (f", same answer on {item['agreeing_rows']:,} of {report['rows']:,} rows "
                     f"({item['agreement']:.1%})")
        else:
            line += " (in the target's units)"
        lines.append(line)
    return lines

