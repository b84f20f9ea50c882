"""ONNX Runtime behind `Predictor`: the export folder's layout, the optional packages it needs,
and the backend that turns a padded batch into logits, so a served model's outputs go through the
same task post-processing as PyTorch's."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from bertstudio.errors import StudioError

ONNX_DIR = "onnx"             # runs/<id>/onnx/: everything a server needs, and nothing else
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"   # what was exported, how, and the settings prediction needs
PARITY_FILE = "parity.json"
EXPORT_FORMAT = 1
PRECISIONS = ("auto", "fp32", "int8")  # auto: int8 where it was exported, else fp32


def require(module: str) -> Any:
    """An optional package of the `onnx` extra, or one sentence saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise StudioError(f"ONNX export and serving need the onnx extra ({module} is not installed); "
                          'install it with: pip install -e ".[onnx]"', detail=str(exc)) from exc


def onnx_dir_of(path: str | Path) -> Path:
    """The export folder of a run (runs/<id>/onnx), or `path` itself when it is one; a plain
    StudioError when the run has not been exported yet."""
    path = Path(path)
    if (path / EXPORT_FILE).is_file():
        return path
    if (path / ONNX_DIR / EXPORT_FILE).is_file():
        return path / ONNX_DIR
    if not path.exists():
        raise StudioError(f"There is no run at '{path}'; pass a run folder, such as runs/<id>.")
    raise StudioError(f"'{path}' has no ONNX export yet; run `bertstudio export {path}` first.")


def read_export(folder: Path) -> dict[str, Any]:
    """export.json of an export folder; StudioError when it cannot be used."""
    try:
        record = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StudioError(f"{folder / EXPORT_FILE} cannot be read; export the run again.") from exc
    if not isinstance(record, dict) or not isinstance(record.get("format"), int):
        raise StudioError(f"{folder / EXPORT_FILE} is malformed; export the run again.")
    if record["format"] > EXPORT_FORMAT:
        raise StudioError("This export was written by a newer BERT Studio; update BERT Studio to serve it.")
    return record


def model_file(folder: Path, record: dict[str, Any], precision: str = "auto") -> Path:
    """The ONNX file to serve: int8 where it was exported (for `auto`), else the fp32 one."""
    if precision not in PRECISIONS:
        raise StudioError(f"There is no precision '{precision}'; choose one of: {', '.join(PRECISIONS)}.")
    int8 = record.get("int8")
    if precision == "int8" and not int8:
        raise StudioError(f"'{folder}' has no int8 model; run `bertstudio export {folder.parent} --int8` first.")
    name = int8 if precision == "int8" or (precision == "auto" and int8) else record.get("fp32", FP32_FILE)
    file = folder / name
    if not file.is_file():
        raise StudioError(f"'{file}' is missing; export the run again.")
    return file


def session_for(file: Path, threads: int | None = None):
    """An ONNX Runtime CPU session. `threads`: intra-op threads; None: as many as torch uses in
    this process (all the cores it may use unless OMP_NUM_THREADS or torch.set_num_threads say
    fewer), so the two backends are compared on the same cores. One inter-op thread: a BERT graph
    is a chain of ops with little to run side by side."""
    ort = require("onnxruntime")
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(file), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxBackend:
    """An ONNX Runtime session behind `Predictor`: the same batch dict as the PyTorch model gets
    (attention mask filled in where the collator left it out), float logits out."""

    def __init__(self, session, config) -> None:
        self.session = session
        self.config = config  # the saved model's config: labels, task, thresholds
        self.inputs = [item.name for item in session.get_inputs()]

    def logits(self, batch: dict) -> "torch.Tensor":
        import torch

        ids = batch["input_ids"]
        feed = {"input_ids": ids, "attention_mask": batch.get("attention_mask", torch.ones_like(ids)),
                "token_type_ids": batch.get("token_type_ids", torch.zeros_like(ids))}
        outputs = self.session.run(None, {name: feed[name].numpy() for name in self.inputs})
        return torch.from_numpy(outputs[0]).float()


def load_onnx_predictor(path: str | Path, precision: str = "auto", threads: int | None = None):
    """A `Predictor` over a run's ONNX export (or an export folder itself), from that folder's
    files alone: the ONNX model, the tokenizer, the model's config and export.json's settings."""
    from transformers import AutoConfig

    from bertstudio.models import load_tokenizer
    from bertstudio.predict import Predictor

    folder = onnx_dir_of(path)
    record = read_export(folder)
    session = session_for(model_file(folder, record, precision), threads)
    config = AutoConfig.from_pretrained(folder, local_files_only=True)
    backend = OnnxBackend(session, config)
    return Predictor.from_parts(config, load_tokenizer(str(folder)), record.get("settings") or {},
                                record.get("columns") or {}, backend=backend)
