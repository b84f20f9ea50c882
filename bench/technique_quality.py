"""Which training settings work for which data size and model size: test accuracy on rows no run saw.

    nice -n 5 python bench/technique_quality.py --model /work/shared/models/minilm-l6-h384-uncased \
        --datasets trec,ag_news --rows 200,1000,2000 --seeds 0,1,2 \
        --conditions defaults,grid:lr=1e-4,grid:epochs=10+patience=2 --tag minilm
    python bench/technique_quality.py --summarize --tag minilm     # JSON + Markdown from the runs so far

For each dataset ONE fixed held-out test split (`TEST_ROWS` rows, stratified, seed `SPLIT_SEED`) is
carved first; no run trains, validates or tunes on it. For each (rows N, seed) a stratified sample of
N rows is drawn from the rest (the same sample for every condition, so conditions compare on paired
data), written as a temporary CSV with columns text,label, and trained with the engine
(`bertstudio.training.trainer.train`) exactly as a user would: the engine holds out its usual
validation share of that file. The saved model then predicts the test rows (`bertstudio.predict`).

Conditions are named and pluggable (`condition_settings`):
    defaults                 today's TrainConfig defaults
    grid:<k>=<v>+<k>=<v>     those settings changed (short keys: lr, epochs, patience, batch)
    recommended              what `bertstudio.recommend.recommend` says for this file and model
    adapted[:N]              recommended, after N epochs (default 3) of continued pretraining on the file's texts
    searched[:N]             the best settings of an N-trial search (default 8) on the file's validation share
    augmented[:K]            adapted, plus K masked-LM-sampled copies of every training row (bench/augmentation.py)

Settings are to be chosen on the VALIDATION metric; the summary's "chosen" rows pick the condition
with the best mean validation macro-F1 per cell and report its test numbers. Every run is appended to
bench/results/technique_quality_<tag>.runs.jsonl as it ends, so an interrupted sweep keeps what it
measured and a rerun skips what is done. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO_ROOT, machine  # noqa: E402

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig

DATA = REPO_ROOT.parent / "shared" / "data"
RESULTS = REPO_ROOT / "bench" / "results"
TEST_ROWS = 1000
SPLIT_SEED = 20261202  # fixed once: the held-out rows never change between sweeps
SHORT_KEYS = {"lr": "learning_rate", "patience": "early_stopping_patience", "batch": "batch_size"}


# --- the datasets: rows of (text, label) -----------------------------------------------------------

def _trec() -> list[tuple[str, str]]:
    with open(DATA / "trec" / "train.csv", newline="", encoding="utf-8") as f:  # tab-separated despite the name
        return [(r["question"], r["label"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def _ag_news() -> list[tuple[str, str]]:
    names = (DATA / "ag_news" / "classes.txt").read_text(encoding="utf-8").split()
    with open(DATA / "ag_news" / "test.csv", newline="", encoding="utf-8") as f:  # no header; 1-based class
        # Title and description as one text; the file stores former newlines as a literal backslash.
        return [(f"{title}. {body}".replace("\\", " "), names[int(k) - 1]) for k, title, body in csv.reader(f)]


def _imdb() -> list[tuple[str, str]]:
    with open(DATA / "imdb" / "IMDB Dataset.csv", newline="", encoding="utf-8") as f:
        return [(r["review"], r["sentiment"]) for r in csv.DictReader(f)]


def _sst2() -> list[tuple[str, str]]:
    with open(DATA / "sst2" / "train.tsv", newline="", encoding="utf-8") as f:
        return [(r["sentence"].strip(), r["label"]) for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


@dataclass(frozen=True)
class Dataset:
    read: Callable[[], list[tuple[str, str]]]
    max_length: int  # chosen from the token lengths (`token_lengths` records them next to the results)
    about: str


DATASETS = {
    "trec": Dataset(_trec, 64, "trec/train.csv, 6 question types, short questions"),
    "ag_news": Dataset(_ag_news, 128, "ag_news/test.csv, 4 news topics, title + description"),
    "imdb": Dataset(_imdb, 256, "imdb/IMDB Dataset.csv, 2 sentiments, long reviews (cut to 256 tokens)"),
    "sst2": Dataset(_sst2, 64, "sst2/train.tsv, 2 sentiments, short phrases"),
}


def stratified_take(rows: list[tuple[str, str]], n: int, rng: random.Random) -> tuple[list, list]:
    """n rows with the labels' shares kept (largest remainders), and the rest; both shuffled."""
    by_label: dict[str, list] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    quotas = {label: n * len(group) / len(rows) for label, group in by_label.items()}
    counts = {label: int(q) for label, q in quotas.items()}
    for label in sorted(quotas, key=lambda k: quotas[k] - counts[k], reverse=True)[:n - sum(counts.values())]:
        counts[label] += 1
    taken, rest = [], []
    for label in sorted(by_label):
        group = by_label[label][:]
        rng.shuffle(group)
        taken += group[:counts[label]]
        rest += group[counts[label]:]
    rng.shuffle(taken)
    rng.shuffle(rest)
    return taken, rest


def splits(name: str) -> tuple[list, list]:
    """(held-out test rows, pool to draw training files from): the same on every call."""
    return stratified_take(DATASETS[name].read(), TEST_ROWS, random.Random(f"{name}-{SPLIT_SEED}"))


def training_rows(name: str, pool: list, rows: int, seed: int) -> list[tuple[str, str]]:
    """The training file of one (rows, seed) cell: shared by every condition, so they compare paired."""
    if rows > len(pool):
        raise SystemExit(f"{name} has only {len(pool)} rows outside its test split; asked for {rows}")
    return stratified_take(pool, rows, random.Random(f"{name}-{rows}-{seed}"))[0]


def token_lengths(name: str, model: str) -> dict[str, int]:
    """Tokens per text (special tokens included) over the whole dataset: what max_length was chosen from."""
    from bertstudio.models import load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(model))
    lengths = sorted(len(ids) for ids in tokenizer([t for t, _ in DATASETS[name].read()])["input_ids"])
    at = lambda q: lengths[min(len(lengths) - 1, int(q * len(lengths)))]  # noqa: E731
    return {"median": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": lengths[-1]}


# --- conditions ---------------------------------------------------------------------------------------

ADAPT_EPOCHS = 3   # "adapted" without a count: three epochs of masked-LM training on the file's texts
SEARCH_TRIALS = 8  # "searched" without a count


def adapted_settings(rows: int, model: str, epochs: int) -> dict[str, Any]:
    """The "adapted" condition: the recommended settings, with `epochs` epochs of continued
    pretraining (masked LM) on the training file's texts first, through the engine's own adapt-first
    path (`adapt_epochs`), which never reads the validation share's texts."""
    from bertstudio.recommend import count_parameters, recommend

    return {**recommend(rows, count_parameters(model)).settings(), "adapt_epochs": epochs}


def searched_settings(base: "TrainConfig", trials: int, workdir: Path) -> dict[str, Any]:
    """The "searched" condition: the best settings a search of `trials` trials (bertstudio/search)
    finds on the training file's own validation share, never the test rows; the run then trains
    with them, so its time includes the search's."""
    from bertstudio.search.space import search_space
    from bertstudio.search.study import run_search

    result = run_search(base.replace(output_dir=str(workdir / "search")), trials=trials, fixed=("max_length",))
    if result.best_config is None:
        raise RuntimeError(f"the search in {result.search_dir} found no finished trial")
    return {dim.name: getattr(result.best_config, dim.name) for dim in search_space(("max_length",), False)}


def parse_grid(spec: str) -> dict[str, Any]:
    """'lr=1e-4+epochs=10+patience=2' -> TrainConfig changes, each value typed as its field."""
    from bertstudio.config import TrainConfig, base_type
    from typing import get_type_hints

    hints = get_type_hints(TrainConfig)
    changes = {}
    for part in filter(None, spec.split("+")):
        key, _, value = part.partition("=")
        key = SHORT_KEYS.get(key.strip(), key.strip())
        if key not in hints:
            raise SystemExit(f"unknown setting '{key}' in grid:{spec}")
        kind = base_type(hints[key])
        changes[key] = value.strip().lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return changes


def condition_settings(condition: str, base: "TrainConfig", rows: int, workdir: Path) -> dict[str, Any]:
    """The TrainConfig changes a condition makes to `base` (the run as plain defaults would train it)."""
    name, _, count = condition.partition(":")
    if condition == "defaults":
        return {}
    if name == "grid":
        return parse_grid(count)
    if condition == "recommended":
        from bertstudio.recommend import count_parameters, recommend

        return recommend(rows, count_parameters(base.model)).settings()
    if name == "adapted":
        return adapted_settings(rows, base.model, int(count or ADAPT_EPOCHS))
    if name == "augmented":
        from bench.augmentation import augmented_settings

        return augmented_settings(base, adapted_settings(rows, base.model, ADAPT_EPOCHS), int(count or 1), workdir)
    if name == "searched":
        return searched_settings(base, int(count or SEARCH_TRIALS), workdir)
    raise SystemExit(f"unknown condition '{condition}'")


# --- one run ------------------------------------------------------------------------------------------

def macro_f1(gold: list[str], predicted: list[str]) -> float:
    """scikit-learn's macro-F1 over the gold labels (zero_division=0)."""
    scores = []
    for label in sorted(set(gold)):
        tp = sum(g == label == p for g, p in zip(gold, predicted))
        fp = sum(p == label != g for g, p in zip(gold, predicted))
        fn = sum(g == label != p for g, p in zip(gold, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def run_one(dataset: str, model: str, rows: int, seed: int, condition: str, test: list, pool: list) -> dict[str, Any]:
    from bertstudio.config import TrainConfig
    from bertstudio.predict import Predictor
    from bertstudio.training.trainer import train

    workdir = Path(tempfile.mkdtemp(prefix="technique-quality-"))
    try:
        train_csv = workdir / "train.csv"
        with open(train_csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(training_rows(dataset, pool, rows, seed))
        start = time.perf_counter()
        base = TrainConfig(data=str(train_csv), text_column="text", label_column="label", task="single_label",
                           model=model, max_length=DATASETS[dataset].max_length, seed=seed,
                           output_dir=str(workdir / "runs"))
        changes = condition_settings(condition, base, rows, workdir)
        config = base.replace(**changes)
        result = train(config)
        train_s = time.perf_counter() - start
        if result.status != "finished":
            raise RuntimeError(f"{dataset} {rows} {condition} seed {seed}: {result.status}: {result.message}")
        texts, gold = [t for t, _ in test], [label for _, label in test]
        predicted = [p.label for p in Predictor.load(result.run_dir).predict(texts)]
        settings = {k: getattr(config, k) for k in ("learning_rate", "epochs", "early_stopping_patience",
                                                     "batch_size", "keep_best", "max_length", "warmup_ratio",
                                                     "weight_decay", "adapt_epochs")}
        return {"dataset": dataset, "rows": rows, "model": model_label(model), "condition": condition,
                "seed": seed, "settings": {**settings, **{k: v for k, v in changes.items() if k not in ("model", "data", "validation_data")}},
                "validation_macro_f1": result.metrics.get("macro_f1"),
                "validation_accuracy": result.metrics.get("accuracy"),
                "test_rows": len(test), "test_accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
                "test_macro_f1": macro_f1(gold, predicted), "steps": result.metrics.get("steps"),
                "best_step": result.metrics.get("best_step"), "train_seconds": round(train_s, 1),
                "total_seconds": round(time.perf_counter() - start, 1)}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def model_label(model: str) -> str:
    return model if model == "bundled" else Path(model).name


# --- the sweep and its summary ------------------------------------------------------------------------

def runs_file(tag: str) -> Path:
    return RESULTS / f"technique_quality_{tag}.runs.jsonl"


def read_runs(tag: str) -> list[dict[str, Any]]:
    path = runs_file(tag)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def sweep(args: argparse.Namespace) -> None:
    done = {(r["dataset"], r["model"], r["rows"], r["seed"], r["condition"]) for r in read_runs(args.tag)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets:
        test, pool = splits(dataset)
        for seed in args.seeds:  # seeds outermost: a sweep cut short still covers every cell once
            for rows in args.rows:
                for condition in args.conditions:
                    key = (dataset, model_label(args.model), rows, seed, condition)
                    if key in done:
                        continue
                    record = run_one(dataset, args.model, rows, seed, condition, test, pool)
                    with open(runs_file(args.tag), "a", encoding="utf-8") as f:
                        f.write(json.dumps(record) + "\n")
                    print(json.dumps(record), file=sys.stderr, flush=True)


def _spread(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple, list] = defaultdict(list)
    for r in runs:
        cells[(r["model"], r["dataset"], r["rows"], r["condition"])].append(r)
    table = []
    for (model, dataset, rows, condition), group in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        row = {"model": model, "dataset": dataset, "rows": rows, "condition": condition, "seeds": len(group),
               "test_rows": group[0]["test_rows"], "max_length": group[0]["settings"]["max_length"]}
        for key in ("validation_macro_f1", "test_accuracy", "test_macro_f1", "train_seconds"):
            row[key], row[key + "_sd"] = _spread([g[key] for g in group])
        row["epochs_run"] = statistics.fmean(g["steps"] for g in group)  # optimizer steps, for the record
        table.append(row)
    best: dict[tuple, dict] = {}
    for row in table:  # chosen on VALIDATION only; the test numbers are merely reported
        key = (row["model"], row["dataset"], row["rows"])
        if key not in best or row["validation_macro_f1"] > best[key]["validation_macro_f1"]:
            best[key] = row
    for row in table:
        row["chosen_on_validation"] = best[(row["model"], row["dataset"], row["rows"])] is row
    return table


def markdown(table: list[dict[str, Any]]) -> str:
    lines = ["| model | dataset | rows | condition | seeds | val macro-F1 | test acc | test macro-F1 | train s |",
             "|---|---|---:|---|---:|---|---|---|---:|"]
    for r in table:
        mark = " **(chosen)**" if r["chosen_on_validation"] else ""
        lines.append(f"| {r['model']} | {r['dataset']} | {r['rows']:,} | {r['condition']}{mark} | {r['seeds']} | "
                     f"{r['validation_macro_f1']:.3f} ± {r['validation_macro_f1_sd']:.3f} | "
                     f"{r['test_accuracy']:.3f} ± {r['test_accuracy_sd']:.3f} | "
                     f"{r['test_macro_f1']:.3f} ± {r['test_macro_f1_sd']:.3f} | {r['train_seconds']:.0f} |")
    lines.append("")
    lines.append(f"Test: {TEST_ROWS:,} held-out rows per dataset (stratified, seed {SPLIT_SEED}), never trained, "
                 "validated or tuned on. ± is the standard deviation over seeds (sample, its own training rows "
                 "and run seed). 'chosen': the best mean validation macro-F1 of that model, dataset and size.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO_ROOT.parent / "shared" / "models" / "minilm-l6-h384-uncased"),
                        help="a model folder, or 'bundled'")
    parser.add_argument("--datasets", default="trec,ag_news", type=lambda s: s.split(","))
    parser.add_argument("--rows", default="200,1000,2000", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seeds", default="0,1,2", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--conditions", default="defaults", type=lambda s: s.split(","))
    parser.add_argument("--tag", default="sweep", help="names the runs file and the summary")
    parser.add_argument("--summarize", action="store_true", help="only write the JSON and Markdown summary")
    parser.add_argument("--lengths", action="store_true", help="only print the datasets' token lengths")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.model != "bundled":
        args.model = str(Path(args.model).resolve())
    if args.lengths:
        print(json.dumps({d: token_lengths(d, args.model) for d in args.datasets}))
        return 0
    if not args.summarize:
        sweep(args)
    runs = read_runs(args.tag)
    table = summarize(runs)
    payload = {"datasets": {d: DATASETS[d].about for d in sorted({r["dataset"] for r in runs})},
               "test_rows": TEST_ROWS, "split_seed": SPLIT_SEED, "machine": machine(), "table": table, "runs": runs}
    (RESULTS / f"technique_quality_{args.tag}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"technique_quality_{args.tag}.md").write_text(markdown(table))
    print(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
