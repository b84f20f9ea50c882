"""bertstudio/recommend.py: the measured rules at their boundaries, and a model's size from its config alone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bertstudio.recommend import (SMALL_FILE_ROWS, SMALL_MODEL_PARAMETERS, Recommendation, count_parameters,
                                  parameters_from_config, recommend)

from tests.conftest import BUNDLED

MINILM_PARAMETERS = 22_713_216  # /work/shared/models/minilm-l6-h384-uncased, counted from its weights
BUNDLED_PARAMETERS = 1_297_280


# --- counting ------------------------------------------------------------------------------------

def test_bundled_count_matches_the_parameters_in_its_weights():
    from transformers import BertModel

    model = BertModel.from_pretrained(BUNDLED)
    assert count_parameters("bundled") == sum(p.numel() for p in model.parameters()) == BUNDLED_PARAMETERS


def test_a_tiny_model_folder_counts_exactly(tiny_model_dir):
    from transformers import BertModel

    model = BertModel.from_pretrained(tiny_model_dir)
    assert count_parameters(str(tiny_model_dir)) == sum(p.numel() for p in model.parameters())


def test_a_run_folder_is_counted_from_its_model_subfolder(tmp_path):
    (tmp_path / "model").mkdir()
    shutil.copy(BUNDLED / "config.json", tmp_path / "model" / "config.json")
    (tmp_path / "config.json").write_text(json.dumps({"learning_rate": 5e-5}))  # the run's TrainConfig
    assert count_parameters(str(tmp_path)) == BUNDLED_PARAMETERS


def test_minilm_sized_config_counts_22_7_million():
    config = {"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536, "vocab_size": 30522,
              "max_position_embeddings": 512, "type_vocab_size": 2}
    assert parameters_from_config(config) == MINILM_PARAMETERS


def test_distilbert_config_counts_its_66_million():
    config = {"dim": 768, "n_layers": 6, "hidden_dim": 3072, "vocab_size": 30522, "max_position_embeddings": 512}
    assert parameters_from_config(config) == 66_362_880  # distilbert-base-uncased's published count


@pytest.mark.parametrize("model", ["someone/not-in-the-cache", "no-such-model-anywhere", "", "   ", "a/b/c"])
def test_hub_id_not_in_the_cache_is_unknown_offline(model, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # and the test machine has no network: nothing to fetch
    assert count_parameters(model) is None


def test_folder_without_config_or_with_broken_config_is_unknown(tmp_path):
    assert count_parameters(str(tmp_path)) is None
    (tmp_path / "config.json").write_text("{not json")
    assert count_parameters(str(tmp_path)) is None
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 768}))
    assert count_parameters(str(tmp_path)) is None


def test_counting_imports_neither_torch_nor_transformers():
    code = ("import sys; from bertstudio.recommend import count_parameters, recommend; "
            "count_parameters('bundled'); recommend(500, 1_000_000); "
            "print('torch' in sys.modules or 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- the rules ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [1, 200, 1_000, SMALL_FILE_ROWS])
def test_bert_sized_model_on_a_small_file_gets_1e_4_and_10_epochs_with_early_stopping(rows):
    rec = recommend(rows, MINILM_PARAMETERS)
    assert (rec.learning_rate, rec.epochs, rec.early_stopping_patience, rec.keep_best) == (1e-4, 10, 2, True)
    assert f"{rows:,} rows: 10 epochs with early stopping" in rec.reasons["epochs"]


def test_just_past_the_measured_sizes_the_defaults_stand():
    rec = recommend(SMALL_FILE_ROWS + 1, MINILM_PARAMETERS)
    assert (rec.learning_rate, rec.epochs, rec.early_stopping_patience) == (5e-5, 3, 0)
    assert "not measured" in rec.reasons["epochs"]


@pytest.mark.parametrize("rows", [200, 50_000])
def test_a_small_model_gets_1e_3_at_every_size(rows):
    rec = recommend(rows, SMALL_MODEL_PARAMETERS - 1)
    assert (rec.learning_rate, rec.epochs, rec.early_stopping_patience) == (1e-3, 10, 2)
    assert "small model" in rec.reasons["learning_rate"]


def test_the_size_line_sits_between_the_measured_models():
    assert BUNDLED_PARAMETERS < SMALL_MODEL_PARAMETERS < MINILM_PARAMETERS
    assert recommend(500, SMALL_MODEL_PARAMETERS).learning_rate == 1e-4
    assert recommend(500, count_parameters("bundled")).learning_rate == 1e-3


def test_unknown_size_is_treated_as_a_bert_sized_model():
    assert recommend(500, None) == recommend(500, MINILM_PARAMETERS)


def test_settings_apply_to_a_train_config_and_every_setting_has_a_reason():
    from bertstudio.config import TrainConfig

    rec = recommend(500, None)
    config = TrainConfig(model="bundled").replace(**rec.settings()).validate()
    assert (config.learning_rate, config.epochs, config.early_stopping_patience) == (1e-4, 10, 2)
    assert isinstance(rec, Recommendation) and len(rec.explain()) == 3 and all(rec.explain())


def test_zero_rows_is_refused():
    with pytest.raises(ValueError):
        recommend(0, None)


# --- where the recommendation is applied: the CLI's starting point, the studio's "Recommended" ----

def _train_args(*extra):
    from bertstudio.cli.flags import build_parser

    return build_parser().parse_args(["train", *map(str, extra)])


def test_the_cli_recommends_only_what_the_flags_leave_open(sample_csv):
    from bertstudio.cli.flags import config_from_args, given_settings
    from bertstudio.recommend import with_recommendation

    args = _train_args("--data", sample_csv, "--model", "bundled", "--epochs", "2")
    config, advice = with_recommendation(config_from_args(args), given_settings(args))
    assert advice is not None
    # The bundled model is small: 1e-3 and early stopping; the epochs the flag gave stay.
    assert (config.learning_rate, config.epochs, config.early_stopping_patience) == (1e-3, 2, 2)


def test_every_setting_given_or_an_unreadable_file_leaves_the_config_alone(sample_csv, tmp_path):
    from bertstudio.cli.flags import config_from_args, given_settings
    from bertstudio.recommend import with_recommendation

    args = _train_args("--data", sample_csv, "--model", "bundled", "--epochs", "2", "--learning-rate", "5e-5",
                       "--early-stopping-patience", "0", "--keep-best")
    config = config_from_args(args)
    assert with_recommendation(config, given_settings(args)) == (config, None)
    missing = config_from_args(_train_args("--data", tmp_path / "none.csv", "--model", "bundled"))
    assert with_recommendation(missing, set()) == (missing, None)  # the run itself says the file is missing


def test_a_cli_run_records_and_says_the_recommended_settings(sample_csv, tmp_path, capsys):
    """The real command: the reasons on stderr, the values in config.json (so --config re-runs it)."""
    from bertstudio.cli import main

    code = main(["train", "--data", str(sample_csv), "--model", "bundled", "--epochs", "1", "--max-rows", "60",
                 "--max-length", "32", "--output-dir", str(tmp_path / "runs")])
    out, err = capsys.readouterr()
    assert code == 0 and "recommended settings" in err and "1e-3" in err
    recorded = json.loads((Path(out.strip().splitlines()[-1]) / "config.json").read_text())
    assert (recorded["learning_rate"], recorded["epochs"], recorded["early_stopping_patience"]) == (1e-3, 1, 2)


def test_no_recommended_settings_keeps_the_built_in_defaults(sample_csv):
    from bertstudio.cli.flags import config_from_args

    args = _train_args("--data", sample_csv, "--model", "bundled", "--no-recommended-settings")
    assert args.recommended_settings is False and config_from_args(args).learning_rate == 5e-5


def test_the_recommended_preset_follows_the_file_and_says_why(sample_csv):
    from bertstudio.config import TrainConfig
    from bertstudio.data.dataset import prepare_data
    from bertstudio.ui import presets

    prepared = prepare_data(TrainConfig(data=str(sample_csv)))
    rows = presets.labelled_rows(prepared)
    assert rows == prepared.report.train_size + prepared.report.validation_size
    before = presets.preset_values("Recommended", "bundled")
    after = presets.preset_values("Recommended", "bundled", rows=rows)
    assert before["learning_rate"] == 5e-4 and (after["learning_rate"], after["epochs"]) == (1e-3, 10)
    assert presets.preset_values("Quick try", "bundled", rows=rows) == presets.preset_values("Quick try", "bundled")
    assert presets.preset_values("Recommended", "bundled", max_epochs=4, rows=rows)["epochs"] == 4
    text = presets.preset_help("bundled", rows=rows)
    assert f"measured for {rows:,} rows" in text and "Why Recommended sets these for your file" in text
    assert f"{rows:,} rows: 10 epochs with early stopping" in text
    assert "follows your file once" in presets.preset_help("bundled")
