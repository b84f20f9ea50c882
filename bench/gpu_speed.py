"""The GPU benchmark, one command: a BERT-base-sized model (built from BertConfig, randomly
initialised: speed does not depend on the weights) trained by the engine and by the tuned Trainer
at lengths 128 and 512, through bench/train_speed.py (fresh processes, A-B-B-A order), for each of
the process settings that matter on a GPU:

  sdpa           transformers' default attention (PyTorch's fused scaled-dot-product kernels)
  eager          the attention that materialises every score: what SDPA saves
  sdpa+compile   torch.compile (inductor) on top
  padding-free   the Trainer with DataCollatorWithFlattening and flash_attention_2 (one row of
                 the batch's real tokens, no padding computed); only where `flash_attn` imports

For each it prints samples/s, the engine / Trainer ratio, real tokens/s, model-FLOPs utilisation
(6 x non-embedding parameters x real tokens / time / the card's dense bf16 peak), peak GPU memory,
the share of padded tokens and validation accuracy.

    python bench/gpu_speed.py --save bench/results            # on the GPU machine
    python bench/gpu_speed.py --size tiny --allow-cpu --rows 200 --lengths 64   # a smoke run anywhere

Short rows come from SST-2 (length 128), long ones from IMDB (length 512), both from ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, child_env, machine, publish  # noqa: E402

SHARED = REPO_ROOT.parent / "shared"
DATA = {128: SHARED / "data" / "sst2" / "train.tsv", 512: SHARED / "data" / "imdb" / "IMDB Dataset.csv"}
SIZES = {"base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
         "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)}
# Dense bf16 tensor-core peaks from the vendors' data sheets, TFLOP/s (no sparsity).
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 80GB HBM3": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 756.0,
                    "A100": 312.0, "L40S": 362.0, "L40": 181.0, "L4": 121.0, "A10G": 70.0, "A10": 125.0,
                    "RTX 4090": 165.0, "RTX 3090": 71.0, "V100": 125.0, "T4": 65.0}
SETTINGS = (("sdpa", ["--attention", "sdpa"]), ("eager", ["--attention", "eager"]),
            ("sdpa+compile", ["--attention", "sdpa", "--compile"]))


def peak_tflops(name: str) -> float | None:
    """The card's dense bf16 peak, by the longest table name its name contains."""
    matches = [key for key in PEAK_BF16_TFLOPS if key.lower() in name.lower()]
    return PEAK_BF16_TFLOPS[max(matches, key=len)] if matches else None


def build_model(folder: Path, size: str) -> int:
    """A randomly initialised BERT of `size` with the bert-base-uncased vocabulary (MiniLM's
    tokenizer, or the bundled one); returns its non-embedding parameter count."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer_source = SHARED / "models" / "minilm-l6-h384-uncased"
    if not (tokenizer_source / "vocab.txt").exists():
        tokenizer_source = REPO_ROOT / "assets" / "bundled-bert"
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    tokenizer.save_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, num_labels=2, **SIZES[size])
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    embeddings = sum(p.numel() for p in model.bert.embeddings.parameters())
    return sum(p.numel() for p in model.parameters()) - embeddings


def run_speed(model: Path, data: Path, length: int, args: argparse.Namespace, extra: list[str],
              variants: str) -> dict[str, Any]:
    import subprocess

    argv = [sys.executable, str(REPO_ROOT / "bench" / "train_speed.py"), "--model", str(model), "--data", str(data),
            "--rows", str(args.rows), "--epochs", "1", "--max-length", str(length), "--variants", variants,
            "--repeats", str(args.repeats), "--precision", args.precision, "--json", *extra]
    done = subprocess.run(argv, capture_output=True, text=True, env=child_env(), cwd=REPO_ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-1500:]}
    return json.loads(done.stdout)


def row(setting: str, length: int, payload: dict[str, Any], flops_per_token: float,
        peak: float | None) -> list[dict[str, Any]]:
    """One line per variant of one train_speed payload."""
    if "error" in payload:
        return [{"setting": setting, "length": length, "variant": "-", "error": payload["error"].splitlines()[-1]}]
    lines = []
    for variant, means in payload["means"].items():
        tokens = means.get("real_tokens_per_s")
        achieved = flops_per_token * tokens if tokens else None
        lines.append({"setting": setting, "length": length, "variant": variant,
                      "samples_per_s": means.get("steady_samples_per_s") or means.get("e2e_samples_per_s"),
                      "real_tokens_per_s": tokens, "tflops": achieved / 1e12 if achieved else None,
                      "mfu": achieved / (peak * 1e12) if achieved and peak else None,
                      "peak_memory_mib": means.get("peak_memory_mib"), "padded_share": means.get("padded_share"),
                      "accuracy": means.get("accuracy")})
    ratio = payload["ratios"].get("engine/trainer-tuned", {})
    if lines and (ratio.get("steady_samples_per_s") or ratio.get("e2e_samples_per_s")):
        # Steady state where the run is long enough to have one, else end to end.
        lines[0]["engine_over_tuned"] = ratio.get("steady_samples_per_s") or ratio["e2e_samples_per_s"]
    return lines


def render(rows: list[dict[str, Any]], facts: dict[str, Any]) -> str:
    def cell(value, fmt):
        return "-" if value is None else fmt.format(value)

    header = (f"{'setting':<14}{'len':>5}  {'variant':<16}{'samples/s':>10}{'tokens/s':>11}{'TFLOP/s':>9}"
              f"{'MFU':>7}{'peak MiB':>10}{'padded':>8}{'acc':>7}{'engine/tuned':>14}")
    lines = [header]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['setting']:<14}{r['length']:>5}  failed: {r['error']}")
            continue
        lines.append(f"{r['setting']:<14}{r['length']:>5}  {r['variant']:<16}{cell(r['samples_per_s'], '{:.1f}'):>10}"
                     f"{cell(r['real_tokens_per_s'], '{:.0f}'):>11}{cell(r['tflops'], '{:.1f}'):>9}"
                     f"{cell(r['mfu'], '{:.1%}'):>7}{cell(r['peak_memory_mib'], '{:.0f}'):>10}"
                     f"{cell(r['padded_share'], '{:.1%}'):>8}{cell(r['accuracy'], '{:.3f}'):>7}"
                     f"{cell(r.get('engine_over_tuned'), '{:.2f}x'):>14}")
    lines.append("")
    lines.append(f"model: {facts['size']} ({facts['non_embedding_parameters']:,} non-embedding parameters); "
                 f"device: {facts['device']}; peak bf16 {cell(facts['peak_tflops'], '{:.0f}')} TFLOP/s; "
                 f"{facts['rows']} rows, 1 epoch; padding-free: {facts['padding_free']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=tuple(SIZES), default="base")
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp16", "fp32"))
    parser.add_argument("--data-short", type=Path, default=DATA[128], help="rows for lengths up to 128")
    parser.add_argument("--data-long", type=Path, default=DATA[512], help="rows for longer lengths")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, where the table lacks it")
    parser.add_argument("--allow-cpu", action="store_true", help="run without a GPU (a smoke run of the script)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print("error: no GPU here (torch.cuda.is_available() is False); run this on a GPU machine, or pass "
              "--allow-cpu --size tiny for a smoke run", file=sys.stderr)
        return 2
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    peak = args.peak_tflops or peak_tflops(device)
    try:
        import flash_attn  # noqa: F401
        padding_free = torch.cuda.is_available()
    except ImportError:
        padding_free = False
    folder = Path(tempfile.mkdtemp(prefix="gpu-speed-model-"))
    try:
        non_embedding = build_model(folder, args.size)
        flops_per_token = 6 * non_embedding  # forward and backward, per real token
        rows: list[dict[str, Any]] = []
        for length in args.lengths:
            data = args.data_short if length <= 128 else args.data_long
            for setting, extra in SETTINGS:
                payload = run_speed(folder, data, length, args, extra, "engine,trainer-tuned")
                rows += row(setting, length, payload, flops_per_token, peak)
                print(f"[{setting} @ {length}] done", file=sys.stderr, flush=True)
            if padding_free:
                payload = run_speed(folder, data, length, args, ["--attention", "flash_attention_2"],
                                    "trainer-tuned,trainer-padfree")
                rows += row("flash+padfree", length, payload, flops_per_token, peak)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    facts = {"size": args.size, "non_embedding_parameters": non_embedding, "device": device, "peak_tflops": peak,
             "rows": args.rows, "padding_free": "measured (flash_attn present)" if padding_free else
             "not measured: needs a GPU with the flash-attn package (pip install flash-attn)"}
    payload = {"rows": rows, "facts": facts, "machine": machine()}
    publish(args, "gpu_speed", payload, render(rows, facts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
