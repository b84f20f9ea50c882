"""Quality of the multi-label and regression tasks on real data, engine against a tuned Trainer.

    python bench/task_quality.py --model ../shared/models/minilm-l6-h384-uncased \
        [--tasks goemotions,stsb] [--variants engine,trainer] [--max-rows N] [--epochs 3] [--save bench/results]

goemotions  multi-label, 28 tags. The engine runs exactly what a user types:
            `bertstudio train --data goemotions/train.tsv --epochs 3` (no column or task flags; it
            holds out its own validation share and tunes per-tag thresholds there), then
            `bertstudio predict` on goemotions/test.tsv. Scored on test.tsv, which nothing tuned on:
            macro-F1 and micro-F1 of the predicted tag sets.
stsb        regression, similarity 0-5: `bertstudio train --data stsb/train.tsv --text-column
            sentence1 --text-pair-column sentence2 --label-column score --epochs 3`, then predict
            stsb/dev.tsv (the official dev split; the engine validates on its own share of train).
            Pearson and Spearman on dev.

trainer     the reference the issue names: transformers.Trainer, same model, every training row,
            lr 1e-4 (goemotions) / 5e-5 (stsb), batch 32, dynamic padding, bf16 where the engine uses
            it; for goemotions the per-tag thresholds are tuned on goemotions/dev.tsv.
trainer-mean  the same Trainer with the head reading the mean of the token vectors (how this
            sentence-embedding checkpoint was trained, and how the published frozen-encoder figure
            was measured) instead of BertForSequenceClassification's pooled [CLS]: measures what the
            head's pooling is worth. Not something the engine can save: a plain
            `pipeline("text-classification")` loads only the [CLS] head.
trainer-cls-weighted, trainer-mean-weighted  goemotions: one model class with either head, and the
            engine's rare-tag weights (`positive_weights`) in the loss, so the two differ only in
            pooling (unweighted, both stay on the plateau and tell nothing about it).

Each variant is a fresh subprocess. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import child_env, machine, publish, report_result, run_child, REPO_ROOT  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "data"
TASKS = {
    "goemotions": dict(train=DATA / "goemotions" / "train.tsv", dev=DATA / "goemotions" / "dev.tsv",
                       test=DATA / "goemotions" / "test.tsv", flags=[], trainer_lr=1e-4),
    "stsb": dict(train=DATA / "stsb" / "train.tsv", dev=DATA / "stsb" / "dev.tsv", test=DATA / "stsb" / "dev.tsv",
                 flags=["--text-column", "sentence1", "--text-pair-column", "sentence2",
                        "--label-column", "score"], trainer_lr=5e-5),
}


# --- reading the gold labels of the evaluation files -------------------------------------------

def _tsv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def goemotions_rows(path: Path) -> tuple[list[str], list[set[str]]]:
    rows = _tsv(path)  # no header: text, comma-separated tag ids, comment id
    return [r[0] for r in rows], [set(r[1].split(",")) for r in rows]


def stsb_rows(path: Path) -> tuple[list[str], list[str], list[float]]:
    rows = _tsv(path)
    head = rows[0]
    a, b, s = head.index("sentence1"), head.index("sentence2"), head.index("score")
    rows = [r for r in rows[1:] if len(r) > s]
    return [r[a] for r in rows], [r[b] for r in rows], [float(r[s]) for r in rows]


def set_f1(gold: list[set[str]], predicted: list[set[str]], tags: list[str]) -> dict[str, float]:
    """Macro- and micro-F1 over `tags` (scikit-learn's definitions, zero_division=0)."""
    tp = {t: 0 for t in tags}
    fp, fn = dict(tp), dict(tp)
    for g, p in zip(gold, predicted):
        for t in tags:
            tp[t] += t in g and t in p
            fp[t] += t not in g and t in p
            fn[t] += t in g and t not in p
    f1s = [2 * tp[t] / (2 * tp[t] + fp[t] + fn[t]) if tp[t] else 0.0 for t in tags]
    TP, FP, FN = sum(tp.values()), sum(fp.values()), sum(fn.values())
    return {"macro_f1": sum(f1s) / len(tags), "micro_f1": 2 * TP / (2 * TP + FP + FN) if TP else 0.0,
            "subset_accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold)}


def correlations(gold: list[float], predicted: list[float]) -> dict[str, float]:
    import numpy as np

    g, p = np.asarray(gold, dtype=float), np.asarray(predicted, dtype=float)
    rank = lambda x: np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(float)  # noqa: E731
    return {"pearson": float(np.corrcoef(g, p)[0, 1]), "spearman": float(np.corrcoef(rank(g), rank(p))[0, 1]),
            "rmse": float(np.sqrt(((g - p) ** 2).mean()))}


# --- engine: the command line, as a user runs it ----------------------------------------------

def run_engine(task: str, args: argparse.Namespace) -> dict[str, Any]:
    spec = TASKS[task]
    with tempfile.TemporaryDirectory() as out:
        train = [sys.executable, "-m", "bertstudio", "train", "--data", str(spec["train"]), "--model",
                 args.model, "--epochs", str(args.epochs), "--output-dir", out, *spec["flags"], *args.engine_flag]
        if args.max_rows:
            train += ["--max-rows", str(args.max_rows)]
        start = time.perf_counter()
        done = subprocess.run(train, capture_output=True, text=True, env=child_env(), cwd=REPO_ROOT)
        train_s = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"train failed ({done.returncode}): {done.stderr[-3000:]}")
        run_dir = done.stdout.strip().splitlines()[-1]
        predicted = Path(out) / "predicted.tsv"
        told = subprocess.run([sys.executable, "-m", "bertstudio", "predict", "--model", run_dir, "--data",
                               str(spec["test"]), "--output", str(predicted)], capture_output=True, text=True,
                              env=child_env(), cwd=REPO_ROOT)
        if told.returncode != 0:
            raise RuntimeError(f"predict failed ({told.returncode}): {told.stderr[-3000:]}")
        with open(predicted, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter="\t" if predicted.suffix == ".tsv" else ","))
        head, rows = rows[0], rows[1:]
        validation = json.loads((Path(run_dir) / "metrics.json").read_text())
        config = json.loads((Path(run_dir) / "config.json").read_text())
        result: dict[str, Any] = {"train_seconds": train_s, "learning_rate": config.get("learning_rate"),
                                  "validation": {k: v for k, v in validation.items() if isinstance(v, (int, float))}}
        if task == "goemotions":
            _, gold = goemotions_rows(spec["test"])
            at = head.index("predicted_labels")
            tags = [h[len("prob_"):] for h in head if h.startswith("prob_")]
            # The test file has no header; a header-less output keeps the input's columns first.
            if len(rows) == len(gold) - 1:
                gold = gold[1:]
            separator = "," if "," in "".join(r[at] for r in rows) else "|"
            result.update(set_f1(gold, [set(filter(None, r[at].split(separator))) for r in rows], tags))
        elif task == "sst2":
            gold = [r[1] for r in _tsv(spec["test"])[1:]]
            at = head.index("predicted_label")
            result["accuracy"] = sum(g == r[at] for g, r in zip(gold, rows)) / len(gold)
        else:
            _, _, gold = stsb_rows(spec["test"])
            at = head.index("predicted_value")
            result.update(correlations(gold, [float(r[at]) for r in rows]))
        return result


# --- the reference: a tuned transformers.Trainer ------------------------------------------------

def pooled_classifier(name: str, num_labels: int, problem_type: str, pooling: str = "mean",
                      pos_weight: list[float] | None = None):
    """An encoder with a linear head on the attention-masked mean of the last layer's token vectors
    (`mean`) or on BERT's pooled [CLS] (`cls`, as BertForSequenceClassification reads it)."""
    import torch
    from transformers import AutoModel

    weights = torch.tensor(pos_weight) if pos_weight else None

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(name, dtype=torch.float32, add_pooling_layer=pooling == "cls")
            hidden = self.encoder.config.hidden_size
            self.dropout = torch.nn.Dropout(self.encoder.config.hidden_dropout_prob)
            self.classifier = torch.nn.Linear(hidden, num_labels)
            self.classifier.weight.data.normal_(0.0, self.encoder.config.initializer_range)
            self.classifier.bias.data.zero_()

        def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None):
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            if pooling == "cls":
                pooled = out.pooler_output
            else:
                states = out.last_hidden_state
                mask = attention_mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            logits = self.classifier(self.dropout(pooled))
            out = {"logits": logits}
            if labels is not None:
                out["loss"] = (torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(),
                                                                                    pos_weight=weights)
                               if problem_type == "multi_label_classification"
                               else torch.nn.functional.mse_loss(logits[:, 0], labels.float()))
            return out

    return Pooled()


def run_trainer(task: str, args: argparse.Namespace, pooling: str = "auto", weighted: bool = False) -> dict[str, Any]:
    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, Trainer,
                              TrainingArguments)
    import datasets

    from bertstudio.training.trainer import resolve_precision

    spec, bf16 = TASKS[task], resolve_precision("auto") == "bf16"
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if task == "goemotions":
        texts, gold = goemotions_rows(spec["train"])
        tags = sorted({t for g in gold for t in g}, key=lambda t: (len(t), t))
        hot = lambda sets: [[float(t in s) for t in tags] for s in sets]  # noqa: E731
        columns = {"text": texts, "labels": hot(gold)}
        kind = dict(num_labels=len(tags), problem_type="multi_label_classification")
    else:
        a, b, scores = stsb_rows(spec["train"])
        columns, kind = {"text": a, "pair": b, "labels": scores}, dict(num_labels=1, problem_type="regression")
    if args.max_rows:
        columns = {k: v[:args.max_rows] for k, v in columns.items()}

    def tokenize(rows):
        pair = rows.get("pair")
        return tokenizer(rows["text"], pair, truncation=True, max_length=128)

    def as_dataset(cols):
        return datasets.Dataset.from_dict(cols).map(tokenize, batched=True,
                                                    remove_columns=[c for c in cols if c != "labels"])

    torch.manual_seed(42)
    if pooling == "auto":
        model = AutoModelForSequenceClassification.from_pretrained(args.model, dtype=torch.float32, **kind)
    else:
        from bertstudio.tasks.multi_label import positive_weights

        weights = positive_weights([tuple(g) for g in gold[:len(columns["labels"])]], tags) if weighted else None
        model = pooled_classifier(args.model, **kind, pooling=pooling, pos_weight=weights)
    with tempfile.TemporaryDirectory() as out:
        settings = TrainingArguments(
            output_dir=out, per_device_train_batch_size=32, per_device_eval_batch_size=64,
            learning_rate=spec["trainer_lr"], num_train_epochs=args.epochs, warmup_steps=0.1, weight_decay=0.01,
            seed=42, bf16=bf16, use_cpu=not torch.cuda.is_available(), eval_strategy="no", save_strategy="no",
            report_to="none", disable_tqdm=True, train_sampling_strategy="group_by_length",
            optim="adamw_torch_fused")
        trainer = Trainer(model=model, args=settings, train_dataset=as_dataset(columns),
                          data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8),
                          processing_class=tokenizer)
        start = time.perf_counter()
        trainer.train()
        train_s = time.perf_counter() - start

        def outputs(cols):
            return trainer.predict(as_dataset(cols)).predictions

        if task == "stsb":
            a, b, scores = stsb_rows(spec["test"])
            return {"train_seconds": train_s,
                    **correlations(scores, outputs({"text": a, "pair": b, "labels": scores})[:, 0].tolist())}
        dev_texts, dev_gold = goemotions_rows(spec["dev"])
        test_texts, test_gold = goemotions_rows(spec["test"])
        dev_p = 1 / (1 + np.exp(-outputs({"text": dev_texts, "labels": hot(dev_gold)})))
        test_p = 1 / (1 + np.exp(-outputs({"text": test_texts, "labels": hot(test_gold)})))
        grid = np.arange(0.05, 0.951, 0.01)
        dev_y = np.asarray(hot(dev_gold)) > 0
        thresholds = []
        for j in range(len(tags)):  # per tag, the grid threshold with the best dev F1
            pred = dev_p[:, j][None, :] >= grid[:, None]
            tp = (pred & dev_y[:, j]).sum(1)
            f1 = 2 * tp / np.maximum(pred.sum(1) + dev_y[:, j].sum(), 1)
            thresholds.append(float(grid[int(np.argmax(f1))]))
        sets = lambda p, th: [{t for j, t in enumerate(tags) if row[j] >= th[j]} for row in p]  # noqa: E731
        tuned = set_f1(test_gold, sets(test_p, thresholds), tags)
        fixed = set_f1(test_gold, sets(test_p, [0.5] * len(tags)), tags)
        return {"train_seconds": train_s, **tuned, "macro_f1_at_0.5": fixed["macro_f1"],
                "micro_f1_at_0.5": fixed["micro_f1"]}


# --- the parent -------------------------------------------------------------------------------------

def render(payload: dict[str, Any]) -> str:
    lines = [f"Task quality ({payload['model']}, {payload['epochs']} epochs, rows: "
             f"{payload['max_rows'] or 'all'})", ""]
    for task, variants in payload["results"].items():
        lines.append(f"{task}:")
        for variant, r in variants.items():
            shown = {k: v for k, v in r.items() if isinstance(v, float) and k != "train_seconds"}
            numbers = ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
            lines.append(f"  {variant:8s} train {r['train_seconds'] / 60:.1f} min; {numbers}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO_ROOT.parent / "shared" / "models" / "minilm-l6-h384-uncased"))
    parser.add_argument("--tasks", default="goemotions,stsb")
    parser.add_argument("--variants", default="engine,trainer")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--engine-flag", action="append", default=[],
                        help="an extra `bertstudio train` argument for the engine (repeat it)")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "TASK"), help=argparse.SUPPRESS)
    parser.add_argument("--save", default=None, help="folder for task_quality.json/.txt")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.model = str(Path(args.model).resolve())
    if args.child:
        variant, task = args.child
        runners = {"engine": run_engine, "trainer": run_trainer,
                   "trainer-mean": lambda t, a: run_trainer(t, a, pooling="mean"),
                   "trainer-cls-weighted": lambda t, a: run_trainer(t, a, pooling="cls", weighted=True),
                   "trainer-mean-weighted": lambda t, a: run_trainer(t, a, pooling="mean", weighted=True)}
        report_result(runners[variant](task, args))
        return 0
    results: dict[str, dict[str, Any]] = {}
    for task in args.tasks.split(","):
        for variant in args.variants.split(","):
            child = [str(Path(__file__).resolve()), "--child", variant, task, "--model", args.model,
                     "--epochs", str(args.epochs)] + (["--max-rows", str(args.max_rows)] if args.max_rows else [])
            child += [f"--engine-flag={flag}" for flag in args.engine_flag]
            results.setdefault(task, {})[variant] = run_child(child)
            print(f"{task} {variant}: {json.dumps(results[task][variant])}", file=sys.stderr, flush=True)
    payload = {"model": Path(args.model).name, "epochs": args.epochs, "max_rows": args.max_rows,
               "machine": machine(), "results": results}
    publish(args, f"task_quality_{args.tasks.replace(',', '_')}", payload, render(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
