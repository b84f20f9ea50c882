"""Inference speed of a run's model four ways, side by side in one process: PyTorch fp32 (the
baseline), PyTorch bf16 (autocast), ONNX Runtime fp32 and ONNX Runtime int8, at batch 1 and 32.

    python bench/inference_speed.py RUN_DIR --data ROWS.csv [--label-column label] [--rows 1000]
        [--threads 2] [--json] [--save bench/results]

Every backend gets the same rows, cleaned, tokenized and padded once beforehand (tokenizing is the
same work for all four and is reported on its own line), and the calls are interleaved: for each
batch the four run one after another, in A B C D D C B A order from batch to batch, so a machine
that slows down during the run tilts no backend. Latency is the model call alone (p50 / p95 per
batch); rows/s is rows over the summed calls. Accuracy is each backend's answers against the
file's label column (single-label runs; multi-label: the exact tag set). Size is the weights on
disk: model.safetensors for PyTorch (bf16 autocasts the same fp32 weights), the .onnx files else.
torch and ONNX Runtime use the same number of threads (--threads, default every core). The run is
exported (with --int8) first when it has no int8 export yet.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import abba_order, machine, publish  # noqa: E402

BASELINE = "pytorch fp32"
VARIANTS = (BASELINE, "pytorch bf16", "onnxruntime fp32", "onnxruntime int8")


class Autocast:
    """A backend run under bf16 autocast (what `precision.py` uses to train on a CPU with bf16)."""

    def __init__(self, inner) -> None:
        self.inner, self.config = inner, inner.config

    def logits(self, batch):
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.inner.logits(batch)


def backends(run: Path, threads: int) -> tuple[Any, dict[str, Any], dict[str, int]]:
    """The PyTorch predictor (which tokenizes for all), each variant's backend, its size on disk."""
    from bertstudio.export.onnx_backend import FP32_FILE, INT8_FILE, ONNX_DIR, load_onnx_predictor
    from bertstudio.predict import Predictor

    if not (run / ONNX_DIR / INT8_FILE).is_file():
        from bertstudio.export.onnx_export import export_run

        print(f"exporting {run} with --int8 first…", file=sys.stderr)
        export_run(run, int8=True)
    predictor = Predictor.load(run)
    torch_backend = predictor.backend
    found = {BASELINE: torch_backend, "pytorch bf16": Autocast(torch_backend),
             "onnxruntime fp32": load_onnx_predictor(run, "fp32", threads).backend,
             "onnxruntime int8": load_onnx_predictor(run, "int8", threads).backend}
    weights = (run / "model" / "model.safetensors").stat().st_size
    sizes = {BASELINE: weights, "pytorch bf16": weights,
             "onnxruntime fp32": (run / ONNX_DIR / FP32_FILE).stat().st_size,
             "onnxruntime int8": (run / ONNX_DIR / INT8_FILE).stat().st_size}
    return predictor, found, sizes


def batches(predictor, texts: list[str], size: int) -> list[tuple[Any, dict]]:
    """The rows as the predictor would feed them (cleaned, tokenized, padded), longest first."""
    from bertstudio.data.cleaning import clean_texts
    from bertstudio.text.tokenization import encode_examples
    from bertstudio.training.batching import EncodedExamples, PaddingCollator, length_sorted_indices

    encoded = encode_examples(predictor.tokenizer, clean_texts(texts, predictor.cleaning), None,
                              max_length=predictor.max_length, truncation=predictor.truncation)
    dataset = EncodedExamples(encoded["input_ids"], encoded["token_type_ids"])
    collate = PaddingCollator(predictor.tokenizer.pad_token_id or 0)
    order = length_sorted_indices(dataset.lengths)
    out = []
    for start in range(0, len(order), size):
        batch = collate([dataset[i] for i in order[start:start + size]])
        batch.pop("num_tokens")
        out.append((batch.pop("index"), batch))
    return out


def measure(found: dict[str, Any], prepared: list[tuple[Any, dict]], rows: int, classes: int,
            warmup: int = 3) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Seconds per call for each variant, interleaved batch by batch, and each one's logits."""
    import torch

    times: dict[str, list[float]] = {name: [] for name in found}
    logits = {name: torch.empty((rows, classes)) for name in found}
    with torch.inference_mode():
        for _, batch in prepared[:warmup]:
            for backend in found.values():
                backend.logits(batch)
        orders = abba_order(list(found), len(prepared))
        for step, (index, batch) in enumerate(prepared):
            for name in orders[step * len(found):(step + 1) * len(found)]:
                start = time.perf_counter()
                out = found[name].logits(batch)
                times[name].append(time.perf_counter() - start)
                logits[name][index] = out.float()
    return times, logits


def accuracy(predictor, logits, gold: list[str] | None) -> float | None:
    """Share of rows whose answer is the file's label (a multi-label row: the exact set)."""
    from bertstudio.tasks.labels import normalize_label

    if gold is None:
        return None
    predictions = predictor.task.predictions(logits.numpy(), predictor.config)
    if predictions and predictions[0].value is not None:
        return None  # a number has no right answer to count
    separator = getattr(predictor.config, "bertstudio_label_separator", None)

    def key(cell: str):
        return frozenset(normalize_label(t) for t in cell.split(separator) if t.strip()) if separator else \
            normalize_label(cell)

    hits = sum((frozenset(p.labels) if p.labels is not None else p.label) == key(g)
               for p, g in zip(predictions, gold))
    return hits / len(gold)


def read_rows(path: str, text_column: str | None, label_column: str | None, limit: int,
              predictor) -> tuple[list[str], list[str] | None]:
    from bertstudio.data.tabular import read_table

    table = read_table(path)
    text_column = text_column or predictor.text_column or table.columns[0]
    texts = table.column(text_column)[:limit]
    label_column = label_column if label_column is not None else "label"
    gold = table.column(label_column)[:limit] if label_column in table.columns else None
    return texts, gold


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def summarise(times, logits, rows: int, predictor, gold, sizes) -> dict[str, dict[str, Any]]:
    out = {}
    for name, calls in times.items():
        out[name] = {"p50_ms": statistics.median(calls) * 1000, "p95_ms": percentile(calls, 0.95) * 1000,
                     "rows_per_s": rows / sum(calls), "accuracy": accuracy(predictor, logits[name], gold),
                     "size_mb": sizes[name] / 1e6}
    base = out[BASELINE]
    for item in out.values():
        item["speedup_p50"] = base["p50_ms"] / item["p50_ms"]
        item["speedup_rows_per_s"] = item["rows_per_s"] / base["rows_per_s"]
        item["size_ratio"] = item["size_mb"] / base["size_mb"]
        item["accuracy_points"] = (None if item["accuracy"] is None or base["accuracy"] is None
                                   else 100 * (item["accuracy"] - base["accuracy"]))
    return out


def table(results: dict[int, dict[str, dict[str, Any]]]) -> str:
    lines = ["| batch | backend | p50 ms | p95 ms | rows/s | × fp32 (p50) | accuracy | Δ points | size MB |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size, variants in results.items():
        for name, m in variants.items():
            acc = "n/a" if m["accuracy"] is None else f"{m['accuracy']:.3f}"
            delta = "n/a" if m["accuracy_points"] is None else f"{m['accuracy_points']:+.1f}"
            lines.append(f"| {size} | {name} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | {m['rows_per_s']:.0f} | "
                         f"{m['speedup_p50']:.2f}× | {acc} | {delta} | {m['size_mb']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a finished run folder (exported with --int8 first if it is not yet)")
    parser.add_argument("--data", required=True, help="a CSV/TSV of rows to predict")
    parser.add_argument("--text-column", default=None, help="[default: the run's text column]")
    parser.add_argument("--label-column", default="label", help="the gold answers, for accuracy [label]")
    parser.add_argument("--rows", type=int, default=1000, help="rows measured, from the top of --data")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads [every core]")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", default=None, help="folder to keep inference_speed.json/.txt in")
    args = parser.parse_args()

    import os

    import torch

    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    run = Path(args.run)
    predictor, found, sizes = backends(run, threads)
    texts, gold = read_rows(args.data, args.text_column, args.label_column, args.rows, predictor)
    start = time.perf_counter()
    prepared = {size: batches(predictor, texts, size) for size in args.batch_sizes}
    tokenize_ms = (time.perf_counter() - start) * 1000 / (len(texts) * len(args.batch_sizes))
    results = {}
    for size in args.batch_sizes:
        times, logits = measure(found, prepared[size], len(texts), predictor.config.num_labels)
        results[size] = summarise(times, logits, len(texts), predictor, gold, sizes)
    payload = {"run": str(run), "data": str(args.data), "rows": len(texts), "threads": threads,
               "baseline": BASELINE, "tokenize_ms_per_row": tokenize_ms, "results": results, "machine": machine()}
    text = (f"{len(texts):,} rows of {Path(args.data).name}; {threads} threads for torch and onnxruntime "
            f"(intra-op); baseline {BASELINE}; tokenizing {tokenize_ms:.2f} ms per row, not in the "
            "latencies\n\n" + table(results) + "\n")
    publish(args, "inference_speed", payload, text)


if __name__ == "__main__":
    main()
