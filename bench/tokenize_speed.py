"""Dataset and tokenization throughput on a 200,000-row file, stage by stage, in rows per second.

    python bench/tokenize_speed.py --model ../shared/models/minilm-l6-h384-uncased \
        --source ../shared/data/sst2/train.tsv [--rows 200000] [--json] [--save bench/results]

The 200k-row TSV is built in a temporary folder from the source's rows, sampled with a fixed seed
(so repeated), and never kept. Stages, as the Data and Tokenizer tabs and a training run use them:
read_table (bytes -> Table), prepare_data (columns, labels, split, fingerprint), length_stats over
every text (the token-length chart) and encode_examples (what training tokenizes).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, publish  # noqa: E402


def build_file(source: Path, rows: int, target: Path, seed: int = 0) -> None:
    with source.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header, *body = list(reader)
    picked = random.Random(seed).choices(body, k=rows)
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\",
                            lineterminator="\n")
        writer.writerow(header)
        writer.writerows(picked)


def measure(path: Path, model: str, max_length: int, repeats: int) -> dict[str, Any]:
    from bertstudio.config import TrainConfig
    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_tokenizer
    from bertstudio.data.tabular import read_table
    from bertstudio.text.tokenization import encode_examples, length_stats

    tokenizer = load_tokenizer(model)
    config = TrainConfig(data=str(path), model=model, max_length=max_length)
    best: dict[str, float] = {}
    rows = 0
    for _ in range(repeats):  # the best of a few repeats: the machine's noise only ever adds time
        t0 = time.perf_counter()
        table = read_table(path)
        t1 = time.perf_counter()
        data = prepare_data(config, table)
        t2 = time.perf_counter()
        texts = data.train.texts + data.validation.texts
        stats = length_stats(tokenizer, texts, max_length=max_length)
        t3 = time.perf_counter()
        encode_examples(tokenizer, texts, max_length=max_length, truncation=config.truncation)
        t4 = time.perf_counter()
        rows = len(table.rows)
        for stage, seconds in (("read_table", t1 - t0), ("prepare_data", t2 - t1),
                               ("length_stats", t3 - t2), ("encode_examples", t4 - t3),
                               ("total", t4 - t0)):
            best[stage] = min(best.get(stage, float("inf")), seconds)
    return {"rows": rows, "kept_rows": stats.count, "mean_tokens": stats.mean,
            "stages": {stage: {"seconds": s, "rows_per_s": rows / s} for stage, s in best.items()}}


def render(payload: dict[str, Any]) -> str:
    lines = [f"{payload['rows']:,} rows ({payload['kept_rows']:,} kept, mean {payload['mean_tokens']:.1f} "
             f"tokens), best of {payload['repeats']}:"]
    for stage, numbers in payload["stages"].items():
        lines.append(f"  {stage:<16}{numbers['seconds']:>8.2f} s{numbers['rows_per_s']:>14,.0f} rows/s")
    m = payload["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores; load average {m['load_average']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--source", required=True, help="a TSV (sentence<TAB>label) to sample rows from")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bench-{args.rows}.tsv"
        build_file(Path(args.source), args.rows, path)
        payload = measure(path, str(Path(args.model).resolve()), args.max_length, args.repeats)
    payload.update(repeats=args.repeats, machine=machine())
    text = render(payload)
    publish(args, "tokenize_speed", payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
