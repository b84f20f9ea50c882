"""Exporting a run for serving: its model as ONNX (`onnx_export.py`), served through ONNX Runtime
behind `Predictor` (`onnx_backend.py`), and checked against PyTorch on the run's validation rows
(`parity.py`). onnx, onnxruntime and onnxscript are the `onnx` extra, imported only here."""
