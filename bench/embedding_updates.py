"""What updating only the word-embedding rows a batch uses does to quality, over seeds, on held-out rows.

    python bench/embedding_updates.py [--tasks sst2,goemotions,stsb] [--seeds 1,2,3,4,5] [--save bench/results]

Each run is `bertstudio train ... --embedding-updates rows_used` or `all_rows` (every row every
step, as Hugging Face's Trainer does), the same seed for both, then `bertstudio predict` on rows the
run never saw and nothing was tuned on (bench/task_quality.py runs both commands and scores them):

  sst2        8,000 rows sampled from sst2/train.tsv minus its last 2,000 rows, 1 epoch (the
              bench/train_speed.py run); accuracy on those last 2,000 rows. (The official dev and
              test splits are kept away from this checkout.)
  goemotions  multi-label, 8,000 rows of goemotions/train.tsv, 2 epochs; macro- and micro-F1 of
              the predicted tag sets on goemotions/test.tsv.
  stsb        regression, every row of stsb/train.tsv, 2 epochs; Pearson and Spearman on
              stsb/dev.tsv (the engine validates on its own share of train).

The report gives each variant's mean and standard deviation over the seeds and the paired
difference (rows_used - all_rows, same seed), its mean and spread. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import task_quality  # noqa: E402
from bench.common import machine, publish, REPO_ROOT  # noqa: E402

VARIANTS = ("rows_used", "all_rows")
SST2_HELD_OUT = 2000
PLANS = {  # task -> (rows, epochs, the metrics reported)
    "sst2": (8000, 1, ("accuracy",)),
    "goemotions": (8000, 2, ("macro_f1", "micro_f1")),
    "stsb": (None, 2, ("pearson", "spearman")),
}


def split_sst2(folder: Path) -> None:
    """sst2/train.tsv as a training pool and its last SST2_HELD_OUT rows as the held-out file."""
    lines = (task_quality.DATA / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    (folder / "pool.tsv").write_text(head + "".join(body[:-SST2_HELD_OUT]), encoding="utf-8")
    (folder / "held_out.tsv").write_text(head + "".join(body[-SST2_HELD_OUT:]), encoding="utf-8")
    task_quality.TASKS["sst2"] = dict(train=folder / "pool.tsv", test=folder / "held_out.tsv",
                                      flags=["--text-column", "sentence", "--label-column", "label"])


def summarise(runs: dict[str, dict[str, list[dict]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for task, by_variant in runs.items():
        summary[task] = {}
        for metric in PLANS[task][2]:
            values = {v: [r[metric] for r in by_variant[v]] for v in VARIANTS}
            diffs = [a - b for a, b in zip(values["rows_used"], values["all_rows"])]
            summary[task][metric] = {
                **{v: {"mean": statistics.fmean(x), "sd": statistics.stdev(x) if len(x) > 1 else 0.0}
                   for v, x in values.items()},
                "difference": {"mean": statistics.fmean(diffs), "sd": statistics.stdev(diffs) if len(diffs) > 1 else 0.0,
                               "rows_used_higher": sum(d > 0 for d in diffs), "seeds": len(diffs)}}
        summary[task]["train_seconds"] = {v: statistics.fmean(r["train_seconds"] for r in by_variant[v])
                                          for v in VARIANTS}
    return summary


def render(payload: dict[str, Any]) -> str:
    lines = [f"Word-table updates, rows_used against all_rows ({Path(payload['model']).name}, seeds "
             f"{', '.join(map(str, payload['seeds']))}); held-out rows as in the docstring", ""]
    for task, metrics in payload["summary"].items():
        rows, epochs, _ = PLANS[task]
        lines.append(f"{task} ({rows or 'all'} rows, {epochs} epoch(s)):")
        for metric, m in metrics.items():
            if metric == "train_seconds":
                lines.append(f"  train time (CLI, s): rows_used {m['rows_used']:.1f}, all_rows {m['all_rows']:.1f} "
                             f"({m['all_rows'] / m['rows_used']:.2f}x)")
                continue
            d = m["difference"]
            lines.append(f"  {metric:9s} rows_used {m['rows_used']['mean']:.4f} ± {m['rows_used']['sd']:.4f}, "
                         f"all_rows {m['all_rows']['mean']:.4f} ± {m['all_rows']['sd']:.4f}; paired difference "
                         f"{100 * d['mean']:+.2f} ± {100 * d['sd']:.2f} points (rows_used higher on "
                         f"{d['rows_used_higher']} of {d['seeds']} seeds)")
        lines.append("")
    m = payload["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(REPO_ROOT.parent / "shared" / "models" / "minilm-l6-h384-uncased"))
    parser.add_argument("--tasks", default="sst2,goemotions,stsb")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--save", type=Path, help="also write embedding_updates.json and .txt to this folder")
    parser.add_argument("--json", action="store_true", help="print the JSON record instead of the table")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    runs: dict[str, dict[str, list[dict]]] = {t: {v: [] for v in VARIANTS} for t in tasks}
    with tempfile.TemporaryDirectory() as folder:
        split_sst2(Path(folder))
        for task in tasks:
            rows, epochs, metrics = PLANS[task]
            for seed in seeds:
                for variant in VARIANTS:
                    plan = argparse.Namespace(model=args.model, epochs=epochs, max_rows=rows,
                                              engine_flag=["--seed", str(seed), "--embedding-updates", variant])
                    result = task_quality.run_engine(task, plan)
                    runs[task][variant].append({"seed": seed, **result})
                    print(f"{task} seed {seed} {variant}: " + ", ".join(f"{k} {result[k]:.4f}" for k in metrics)
                          + f", train {result['train_seconds']:.1f} s", file=sys.stderr, flush=True)
    payload = {"model": args.model, "seeds": seeds, "runs": runs, "summary": summarise(runs), "machine": machine()}
    publish(args, "embedding_updates", payload, render(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main())
