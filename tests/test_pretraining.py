"""Continued pretraining (task masked_lm): its texts, its batches, a loss that falls, stop and
resume, the step limit, the CLI, and the chain into fine-tuning."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import prepare_data
from bertstudio.errors import StudioError
from bertstudio.events import CallbackSink, Evaluation, read_events
from bertstudio.runs.lineage import pretraining_run_of, validation_leak
from bertstudio.tasks.masked_lm import IGNORED
from bertstudio.tasks.registry import get_task
from bertstudio.training.trainer import StopControl, train

REPO = Path(__file__).resolve().parents[1]


def write_rows(path: Path, header, rows) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def pretrain_config(data, model, tmp_path, **changes) -> TrainConfig:
    settings = dict(data=str(data), model=str(model), task="masked_lm", output_dir=str(tmp_path / "runs"),
                    max_length=32, batch_size=16, learning_rate=2e-3, epochs=2, seed=5, logging_steps=2)
    return TrainConfig(**{**settings, **changes})


# --- which texts ---------------------------------------------------------------------------------

def test_the_rows_fine_tuning_validates_on_are_never_pretrained_on(tmp_path, learnable_csv):
    # Duplicates removed, so a text is in one part of the split only and the sets say it all.
    config = TrainConfig(data=str(learnable_csv), model="bundled", seed=3, validation_split=0.2,
                         remove_duplicates=True)
    fine = prepare_data(config)
    pre = prepare_data(config.replace(task="masked_lm"))
    pretrained = set(pre.train.texts) | set(pre.validation.texts)
    assert pre.task == "masked_lm" and pre.labels == []
    assert not set(fine.validation.texts) & set(fine.train.texts)  # the split itself is clean
    assert not set(fine.validation.texts) & pretrained
    assert set(fine.train.texts) == pretrained
    assert any("left out" in note and "seed 3" in note for note in pre.report.notes)
    # The masked-LM measures itself on texts it never trains on.
    assert not set(pre.train.texts) & set(pre.validation.texts)


def test_a_separate_validation_file_is_never_read_and_extra_files_are(tmp_path, learnable_rows):
    train_file = write_rows(tmp_path / "train.csv", ["text", "label"], learnable_rows[:200])
    valid_file = write_rows(tmp_path / "valid.csv", ["text", "label"], learnable_rows[200:])
    extra = write_rows(tmp_path / "extra.csv", ["body"], [["an unlabelled note about parcels"],
                                                          ["another note about refunds"], [""]])
    config = TrainConfig(data=str(train_file), validation_data=str(valid_file), model="bundled",
                         task="masked_lm", unlabeled_data=[str(extra)])
    data = prepare_data(config)
    texts = set(data.train.texts) | set(data.validation.texts)
    assert not texts & {row[0] for row in learnable_rows[200:]} - {row[0] for row in learnable_rows[:200]}
    assert {"an unlabelled note about parcels", "another note about refunds"} <= texts
    assert len(texts | set()) == len(set(row[0] for row in learnable_rows[:200]) | {
        "an unlabelled note about parcels", "another note about refunds"})


def test_a_file_of_texts_only_is_read_whole(tmp_path):
    texts = [[f"note number {i} about the weather"] for i in range(40)]
    path = write_rows(tmp_path / "notes.csv", ["note"], texts)
    data = prepare_data(TrainConfig(data=str(path), model="bundled", task="masked_lm"))
    assert len(data.train) + len(data.validation) == 40
    assert any("every row" in note for note in data.report.notes)


def test_named_labels_that_cannot_be_used_are_told_not_read_around(tmp_path, learnable_csv):
    with pytest.raises(StudioError, match="nope"):
        prepare_data(TrainConfig(data=str(learnable_csv), model="bundled", task="masked_lm",
                                 label_column="nope"))


# --- the batches ---------------------------------------------------------------------------------

def make_collator(tiny_model_dir, epoch=0, **settings):
    from bertstudio.models import load_tokenizer

    config = TrainConfig(model=str(tiny_model_dir), task="masked_lm", **settings)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    state = {"epoch": epoch}
    collate = get_task("masked_lm").collator(tokenizer, 1, config, epoch_of=lambda: state["epoch"])
    return tokenizer, collate, state


def rows_of(tokenizer, texts):
    return [{"index": i, "input_ids": tokenizer(text)["input_ids"], "token_type_ids": [0] * len(tokenizer(text)["input_ids"]),
             "labels": None} for i, text in enumerate(texts)]


def test_masks_depend_on_seed_epoch_and_row_only(tiny_model_dir):
    tokenizer, collate, state = make_collator(tiny_model_dir)
    texts = ["the delivery was wonderful and the service excellent"] * 4 + ["a short one"]
    rows = rows_of(tokenizer, texts)
    first = collate(rows)
    again = collate(list(reversed(rows)))  # another order: each row masks the same
    order = torch.argsort(again["index"])
    assert torch.equal(first["labels"], again["labels"][order])
    assert torch.equal(first["input_ids"], again["input_ids"][order])
    # Identical texts at different rows get different masks; the next epoch masks afresh.
    assert not all(torch.equal(first["labels"][0], first["labels"][i]) for i in range(1, 4))
    state["epoch"] = 1
    assert not torch.equal(collate(rows)["labels"], first["labels"])


def test_labels_hold_the_original_ids_exactly_where_tokens_were_chosen(tiny_model_dir):
    tokenizer, collate, _ = make_collator(tiny_model_dir)
    rows = rows_of(tokenizer, ["the delivery was wonderful", "an ordinary plain usual typical order came today"])
    batch = collate(rows)
    special = set(tokenizer.all_special_ids)
    for i, row in enumerate(rows):
        ids, labels = row["input_ids"], batch["labels"][i]
        chosen = (labels != IGNORED).nonzero().flatten().tolist()
        assert chosen, "every row with words hides at least one token"
        assert all(ids[p] not in special for p in chosen)
        assert all(labels[p].item() == ids[p] for p in chosen)
        assert (labels[len(ids):] == IGNORED).all()  # padding is never a target
        unchosen = [p for p in range(len(ids)) if p not in chosen]
        assert all(batch["input_ids"][i, p].item() == ids[p] for p in unchosen)


def test_the_head_on_hidden_tokens_only_gives_the_full_models_loss(tiny_model_dir):
    from bertstudio.models import load_masked_lm

    torch.manual_seed(0)
    model = load_masked_lm(str(tiny_model_dir)).eval()
    tokenizer, collate, _ = make_collator(tiny_model_dir)
    batch = collate(rows_of(tokenizer, ["the delivery was wonderful and on time", "my order felt typical"]))
    targets = batch.pop("labels")
    inputs = {k: v for k, v in batch.items() if k not in ("index", "num_tokens")}
    task = get_task("masked_lm")
    with torch.no_grad():
        ours = task.train_loss(model, inputs, targets, None)
        reference = model(**inputs, labels=targets).loss
        loss_sum, hidden, correct = task.eval_outputs(model, inputs, targets, None)
    assert torch.allclose(ours, reference, atol=1e-5)
    assert torch.allclose(loss_sum.sum() / hidden.sum(), reference, atol=1e-5)
    assert hidden.tolist() == (targets != IGNORED).sum(1).float().tolist()


# --- runs ----------------------------------------------------------------------------------------

@pytest.fixture
def repetitive_csv(tmp_path):
    """Texts a tiny random model can learn to fill in: a few fixed sentences, repeated."""
    sentences = ["the parcel arrived late again", "the refund came after two weeks",
                 "my order was wonderful and on time", "the support team never answered"]
    rows = [[sentences[i % 4], ["late", "refund", "good", "support"][i % 4]] for i in range(160)]
    return write_rows(tmp_path / "repetitive.csv", ["text", "label"], rows)


@pytest.mark.slow
def test_a_tiny_models_masked_lm_loss_falls_and_the_run_folder_says_what_it_is(tmp_path, tiny_model_dir,
                                                                             repetitive_csv):
    events = []
    result = train(pretrain_config(repetitive_csv, tiny_model_dir, tmp_path, epochs=6),
                   sink=CallbackSink(events.append))
    assert result.status == "finished", result.message
    losses = [e.metrics["loss"] for e in events if isinstance(e, Evaluation)]
    assert len(losses) == 6 and losses[-1] < 0.6 * losses[0], losses
    run = Path(result.run_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["perplexity"] == pytest.approx(2.718281828 ** metrics["loss"], rel=1e-6)
    model_config = json.loads((run / "model" / "config.json").read_text())
    assert model_config["architectures"] == ["BertForMaskedLM"] and model_config["bertstudio_task"] == "masked_lm"
    card = (run / "README.md").read_text()
    assert "continued masked-language-model pretraining" in card and "perplexity" in card
    data = json.loads((run / "data.json").read_text())
    assert data["task"] == "masked_lm" and data["train_size"] + data["validation_size"] <= 160


@pytest.mark.slow
def test_pretrain_then_fine_tune_from_the_run_folder(tmp_path, tiny_model_dir, repetitive_csv):
    adapted = train(pretrain_config(repetitive_csv, tiny_model_dir, tmp_path, epochs=1))
    assert adapted.status == "finished"
    assert pretraining_run_of(adapted.run_dir)[0] == Path(adapted.run_dir).resolve()
    assert pretraining_run_of(str(tiny_model_dir)) is None
    events = []
    fine = train(TrainConfig(data=str(repetitive_csv), model=adapted.run_dir, output_dir=str(tmp_path / "runs"),
                             max_length=32, batch_size=16, learning_rate=1e-3, epochs=2, seed=5),
                 sink=CallbackSink(events.append))
    assert fine.status == "finished", fine.message
    assert "macro_f1" in fine.metrics
    assert not [e for e in events if e.type == "notice" and "adapted" in e.message]  # same split: honest
    saved = json.loads((Path(fine.run_dir) / "model" / "config.json").read_text())
    assert saved["architectures"] == ["BertForSequenceClassification"]
    # Another seed validates on rows the adaptation read: the run says so.
    events.clear()
    other = train(TrainConfig(data=str(repetitive_csv), model=adapted.run_dir, output_dir=str(tmp_path / "runs"),
                              max_length=32, batch_size=16, epochs=1, seed=6), sink=CallbackSink(events.append))
    assert other.status == "finished"
    assert [e for e in events if e.type == "notice" and "seed 5" in e.message and "seed 6" in e.message]


def test_validation_leak_is_told_only_when_the_split_differs():
    adapted = TrainConfig(data="/data/a.csv", seed=5, task="masked_lm")
    assert validation_leak(TrainConfig(data="/data/a.csv", seed=5), adapted) is None
    assert validation_leak(TrainConfig(data="/data/b.csv", seed=9), adapted) is None
    assert validation_leak(TrainConfig(data="/data/a.csv", seed=5, validation_data="/data/v.csv",
                                       validation_split=0.3), adapted) is None
    assert "seed 5" in validation_leak(TrainConfig(data="/data/a.csv", seed=5, validation_split=0.2), adapted)


@pytest.mark.slow
def test_a_step_limit_ends_the_run_mid_epoch_and_stop_keeps_the_model(tmp_path, tiny_model_dir, repetitive_csv):
    limited = train(pretrain_config(repetitive_csv, tiny_model_dir, tmp_path, epochs=1, max_steps=13))
    assert limited.status == "finished" and limited.metrics["steps"] == 13  # 9 steps per epoch: into the 2nd
    events, _ = read_events(Path(limited.run_dir) / "events.jsonl")
    assert [e for e in events if e.type == "started"][0].total_steps == 13

    stop = StopControl()

    def stop_at_step_3(event):
        if event.type == "step" and event.step >= 3:
            stop.request()
    stopped = train(pretrain_config(repetitive_csv, tiny_model_dir, tmp_path, epochs=3, logging_steps=1),
                    sink=CallbackSink(stop_at_step_3), stop=stop)
    assert stopped.status == "stopped" and stopped.metrics["steps"] == 3
    assert (Path(stopped.run_dir) / "model" / "model.safetensors").is_file()


@pytest.mark.slow
def test_a_killed_pretraining_run_resumes_to_identical_metrics(tmp_path, tiny_model_dir, repetitive_csv):
    from test_resume import kill_after_first_checkpoint

    config = pretrain_config(repetitive_csv, tiny_model_dir, tmp_path, epochs=3, eval_strategy="steps",
                             eval_steps=7)
    reference = train(config.replace(output_dir=str(tmp_path / "reference")))
    run_dir = kill_after_first_checkpoint(config, tmp_path)
    resumed = train(TrainConfig.load(run_dir / "config.json"), resume_from=run_dir)
    assert resumed.status == "finished"
    for key in ("loss", "perplexity", "accuracy"):
        assert resumed.metrics[key] == reference.metrics[key], key


@pytest.mark.slow
def test_the_pretrain_command_prints_the_run_and_predict_refuses_it_in_plain_words(tmp_path, tiny_model_dir,
                                                                                  repetitive_csv):
    extra = write_rows(tmp_path / "extra.csv", ["text"], [["more words about parcels"]] * 5)
    env = {"HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "bertstudio", "pretrain", "--data", str(repetitive_csv),
                           "--model", str(tiny_model_dir), "--unlabeled-data", str(extra), "--max-steps", "3",
                           "--max-length", "32", "--output-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "masked_lm" and config["unlabeled_data"] == [str(extra)]
    refused = subprocess.run([sys.executable, "-m", "bertstudio", "predict", "--model", str(run_dir),
                              "--text", "hello"], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "fine-tune it first" in refused.stderr
    assert "Traceback" not in refused.stderr


# --- "Adapt the model to my texts first" -----------------------------------------------------------

@pytest.mark.slow
def test_adapt_first_pretrains_its_own_linked_run_then_fine_tunes_its_model(tmp_path, tiny_model_dir,
                                                                           repetitive_csv):
    from bertstudio.training.adaptation import ADAPTATION_FILE

    config = TrainConfig(data=str(repetitive_csv), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                         max_length=32, batch_size=16, learning_rate=1e-3, epochs=1, seed=5, adapt_epochs=2,
                         run_name="tickets")
    events = []
    result = train(config, sink=CallbackSink(events.append))
    assert result.status == "finished", result.message
    run = Path(result.run_dir)
    record = json.loads((run / ADAPTATION_FILE).read_text())
    adapted_run = Path(record["run_dir"])
    assert record["status"] == "finished" and adapted_run != run and adapted_run.parent == run.parent
    adapted_config = json.loads((adapted_run / "config.json").read_text())
    assert adapted_config["task"] == "masked_lm" and adapted_config["epochs"] == 2
    assert adapted_config["adapt_epochs"] == 0 and adapted_config["seed"] == 5
    # The fine-tuning run's config keeps the base model: re-running it adapts again.
    assert json.loads((run / "config.json").read_text())["model"] == str(tiny_model_dir)
    # Its own log tells the adaptation's progress, before its own start.
    adaptation = [e for e in events if e.type == "adaptation"]
    phases = [e.phase for e in adaptation]
    assert phases[0] == "started" and phases[-1] == "finished" and phases.count("evaluation") == 2
    assert all(e.run_dir == str(adapted_run) for e in adaptation)
    logged, _ = read_events(run / "events.jsonl")
    assert [e.type for e in logged].index("adaptation") < [e.type for e in logged].index("started")
    assert not [e for e in events if e.type == "notice" and "flatter" in e.message]


def test_adaptation_settings_follow_the_fine_tuning_split():
    from bertstudio.training.adaptation import adaptation_config

    base = TrainConfig(data="/d.csv", seed=9, validation_split=0.2, max_rows=300, adapt_epochs=4, epochs=7,
                       early_stopping_patience=2, metric_for_best="accuracy", max_steps=50)
    adapted = adaptation_config(base)
    assert (adapted.task, adapted.epochs, adapted.adapt_epochs, adapted.max_steps) == ("masked_lm", 4, 0, None)
    assert (adapted.seed, adapted.validation_split, adapted.max_rows) == (9, 0.2, 300)
    assert adapted.metric_for_best == "auto" and adapted.early_stopping_patience == 0
    assert validation_leak(base, adapted) is None
    adapted.validate()
