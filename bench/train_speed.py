"""Training speed, side by side: BERT Studio's engine against Hugging Face's Trainer, tuned and naive.

    python bench/train_speed.py --model ../shared/models/minilm-l6-h384-uncased \
        --data ../shared/data/sst2/train.tsv --rows 8000 --epochs 1 [--json] [--save bench/results]

Three variants train the same seeded sample of rows, split the same way (bertstudio.data.dataset.
prepare_data), tokenized the same way (max_length, truncation at the end of the text), with the
same hyperparameters (the TrainConfig defaults: lr, batch, warmup, weight decay, clipping, seed):

  engine         bertstudio.training.trainer.train, as `bertstudio train` runs it
  trainer-tuned  transformers.Trainer set up by an expert: dynamic padding to a multiple of 8,
                 train_sampling_strategy="group_by_length", fused AdamW, a 2x evaluation batch,
                 bf16 exactly where the engine uses it
  trainer-naive  the tutorial script: the tokenizer pads every row to max_length
  engine-all-rows  the engine with --embedding-updates all_rows: every word-embedding row updated
                 every step, as the Trainer does (the engine's default on the CPU updates the rows
                 a batch uses, training/row_updates.py)

Each run is a fresh subprocess (its own peak memory and thread pools); the runs go A-B-C-C-B-A so
machine noise lands on every variant alike, and the report gives the mean of the repeats. This is
a script, never a timed test.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (abba_order, machine, mean_of, peak_memory_mib, report_result, run_child,  # noqa: E402
                          publish)

VARIANTS = ("engine", "trainer-tuned", "trainer-naive", "trainer-padfree", "engine-frozen-embeddings",
            "engine-all-rows")
DEFAULT_VARIANTS = VARIANTS[:3]  # padding-free needs flash attention's varlen kernels (a GPU with flash-attn)
STEADY_SKIP = 0.1  # steady state leaves out the first 10% of steps (first batch is the longest)


# --- what every variant shares ---------------------------------------------------------------

def bench_config(args: argparse.Namespace, output_dir: str):
    """The run every variant trains: TrainConfig defaults plus the benchmark's size flags."""
    from bertstudio.config import TrainConfig

    return TrainConfig(data=str(Path(args.data).resolve()), model=str(Path(args.model).resolve()),
                       max_rows=args.rows, epochs=args.epochs, max_length=args.max_length, seed=args.seed,
                       precision=args.precision, output_dir=output_dir, run_name="bench").validate()


def engine_precision(config) -> str:
    """What the engine resolves 'auto' to on this machine: the Trainer variants follow it."""
    from bertstudio.training.trainer import resolve_precision

    return resolve_precision(config.precision)


class Clock:
    """Timestamps of optimizer steps and how many token slots (real + padding) the model saw."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.train_begin: float | None = None
        self.step_times: dict[int, float] = {}
        # CPU seconds of this process at the same moments: on a busy shared machine they show the
        # work a variant did, which wall time mixes with waiting for a core.
        self.cpu_begin: float | None = None
        self.step_cpu: dict[int, float] = {}
        self.first_step_done: float | None = None
        self.slots = 0

    def since_start(self, t: float | None) -> float | None:
        return None if t is None else t - self.start

    def summary(self, *, total_steps: int, batch_size: int, train_rows: int, epochs: int,
                real_tokens: int, end: float, accuracy: float) -> dict[str, Any]:
        steps = sorted(self.step_times)
        last = steps[-1] if steps else 0
        train_seconds = self.step_times[last] - self.train_begin if steps else float("nan")
        # Steady state: between two logged steps (multiples of 10 on both sides) after the
        # first 10% of steps and before the final, possibly partial, batch.
        first_ok = max(10, math.ceil(STEADY_SKIP * total_steps))
        window = [s for s in steps if s % 10 == 0 and first_ok <= s < total_steps]
        steady = steady_cpu = None
        if len(window) >= 2:
            a, b = window[0], window[-1]
            steady = (b - a) * batch_size / (self.step_times[b] - self.step_times[a])
            steady_cpu = (b - a) * batch_size / (self.step_cpu[b] - self.step_cpu[a])
        return {
            "steady_samples_per_s": steady,
            "e2e_samples_per_s": train_rows * epochs / (end - self.start),
            "real_tokens_per_s": real_tokens * epochs / train_seconds,
            "padded_share": 1 - real_tokens * epochs / self.slots if self.slots else None,
            "first_step_s": self.since_start(self.first_step_done),
            "steady_samples_per_cpu_s": steady_cpu,
            "train_seconds": train_seconds,
            "train_cpu_seconds": self.step_cpu[last] - self.cpu_begin if steps else None,
            "total_seconds": end - self.start,
            "peak_memory_mib": peak_memory_mib(),
            "accuracy": accuracy,
            "steps": last,
        }


def _shared_numbers(config, data, tokenizer) -> dict[str, int]:
    from bertstudio.text.tokenization import encode_examples

    enc = encode_examples(tokenizer, data.train.texts, data.train.pairs, max_length=config.max_length,
                          truncation=config.truncation)
    return {"real_tokens": sum(len(ids) for ids in enc["input_ids"]), "train_rows": len(data.train.labels),
            "total_steps": math.ceil(len(data.train.labels) / config.batch_size) * config.epochs}


# --- the variants (each runs in its own process) -----------------------------------------------

def apply_process_settings(args: argparse.Namespace) -> None:
    """The knobs bench/gpu_speed.py turns, the same in every variant of one comparison: the
    attention kernel every model is loaded with, and torch.compile (Accelerate's dynamo backend
    for the engine, TrainingArguments.torch_compile for the Trainer)."""
    import os

    if args.compile:
        os.environ["ACCELERATE_DYNAMO_BACKEND"] = "INDUCTOR"  # Accelerator() reads it when none is given
    if args.attention:
        from transformers import AutoModelForSequenceClassification

        load = AutoModelForSequenceClassification.from_pretrained.__func__

        def with_attention(cls, *a, **k):
            k.setdefault("attn_implementation", args.attention)
            return load(cls, *a, **k)

        AutoModelForSequenceClassification.from_pretrained = classmethod(with_attention)


def freeze_word_embeddings() -> None:
    """A lever under study, not an engine setting: every model loaded in this process keeps its
    word embeddings as they were (11.7 M of MiniLM's 22.7 M parameters), so backward computes no
    dense gradient for them and AdamW, clipping and zeroing skip them."""
    from transformers import AutoModelForSequenceClassification

    load = AutoModelForSequenceClassification.from_pretrained.__func__

    def frozen(cls, *a, **k):
        model = load(cls, *a, **k)
        model.get_input_embeddings().weight.requires_grad_(False)
        return model

    AutoModelForSequenceClassification.from_pretrained = classmethod(frozen)


def _preimport() -> None:
    """Import what any variant uses before its clock starts, the same set in every variant: the
    clock then measures work, not which library happens to import the most modules lazily."""
    import accelerate  # noqa: F401
    import datasets  # noqa: F401
    import transformers.models.bert.modeling_bert  # noqa: F401
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, Trainer,  # noqa: F401
                              TrainingArguments, get_scheduler)

    import bertstudio.data.dataset  # noqa: F401
    import bertstudio.models  # noqa: F401
    import bertstudio.text.tokenization  # noqa: F401
    import bertstudio.training.trainer  # noqa: F401


def run_engine(args: argparse.Namespace) -> dict[str, Any]:
    _preimport()
    from bertstudio.events import CallbackSink
    from bertstudio.training.trainer import default_train_step, train

    with tempfile.TemporaryDirectory() as runs:
        config = bench_config(args, runs)
        if args.child == "engine-all-rows":
            config = config.replace(embedding_updates="all_rows")
        clock = Clock()
        calls = 0

        def on_event(event) -> None:
            now = time.perf_counter()
            if event.type == "started":
                clock.train_begin, clock.cpu_begin = now, time.process_time()
            elif event.type == "step":
                clock.step_times[event.step], clock.step_cpu[event.step] = now, time.process_time()

        def counting_step(model, batch):
            # The trainer's own extension point: count what reaches the model, then train as usual.
            nonlocal calls
            calls += 1
            if calls == 2:  # the first optimizer step has finished
                clock.first_step_done = time.perf_counter()
            clock.slots += batch["input_ids"].numel()
            return default_train_step(model, batch)

        result = train(config, sink=CallbackSink(on_event), train_step=counting_step)
        end = time.perf_counter()
        if result.status != "finished":
            raise RuntimeError(f"engine run {result.status}: {result.message}")
        from bertstudio.data.dataset import prepare_data
        from bertstudio.models import load_tokenizer
        shared = _shared_numbers(config, prepare_data(config), load_tokenizer(config.model))
        return clock.summary(total_steps=shared["total_steps"], batch_size=config.batch_size,
                             train_rows=shared["train_rows"], epochs=config.epochs,
                             real_tokens=shared["real_tokens"], end=end,
                             accuracy=result.metrics["accuracy"])


def run_trainer(args: argparse.Namespace, tuned: bool, padding_free: bool = False) -> dict[str, Any]:
    _preimport()
    import numpy as np
    import torch
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithFlattening,
                              DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments,
                              default_data_collator)
    import datasets

    with tempfile.TemporaryDirectory() as out:
        config = bench_config(args, out)
        bf16 = engine_precision(config) == "bf16"
        clock = Clock()

        from bertstudio.data.dataset import prepare_data
        data = prepare_data(config)  # the engine's own split: identical rows on both sides
        tokenizer = AutoTokenizer.from_pretrained(config.model)
        padding = "do_not_pad" if tuned else "max_length"

        def tokenize(rows):
            return tokenizer(rows["text"], truncation=True, max_length=config.max_length, padding=padding)

        def as_dataset(examples):
            return datasets.Dataset.from_dict({"text": examples.texts, "label": examples.labels}).map(
                tokenize, batched=True, remove_columns=["text"])

        train_ds, val_ds = as_dataset(data.train), as_dataset(data.validation)
        id2label = dict(enumerate(data.labels))
        torch.manual_seed(config.seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            config.model, num_labels=len(data.labels), id2label=id2label,
            label2id={v: k for k, v in id2label.items()}, dtype=torch.float32)

        if padding_free:  # one row of all the batch's tokens, rows told apart by position_ids
            collator = DataCollatorWithFlattening(return_flash_attn_kwargs=True)
        else:
            collator = (DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8) if tuned
                        else default_data_collator)

        def counting_collator(features):
            batch = collator(features)
            clock.slots += batch["input_ids"].numel() if model.training else 0
            return batch

        class Timing(TrainerCallback):
            def on_train_begin(self, *a, **k):
                clock.train_begin, clock.cpu_begin = time.perf_counter(), time.process_time()

            def on_step_end(self, args_, state, *a, **k):
                now = time.perf_counter()
                clock.step_times[state.global_step] = now
                clock.step_cpu[state.global_step] = time.process_time()
                if state.global_step == 1:
                    clock.first_step_done = now

        total_steps = math.ceil(len(train_ds) / config.batch_size) * config.epochs
        settings = dict(
            output_dir=out, per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size * 2, learning_rate=config.learning_rate,
            num_train_epochs=config.epochs, warmup_steps=int(config.warmup_ratio * total_steps),
            weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm,
            lr_scheduler_type=config.scheduler, seed=config.seed, bf16=bf16,
            use_cpu=not torch.cuda.is_available(), eval_strategy="no", save_strategy="no",
            logging_steps=config.logging_steps, report_to="none", disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available())
        if tuned:
            settings.update(train_sampling_strategy="group_by_length", optim="adamw_torch_fused")
        if args.compile:
            settings.update(torch_compile=True)
        trainer = Trainer(model=model, args=TrainingArguments(**settings), train_dataset=train_ds,
                          data_collator=counting_collator, processing_class=tokenizer,
                          callbacks=[Timing()])
        trainer.train()
        # With group_by_length the eval sampler reorders rows too: score against label_ids.
        if padding_free:  # evaluation batches padded as usual: a flattened batch gives one row of logits
            trainer.data_collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
        prediction = trainer.predict(val_ds)
        accuracy = float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())
        trainer.save_model(str(Path(out) / "model"))
        end = time.perf_counter()
        shared = _shared_numbers(config, data, tokenizer)
        return clock.summary(total_steps=total_steps, batch_size=config.batch_size,
                             train_rows=len(train_ds), epochs=config.epochs,
                             real_tokens=shared["real_tokens"], end=end, accuracy=accuracy)


# --- the parent: order, aggregate, report ---------------------------------------------------------

METRICS = (("steady_samples_per_s", "steady samples/s", "{:.1f}"),
           ("e2e_samples_per_s", "end-to-end samples/s", "{:.1f}"),
           ("steady_samples_per_cpu_s", "steady samples per CPU-second", "{:.1f}"),
           ("real_tokens_per_s", "real tokens/s", "{:.0f}"),
           ("padded_share", "padded tokens", "{:.1%}"),
           ("first_step_s", "first optimizer step (s)", "{:.2f}"),
           ("peak_memory_mib", "peak memory (MiB)", "{:.0f}"),
           ("accuracy", "validation accuracy", "{:.4f}"))


def render(payload: dict[str, Any]) -> str:
    means = payload["means"]
    names = [v for v in payload["variants"] if v in means]
    width = max(len(label) for _, label, _ in METRICS) + 2
    column = max(16, *(len(n) + 2 for n in names))
    lines = [f"{'':<{width}}" + "".join(f"{n:>{column}}" for n in names)]
    for key, label, fmt in METRICS:
        cells = [fmt.format(means[n][key]) if means[n].get(key) is not None else "-" for n in names]
        lines.append(f"{label:<{width}}" + "".join(f"{c:>{column}}" for c in cells))
    lines.append("")
    for name, ratio in payload["ratios"].items():
        steady = ratio["steady_samples_per_s"]
        cpu = ratio["steady_samples_per_cpu_s"]
        lines.append(f"{name}: steady {'-' if steady is None else f'{steady:.2f}x'}, "
                     f"end-to-end {ratio['e2e_samples_per_s']:.2f}x, "
                     f"per CPU-second {'-' if cpu is None else f'{cpu:.2f}x'}, "
                     f"accuracy {ratio['accuracy_points']:+.2f} points")
    m = payload["machine"]
    lines.append("")
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m['gpu'] or 'none'}; "
                 f"torch {m['torch']}, transformers {m.get('transformers')}; load average before "
                 f"{payload['load_before']}, after {payload['load_after']}")
    s = payload["settings"]
    lines.append(f"run: {s['rows']} rows, {s['epochs']} epoch(s), max_length {s['max_length']}, "
                 f"precision {s['precision']}, order {' '.join(payload['order'])}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--rows", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help="comma-separated subset of: " + ", ".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=2, help="passes over the variants (A-B-B-A: 2)")
    parser.add_argument("--json", action="store_true", help="print the JSON record instead of the table")
    parser.add_argument("--save", type=Path, help="also write train_speed.json and .txt to this folder")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                        help="the engine's precision setting (default: its default, auto); the Trainer "
                        "variants use bf16 exactly when the engine does")
    parser.add_argument("--threads", type=int, help="torch threads in every variant (default: torch's "
                        "choice, one per core); 1 makes the CPU-time row a fair gauge on a busy machine")
    parser.add_argument("--attention", choices=("sdpa", "eager", "flash_attention_2"),
                        help="the attention kernel every variant's model uses (default: transformers' choice, sdpa)")
    parser.add_argument("--compile", action="store_true", help="torch.compile in every variant")
    parser.add_argument("--seed", type=int, default=42, help="the run's seed (split, initialisation, order)")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        if args.threads:
            import torch
            torch.set_num_threads(args.threads)
        apply_process_settings(args)
        if args.child == "engine-frozen-embeddings":
            freeze_word_embeddings()
        if args.child.startswith("engine"):
            run = run_engine(args)
        else:
            run = run_trainer(args, args.child != "trainer-naive", padding_free=args.child == "trainer-padfree")
        report_result(run)
        return 0

    import os

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    order = abba_order(variants, args.repeats)
    common = ["--model", args.model, "--data", args.data, "--rows", str(args.rows), "--seed", str(args.seed),
              "--epochs", str(args.epochs), "--max-length", str(args.max_length), "--precision", args.precision]
    if args.threads:
        common += ["--threads", str(args.threads)]
    if args.attention:
        common += ["--attention", args.attention]
    if args.compile:
        common.append("--compile")
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for i, variant in enumerate(order):
        result = run_child([str(Path(__file__).resolve()), *common, "--child", variant])
        runs[variant].append(result)
        print(f"[{i + 1}/{len(order)}] {variant}: steady {result['steady_samples_per_s'] or 0:.1f} samples/s, "
              f"end-to-end {result['e2e_samples_per_s']:.1f} samples/s, accuracy {result['accuracy']:.4f}",
              file=sys.stderr, flush=True)
    means = {v: {key: mean_of(rs, key) for key, _, _ in METRICS} for v, rs in runs.items()}
    for v, rs in runs.items():
        spread = [r["steady_samples_per_s"] for r in rs if r["steady_samples_per_s"]]
        means[v]["steady_spread"] = (max(spread) - min(spread)) / statistics.fmean(spread) if spread else None
    ratios = {}
    for mine in ("engine", "engine-frozen-embeddings", "engine-all-rows"):
        for other in ("trainer-tuned", "trainer-naive", "trainer-padfree", "engine"):
            if mine in means and other in means and other != mine:
                ratios[f"{mine}/{other}"] = {
                    key: means[mine][key] / means[other][key] if means[mine][key] and means[other][key]
                    else None for key in ("steady_samples_per_s", "e2e_samples_per_s", "real_tokens_per_s",
                                          "steady_samples_per_cpu_s")}
                ratios[f"{mine}/{other}"]["accuracy_points"] = 100 * (means[mine]["accuracy"]
                                                                      - means[other]["accuracy"])
    config = bench_config(args, "unused")
    payload = {"settings": {"rows": args.rows, "epochs": args.epochs, "max_length": args.max_length,
                            "threads": args.threads or "default", "attention": args.attention or "default",
                            "compile": args.compile,
                            "model": args.model, "data": args.data, "batch_size": config.batch_size,
                            "learning_rate": config.learning_rate, "warmup_ratio": config.warmup_ratio,
                            "weight_decay": config.weight_decay, "seed": config.seed,
                            "precision": engine_precision(config)},
               "variants": variants, "order": order, "runs": runs, "means": means, "ratios": ratios,
               "machine": machine(), "load_before": load_before,
               "load_after": [round(x, 2) for x in os.getloadavg()]}
    text = render(payload)
    publish(args, "train_speed", payload, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
