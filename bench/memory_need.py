"""Measure one training step's peak memory on the CPU against bertstudio.memory_need's estimate.

Each setting runs in a fresh process: peak RSS (ru_maxrss) after the model is loaded, then after two
AdamW steps at batch x max length (full-length rows, the estimate's worst case), fp32 or bf16 autocast.

    python bench/memory_need.py --model ../shared/models/minilm-l6-h384-uncased --batch 32 --length 128
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys


def measure(model: str, batch: int, length: int, bf16: bool) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification

    net = AutoModelForSequenceClassification.from_pretrained(model, num_labels=2)
    net.train()
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # noqa: E731  (KiB on Linux)
    loaded = peak()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5)
    ids = torch.randint(1000, 2000, (batch, length))
    labels = torch.zeros(batch, dtype=torch.long)
    for _ in range(2):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = net(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {"loaded": loaded, "peak": peak(), "parameters": sum(p.numel() for p in net.parameters()),
            "attention": net.config._attn_implementation}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--length", type=int, nargs="+", default=[128])
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.model, args.batch[0], args.length[0], args.bf16)))
        return
    from bertstudio.config import TrainConfig
    from bertstudio.memory_need import estimate_need, model_shape

    shape = model_shape(args.model)
    for batch in args.batch:
        for length in args.length:
            argv = [sys.executable, __file__, "--child", "--model", args.model, "--batch", str(batch),
                    "--length", str(length)] + (["--bf16"] if args.bf16 else [])
            got = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
            need = estimate_need(TrainConfig(model=args.model, batch_size=batch, max_length=length), shape,
                                 gpu=False, sixteen_bit=args.bf16)
            step = got["peak"] - got["loaded"]
            estimated = need.gradients + need.optimizer + need.activations
            print(f"batch {batch:>3} x {length:>3} {'bf16' if args.bf16 else 'fp32'}: parameters {got['parameters']:,} "
                  f"(shape says {shape.parameters:,}); measured step {step / 2**20:,.0f} MiB, estimated "
                  f"gradients+optimizer+activations {estimated / 2**20:,.0f} MiB ({estimated / step:.2f}x); "
                  f"peak RSS {got['peak'] / 2**20:,.0f} MiB, estimated total {need.total / 2**20:,.0f} MiB "
                  f"(attention {got['attention']})")


if __name__ == "__main__":
    main()
