"""Where a training step's time goes in the engine, and how far from this CPU's limit it runs.

    python bench/step_profile.py --model ../shared/models/minilm-l6-h384-uncased \
        --data ../shared/data/sst2/train.tsv --rows 2000 [--json] [--save bench/results]

One `bertstudio.training.trainer.train` run, as `bertstudio train` runs it, with timers around its
parts: the forward pass (the trainer's own `train_step` extension point), the backward pass
(Accelerate's `backward`), the optimizer (torch's global optimizer-step hooks) and the rest of the
step (data loading, collation, clipping, the scheduler, zeroing gradients). On the CPU every op is
synchronous, so wall-clock timers around them measure them. The first 10 % of steps are left out.

Then the engine's training FLOP/s, 6 x non-embedding parameters x real (unpadded) tokens / step
time, against this CPU's measured peak: the best of repeated 2048 x 2048 matrix products in bf16
and in fp32, on the same threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, publish  # noqa: E402

PARTS = ("forward", "backward", "optimizer", "other")


def matmul_peak(dtype_name: str, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of the best of `repeats` square products: what this CPU's kernels reach at best."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    torch.matmul(a, b)  # warm the kernels and the allocator
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best


def profile(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    from bertstudio.config import TrainConfig
    from bertstudio.training.trainer import default_train_step, train

    steps: list[dict[str, float]] = []
    marks: dict[str, float] = {}

    def timed_step(model, batch):
        now = time.perf_counter()
        if "step_start" in marks:  # the previous step ends where this one starts
            steps[-1]["total"] = now - marks["step_start"]
        marks["step_start"] = now
        # Real tokens: the mask where the batch has one; a batch with no padding may come without.
        mask = batch.get("attention_mask")
        tokens = float(mask.sum()) if mask is not None else float(batch["input_ids"].numel())
        steps.append({"tokens": tokens, "forward": 0.0, "backward": 0.0, "optimizer": 0.0})
        loss = default_train_step(model, batch)
        steps[-1]["forward"] = time.perf_counter() - now
        return loss

    backward = Accelerator.backward

    def timed_backward(self, loss, **kwargs):
        start = time.perf_counter()
        backward(self, loss, **kwargs)
        if steps:
            steps[-1]["backward"] += time.perf_counter() - start

    Accelerator.backward = timed_backward
    register_optimizer_step_pre_hook(lambda *a: marks.__setitem__("optimizer", time.perf_counter()))

    def after_optimizer(*a):
        if steps and "optimizer" in marks:
            steps[-1]["optimizer"] += time.perf_counter() - marks.pop("optimizer")

    register_optimizer_step_post_hook(after_optimizer)
    with tempfile.TemporaryDirectory() as runs:
        config = TrainConfig(data=str(Path(args.data).resolve()), model=str(Path(args.model).resolve()),
                             max_rows=args.rows, epochs=1, max_length=args.max_length, batch_size=args.batch_size,
                             output_dir=runs, run_name="profile").validate()
        result = train(config, train_step=timed_step)
    if result.status != "finished":
        raise RuntimeError(f"the run {result.status}: {result.message}")
    measured = [s for s in steps[max(1, len(steps) // 10):] if "total" in s]
    means = {part: statistics.fmean(s[part] for s in measured) for part in ("forward", "backward", "optimizer")}
    total = statistics.fmean(s["total"] for s in measured)
    means["other"] = total - sum(means.values())
    tokens = statistics.fmean(s["tokens"] for s in measured)
    non_embedding = _non_embedding_parameters(args.model)
    achieved = 6 * non_embedding * tokens / total
    peaks = {name: matmul_peak(name) for name in ("bfloat16", "float32")}
    return {"steps_measured": len(measured), "step_seconds": total, "parts_seconds": means,
            "real_tokens_per_step": tokens, "non_embedding_parameters": non_embedding,
            "train_flops": achieved, "matmul_peak_flops": peaks,
            "share_of_peak": {name: achieved / peak for name, peak in peaks.items()},
            "precision": result.metrics.get("precision") or "auto", "torch_threads": torch.get_num_threads(),
            "settings": {"rows": args.rows, "batch_size": args.batch_size, "max_length": args.max_length}}


def _non_embedding_parameters(model: str) -> int:
    from transformers import AutoModel

    net = AutoModel.from_pretrained(model)
    return sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.embeddings.parameters())


def render(payload: dict[str, Any]) -> str:
    total = payload["step_seconds"]
    lines = [f"one training step: {total * 1000:.0f} ms over {payload['steps_measured']} steps "
             f"({payload['real_tokens_per_step']:.0f} real tokens a step)"]
    for part in PARTS:
        seconds = payload["parts_seconds"][part]
        lines.append(f"  {part:<10}{seconds * 1000:>8.0f} ms  {seconds / total:>6.1%}")
    peaks, share = payload["matmul_peak_flops"], payload["share_of_peak"]
    lines.append(f"training FLOP/s: {payload['train_flops'] / 1e9:.1f} GFLOP/s (6 x "
                 f"{payload['non_embedding_parameters']:,} non-embedding parameters x real tokens / time)")
    lines.append(f"matmul peak: bf16 {peaks['bfloat16'] / 1e9:.1f} GFLOP/s ({share['bfloat16']:.1%} reached), "
                 f"fp32 {peaks['float32'] / 1e9:.1f} GFLOP/s ({share['float32']:.1%}); "
                 f"{payload['torch_threads']} torch threads")
    m = payload["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}; load average before "
                 f"{payload['load_before']}, after {payload['load_after']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args(argv)
    load_before = [round(x, 2) for x in os.getloadavg()]
    payload = profile(args)
    payload.update(machine=machine(), load_before=load_before, load_after=[round(x, 2) for x in os.getloadavg()])
    publish(args, "step_profile", payload, render(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
