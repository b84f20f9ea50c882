import csv
import json
import math

import pytest
import torch

from bertstudio.config import TrainConfig
from bertstudio.events import CallbackSink, read_events
from bertstudio.training.trainer import StopControl, train
from conftest import LEARNABLE_SETTINGS


def quick_config(tmp_path, data, model, **changes):
    settings = dict(data=str(data), model=str(model), output_dir=str(tmp_path / "runs"), logging_steps=2,
                    seed=7, **LEARNABLE_SETTINGS)
    settings.update(changes)
    return TrainConfig(**settings)


def test_tiny_model_learns_a_learnable_task_far_above_chance(tmp_path, tiny_model_dir, learnable_csv):
    events = []
    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir), sink=CallbackSink(events.append))
    assert result.status == "finished", result.message
    assert result.metrics["accuracy"] > 0.85  # three balanced classes: chance is 0.33
    kinds = [e.type for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert "step" in kinds and "evaluation" in kinds and "checkpoint" in kinds
    steps = [e for e in events if e.type == "step"]
    assert steps[-1].step == steps[-1].total_steps and all(math.isfinite(e.loss) for e in steps)
    assert steps[-1].samples_per_second > 0 and steps[-1].tokens_per_second > 0


def test_run_folder_describes_itself(tmp_path, tiny_model_dir, learnable_csv):
    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1))
    run = tmp_path / "runs" / result.run_dir.split("/")[-1]
    for name in ("config.json", "data.json", "environment.json", "events.jsonl", "metrics.json",
                 "README.md", "validation_predictions.csv", "model/config.json", "model/model.safetensors",
                 "model/tokenizer.json"):
        assert (run / name).exists(), name
    config = TrainConfig.load(run / "config.json")
    assert config.data == str(learnable_csv.resolve())
    data = json.loads((run / "data.json").read_text())
    assert data["labels"] == ["negative", "neutral", "positive"] and len(data["fingerprint"]) == 64
    assert data["train_size"] + data["validation_size"] == 300
    environment = json.loads((run / "environment.json").read_text())
    assert {"python", "torch", "transformers", "accelerate", "datasets", "device", "precision", "seed"} <= set(environment)
    model_config = json.loads((run / "model/config.json").read_text())
    assert model_config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    rows = list(csv.DictReader(open(run / "validation_predictions.csv", encoding="utf-8")))
    assert len(rows) == data["validation_size"] and set(rows[0]) == {"text", "gold", "predicted", "confidence"}
    card = (run / "README.md").read_text()
    assert "bertstudio train --config" in card and "| negative |" in card
    events, _ = read_events(run / "events.jsonl")
    assert events[-1].type == "finished"
    # The config says "auto"; the log says what the data made of it.
    assert config.task == "auto" and events[0].type == "started" and events[0].task == "single_label"
    assert not list(run.rglob("*.tmp"))


def test_same_seed_gives_identical_metrics(tmp_path, tiny_model_dir, learnable_csv):
    first = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1))
    second = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1))
    assert first.run_dir != second.run_dir
    for key in ("accuracy", "macro_f1", "loss"):
        assert first.metrics[key] == second.metrics[key]


def test_stop_request_ends_the_run_after_the_current_step_and_keeps_the_model(tmp_path, tiny_model_dir, learnable_csv):
    stop = StopControl()
    events = []

    def on_event(event):
        events.append(event)
        if event.type == "step" and event.step >= 2:
            stop.request()

    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=5), sink=CallbackSink(on_event),
                   stop=stop)
    assert result.status == "stopped"
    assert events[-1].type == "stopped" and events[-1].step == 2
    assert (tmp_path / "runs" / result.run_dir.split("/")[-1] / "model" / "model.safetensors").exists()


def test_nan_loss_stops_the_run_and_names_the_likely_causes(tmp_path, tiny_model_dir, learnable_csv):
    def poisoned_step(model, batch):
        return model(**batch).loss * float("nan")

    events = []
    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1), sink=CallbackSink(events.append),
                   train_step=poisoned_step)
    assert result.status == "failed" and not result.mistake
    assert "NaN" in result.message and "learning rate" in result.message
    assert events[-1].type == "failed"


def test_out_of_memory_retries_with_half_the_batch_and_same_effective_batch(tmp_path, tiny_model_dir, learnable_csv):
    seen_batches = []

    def step_that_runs_out_of_memory_on_big_batches(model, batch):
        seen_batches.append(batch["input_ids"].shape[0])
        if batch["input_ids"].shape[0] > 8:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return model(**batch).loss

    events = []
    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1, batch_size=16),
                   sink=CallbackSink(events.append), train_step=step_that_runs_out_of_memory_on_big_batches)
    assert result.status == "finished"
    notices = [e for e in events if e.type == "notice"]
    assert notices and "batch size 8" in notices[0].message and "accumulation 2" in notices[0].message
    assert max(seen_batches[1:]) <= 8


def test_early_stopping_ends_a_run_that_stops_improving(tmp_path, tiny_model_dir, learnable_csv):
    # A learning rate of ~0 means nothing improves after the first evaluation.
    config = quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=10, learning_rate=1e-6,
                          eval_strategy="steps", eval_steps=2, early_stopping_patience=2, metric_for_best="accuracy")
    events = []
    result = train(config, sink=CallbackSink(events.append))
    assert result.status == "finished" and events[-1].stopped_early
    assert sum(e.type == "evaluation" for e in events) < 10


def test_a_bad_column_fails_as_a_run_folder_with_its_sentence_like_every_other_failure(tmp_path, tiny_model_dir,
                                                                                       learnable_csv):
    from pathlib import Path

    from bertstudio.runs.folder import read_run

    events = []
    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, label_column="nope"),
                   sink=CallbackSink(events.append))
    assert result.status == "failed" and "'nope'" in result.message and result.mistake
    assert [e.type for e in events] == ["failed"] and events[0].message == result.message
    record = read_run(result.run_dir)
    assert record.status == "failed" and record.failure == result.message and record.config.label_column == "nope"
    assert not record.resumable and not (Path(result.run_dir) / "process.json").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 runs on this machine's GPU")
def test_a_precision_the_device_lacks_fails_as_a_run_folder_too(tmp_path, tiny_model_dir, learnable_csv):
    from bertstudio.runs.folder import list_runs

    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, precision="fp16"))
    assert result.status == "failed" and result.message.startswith("fp16 precision needs an NVIDIA GPU")
    assert result.mistake
    (record,) = list_runs(tmp_path / "runs")
    assert record.status == "failed" and record.failure == result.message


def test_auto_precision_is_bf16_on_new_gpus_fp16_on_old_gpus_and_on_the_cpu_only_with_native_bf16():
    from bertstudio.training.trainer import resolve_precision

    assert resolve_precision("auto", cuda=True, cuda_bf16=True) == "bf16"
    assert resolve_precision("auto", cuda=True, cuda_bf16=False) == "fp16"
    assert resolve_precision("auto", cuda=False, cpu_bf16=False) == "no"
    assert resolve_precision("auto", cuda=False, cpu_bf16=True) == "bf16"
    assert resolve_precision("fp32", cuda=True, cuda_bf16=True) == "no"
    assert resolve_precision("bf16", cuda=False) == "bf16"


def test_precisions_the_device_cannot_run_are_refused_with_what_to_choose_instead():
    from bertstudio.errors import StudioError
    from bertstudio.training.trainer import resolve_precision

    with pytest.raises(StudioError, match="fp16 precision needs an NVIDIA GPU; choose 'auto'"):
        resolve_precision("fp16", cuda=False)
    with pytest.raises(StudioError, match="does not support bf16; choose 'auto' or 'fp16'"):
        resolve_precision("bf16", cuda=True, cuda_bf16=False)


def test_adamw_is_fused_on_gpus_and_cpus_and_leaves_biases_and_layernorm_undecayed(tiny_model_dir):
    from bertstudio.models import load_classifier
    from bertstudio.training.optimizer import build_optimizer

    model = load_classifier(str(tiny_model_dir), ["a", "b"])
    config = TrainConfig(weight_decay=0.05)
    for device in ("cuda", "cpu"):  # the CUDA choice is checked here too; its step needs a GPU
        optimizer = build_optimizer(model, config, torch.device(device))
        assert optimizer.defaults["fused"] is True
    decayed, plain = optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decayed["weight_decay"] == 0.05 and plain["weight_decay"] == 0.0
    assert all("bias" in names[id(p)] or "LayerNorm" in names[id(p)] for p in plain["params"])
    assert any(names[id(p)].endswith("query.weight") for p in decayed["params"])
    # The fused CPU kernel really runs: one step moves the weights.
    before = model.classifier.weight.detach().clone()
    model(input_ids=torch.tensor([[2, 5, 6, 3]]), labels=torch.tensor([1])).loss.backward()
    optimizer.step()
    assert not torch.equal(before, model.classifier.weight)


def test_cpu_runs_train_with_the_fast_dropout_and_save_an_ordinary_model(tmp_path, tiny_model_dir, learnable_csv):
    from transformers import AutoModelForSequenceClassification

    from bertstudio.training.fast_dropout import ATTENTION_NAME, FastDropout
    from bertstudio.training.trainer import default_train_step

    seen = []

    def watching_step(model, batch):
        seen.append((model.config._attn_implementation, sum(type(m) is FastDropout for m in model.modules())))
        return default_train_step(model, batch)

    result = train(quick_config(tmp_path, learnable_csv, tiny_model_dir, epochs=1), train_step=watching_step)
    assert result.status == "finished"
    assert seen and all(name == ATTENTION_NAME and swapped > 0 for name, swapped in seen)
    saved = AutoModelForSequenceClassification.from_pretrained(f"{result.run_dir}/model")
    assert saved.config._attn_implementation == "sdpa"
    assert not any(type(m) is FastDropout for m in saved.modules())
