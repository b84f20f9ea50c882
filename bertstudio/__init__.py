"""BERT Studio: fine-tune BERT-family models on your own table of texts, from a browser or the command line.

The names below are the public face: import them from `bertstudio`, and a module moving inside the
package does not break you. They load on first use (PEP 562), so `import bertstudio` costs nothing:

    from bertstudio import TrainConfig, train, Predictor
    result = train(TrainConfig(data="reviews.csv", model="bundled", epochs=1))
    Predictor.load(result.run_dir).predict(["great product"])
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "StudioError": "bertstudio.errors",
    "TrainConfig": "bertstudio.config",
    "read_table": "bertstudio.data.tabular",
    "Table": "bertstudio.data.table",
    "prepare_data": "bertstudio.data.dataset",
    "PreparedData": "bertstudio.data.dataset",
    "data_summary": "bertstudio.data.summary",
    "ColumnChoice": "bertstudio.data.columns",
    "suggest_columns": "bertstudio.data.columns",
    "get_task": "bertstudio.tasks.registry",
    "detect_task": "bertstudio.tasks.detect",
    "train": "bertstudio.training.trainer",
    "StopControl": "bertstudio.training.trainer",
    "RunResult": "bertstudio.training.trainer",
    "Predictor": "bertstudio.predict",
    "Prediction": "bertstudio.predict",
    "export_run": "bertstudio.export.onnx_export",
    "read_run": "bertstudio.runs.folder",
    "list_runs": "bertstudio.runs.folder",
    "load_tokenizer": "bertstudio.models",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'bertstudio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
