"""`export_run`: a finished run's model as ONNX in runs/<id>/onnx/, with an int8 copy on request,
the tokenizer, the model's config (labels, task, thresholds) and export.json (the settings
prediction needs) beside it, so the folder serves on its own; the parity report and the model
card's serving snippet come with it.

The exporter is torch.onnx's dynamo one (torch.export + onnxscript), not the legacy TorchScript
tracer (`dynamo=False`). Both gave the same logits for BERT on torch 2.13 + transformers 5, but
the tracer turns Python decisions on tensor shapes into constants (it warns so, in transformers'
mask code, masking_utils and sdpa_attention): a graph traced at one batch and length is only
right at others as long as those branches happen to go the same way. torch.export keeps batch
and sequence length symbolic and checks its guards over the whole range it was given, and the
tracer is deprecated since torch 2.9. It costs onnxscript and a few seconds more per export.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bertstudio.atomic import disk_is_full, write_json_atomic
from bertstudio.errors import StudioError
from bertstudio.export.onnx_backend import (EXPORT_FILE, EXPORT_FORMAT, FP32_FILE, INT8_FILE, ONNX_DIR,
                                            PARITY_FILE, require)
from bertstudio.runs.folder import CARD_FILE, ENVIRONMENT_FILE, MODEL_DIR, RunFolder, RunRecord, read_run

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # those the model's forward takes
OPSET = 18  # the dynamo exporter's own default; ONNX Runtime 1.17+ runs it
_EXAMPLE_SHAPE = (2, 16)  # batch and length of the example: not 0 or 1, which torch.export specialises


@dataclass
class ExportResult:
    folder: Path                # runs/<id>/onnx
    files: list[str]            # the ONNX files written, fp32 first
    parity: dict[str, Any]      # parity.json
    summary: list[str] = field(default_factory=list)  # the parity report in plain lines


def exportable_run(run_dir: str | Path) -> RunRecord:
    """The run, read back, when it has a trained model to export; else one sentence saying why not."""
    record = read_run(run_dir)
    if record is None:
        raise StudioError(f"'{run_dir}' is not a run folder; pass a folder from the runs list, such as runs/<id>.")
    if record.damage:
        raise StudioError(record.damage)
    if not record.has_model or record.config is None:
        raise StudioError(f"The run '{record.run_id}' is {record.status} and has no trained model to export; "
                          "export it once it has finished.")
    return record


def export_run(run_dir: str | Path, *, int8: bool = False) -> ExportResult:
    """Write runs/<id>/onnx/ whole (built beside it, then swapped in), with parity.json measured
    on the run's validation rows, and the model card's serving snippet."""
    from bertstudio.export.parity import check_parity, parity_lines
    from bertstudio.models import load_tokenizer, load_trained

    for module in ("onnx", "onnxscript", "onnxruntime"):
        require(module)  # said before the model loads
    record = exportable_run(run_dir)
    run = Path(record.path)
    model, tokenizer = load_trained(run / MODEL_DIR), load_tokenizer(str(run / MODEL_DIR))
    target = run / ONNX_DIR
    tmp = run / f".{ONNX_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        inputs = export_graph(model, tmp / FP32_FILE)
        files = [FP32_FILE]
        if int8:
            quantize(tmp / FP32_FILE, tmp / INT8_FILE)
            files.append(INT8_FILE)
        model.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json_atomic(tmp / EXPORT_FILE, export_record(record, inputs, int8))
        parity = check_parity(record, model, tokenizer, tmp)
        write_json_atomic(tmp / PARITY_FILE, parity)
        _swap_in(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if disk_is_full(exc, run):
            raise StudioError(f"The disk holding '{run}' is full; free some space and export again.") from exc
        raise StudioError(f"Could not write the export into '{run}' ({exc.strerror or exc}).") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    refresh_card(record, files[-1])
    return ExportResult(folder=target, files=files, parity=parity, summary=parity_lines(parity))


def export_graph(model, path: Path) -> list[str]:
    """The model as one ONNX file, batch and sequence length dynamic, logits out; returns the
    input names (those of MODEL_INPUTS its forward takes: DistilBERT has no token types)."""
    import inspect

    import torch
    from torch.export import Dim

    accepted = inspect.signature(model.forward).parameters
    names = [name for name in MODEL_INPUTS if name in accepted]

    class Logits(torch.nn.Module):  # the model's output object flattened to the one tensor served
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            return self.model(**{name: given[name] for name in names}).logits

    ids = torch.randint(5, 100, _EXAMPLE_SHAPE, dtype=torch.long)
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}
    batch, length = Dim("batch"), Dim("sequence", max=getattr(model.config, "max_position_embeddings", 512))
    shapes = {name: {0: batch, 1: length} for name in names}
    printed = io.StringIO()  # the exporter reports its steps on stdout; the CLI says what matters
    try:
        with torch.no_grad(), contextlib.redirect_stdout(printed), _quiet_exporter():
            torch.onnx.export(Logits().eval(), (), str(path), kwargs={name: example[name] for name in names},
                              input_names=names, output_names=["logits"], dynamic_shapes=shapes,
                              opset_version=OPSET, dynamo=True, external_data=False)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.export fails in many types; one sentence for all
        raise StudioError(f"This model could not be exported to ONNX ({type(exc).__name__}); its "
                          "architecture may need an exporter BERT Studio does not have.",
                          detail=f"{exc}\n{printed.getvalue()}") from exc
    return names


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter's own warnings (axis renaming, deprecations, torchvision ops it skips) are
    about its insides, not the user's model: hidden while it runs."""
    import logging
    import warnings

    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation: weights stored as int8, activations quantised per batch as
    they come, so no calibration rows are needed. Per channel: one scale per output unit of a
    weight matrix keeps rows of different size apart (per tensor, MiniLM on SST-2 agreed with
    PyTorch on 96.5% of the validation rows instead of 98%)."""
    import logging

    quantization = require("onnxruntime.quantization")
    # Its advice to pre-process first (logged on the root logger, which logging.warning would
    # otherwise fit with a handler for good) is for static quantisation.
    root, quiet = logging.getLogger(), logging.NullHandler()
    level = root.level
    root.addHandler(quiet)
    root.setLevel(logging.ERROR)
    try:
        quantization.quantize_dynamic(str(source), str(target), weight_type=quantization.QuantType.QInt8,
                                      per_channel=True)
    finally:
        root.setLevel(level)
        root.removeHandler(quiet)


def export_record(record: RunRecord, inputs: list[str], int8: bool) -> dict[str, Any]:
    """export.json: the files, the inputs, and the settings a predictor needs (max length,
    truncation, cleaning) with the text columns, so the folder serves without the run."""
    import onnxruntime
    import torch

    settings = record.config.to_dict()
    kept = {name: settings[name] for name in settings
            if name in ("max_length", "truncation") or name.startswith("clean_")}
    columns = record.data_record.get("columns") or {}
    return {"format": EXPORT_FORMAT, "fp32": FP32_FILE, "int8": INT8_FILE if int8 else None,
            "inputs": inputs, "outputs": ["logits"], "opset": OPSET, "exporter": "torch.onnx (dynamo)",
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "settings": kept, "columns": {"text": columns.get("text"), "text_pair": columns.get("text_pair")},
            "run_id": record.run_id}


def _swap_in(tmp: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def refresh_card(record: RunRecord, served: str) -> None:
    """The run's README.md again, now with the snippet that serves `served` with ONNX Runtime."""
    from bertstudio.runs.modelcard import render_model_card

    folder = RunFolder(Path(record.path))
    environment = folder.read_json(ENVIRONMENT_FILE) or {}
    onnx = {"folder": f"{record.config.output_dir}/{record.run_id}/{ONNX_DIR}", "file": served}
    folder.write_text(CARD_FILE, render_model_card(record.run_id, record.config, record.data_record,
                                                   record.metrics, environment, warning=record.warning,
                                                   onnx=onnx))
