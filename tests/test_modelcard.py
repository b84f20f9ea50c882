from bertstudio.config import TrainConfig
from bertstudio.runs.modelcard import render_model_card


def test_card_has_data_metrics_per_class_settings_and_the_reproduce_command():
    config = TrainConfig(model="bert-base-uncased", data="/d/train.csv", epochs=2, output_dir="runs")
    data = {"file_name": "train.csv", "fingerprint": "f" * 64, "labels": ["neg", "pos"],
            "columns": {"text": "review", "text_pair": None, "label": "stars"}, "train_size": 90,
            "validation_size": 10, "report": {"dropped": {"empty text": 3}, "label_counts": {"neg": 50, "pos": 50}}}
    metrics = {"accuracy": 0.9, "macro_f1": 0.89, "loss": 0.3,
               "per_class": {"neg": {"precision": 0.8, "recall": 1.0, "f1": 0.89, "support": 5},
                             "pos": {"precision": 1.0, "recall": 0.8, "f1": 0.89, "support": 5}}}
    card = render_model_card("run-1", config, data, metrics, {"torch": "2.13", "device": "cpu"})
    assert "base_model: bert-base-uncased" in card
    assert "`review`" in card and "`stars`" in card and "3 (empty text)" in card
    assert "| accuracy | 0.9000 |" in card and "| neg | 0.8000 | 1.0000 |" in card
    assert "| Epochs | 2 |" in card and "- torch: 2.13" in card
    assert "bertstudio train --config runs/run-1/config.json" in card


def test_label_names_cannot_break_the_tables():
    card = render_model_card("r", TrainConfig(model="bundled"), {"labels": ["a|b"], "columns": {}},
                             {"per_class": {"a|b": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}}}, {})
    assert "| a\\|b |" in card and "base_model" not in card


def test_a_data_record_from_before_tasks_reads_as_single_label_with_the_metric_it_watched():
    data = {"labels": ["neg", "pos"], "columns": {"text": "review", "label": "stars"}}
    card = render_model_card("r", TrainConfig(model="bundled"), data, {"macro_f1": 0.5}, {})
    assert "It sorts texts into 2 classes: `neg`, `pos`." in card
    assert "| Task | single_label |" in card and "| Metric to watch | macro_f1 |" in card


def test_the_card_tells_the_task_the_data_record_names():
    data = {"labels": ["joy", "anger"], "task": "multi_label", "space": {"names": ["anger", "joy"], "stats": {}},
            "columns": {"text": "t", "label": "tags"}}
    card = render_model_card("r", TrainConfig(model="bundled"), data, {}, {})
    assert "| Task | multi_label |" in card and "2 classes" not in card
    assert "No evaluation was completed." in card


def test_a_regression_card_calls_it_a_regression_model_and_counts_rows_per_value():
    space = {"names": ["score"], "stats": {"mean": 2.5, "std": 1.0, "min": 0.0, "max": 5.0}}
    data = {"task": "regression", "space": space, "columns": {"text": "t", "label": "score"},
            "report": {"label_counts": {"0–1": 3, "1–2": 0, "2–3": 5}}}
    card = render_model_card("r", TrainConfig(model="bundled"), data, {"pearson": 0.8, "count": 8}, {})
    assert "A text regression model fine-tuned from `bundled`" in card and "classifier fine-tuned" not in card
    assert "| value | rows |" in card and "| label | rows |" not in card and "| 1–2 | 0 |" in card
    assert "It predicts the number in column `score`" in card and "| Task | regression |" in card


def test_a_classifier_card_still_counts_rows_per_label():
    data = {"labels": ["neg", "pos"], "columns": {}, "report": {"label_counts": {"neg": 2, "pos": 3}}}
    card = render_model_card("r", TrainConfig(model="bundled"), data, {}, {})
    assert "A text classifier fine-tuned from `bundled`" in card and "| label | rows |" in card


def test_a_multi_label_card_asks_the_pipeline_for_every_tag_and_names_the_separator_it_split_on():
    data = {"task": "multi_label", "space": {"names": ["anger", "joy"], "stats": {}}, "label_separator": ";",
            "columns": {"text": "t", "label": "tags"}}
    card = render_model_card("r", TrainConfig(model="bundled"), data, {}, {})
    assert "model='runs/r/model', top_k=None)" in card and "bertstudio_thresholds" in card
    assert "| Label separator | ; |" in card


def test_a_single_label_card_asks_the_pipeline_for_its_top_class_only():
    card = render_model_card("r", TrainConfig(model="bundled"), {"labels": ["a", "b"], "columns": {}}, {}, {})
    assert "model='runs/r/model')" in card and "top_k" not in card


def test_a_model_that_learned_nothing_says_so_before_how_to_use_it():
    data = {"labels": ["neg", "pos"], "columns": {}}
    warning = "The model predicts 'pos' for every validation row;\ntrain for more epochs."
    card = render_model_card("r", TrainConfig(model="bundled"), data, {"accuracy": 0.5}, {}, warning=warning)
    line = "> **Warning: this model learned nothing useful.** The model predicts 'pos' for every validation row; train"
    assert line in card and card.index(line) < card.index("## Use it")  # one quoted line, before any code
    assert "learned nothing" not in render_model_card("r", TrainConfig(model="bundled"), data, {}, {})


def test_a_pretraining_card_says_it_is_an_adapted_encoder_and_how_to_fill_in_words_and_fine_tune_it():
    config = TrainConfig(model="bert-base-uncased", data="/d/tickets.csv", task="masked_lm", epochs=2,
                         mlm_probability=0.2, whole_word_masking=True, output_dir="runs", run_name="tickets")
    data = {"task": "masked_lm", "file_name": "tickets.csv", "train_size": 90, "validation_size": 10,
            "columns": {"text": "body"}, "fingerprint": "f" * 64}
    metrics = {"loss": 2.5, "perplexity": 12.18, "accuracy": 0.41, "masked_tokens": 180}
    card = render_model_card("run-7", config, data, metrics, {"torch": "2.13"})
    assert "pipeline_tag: fill-mask" in card and "base_model: bert-base-uncased" in card
    assert "A BERT encoder adapted to your texts by continued masked-language-model pretraining" in card
    assert "from base model `bert-base-uncased`" in card and "100 texts" in card and "2 epochs" in card
    assert "hiding 20% of the tokens a whole word at a time (whole-word masking)" in card
    assert "| loss on hidden tokens | 2.5000 |" in card and "| perplexity | 12.18" in card
    assert "| hidden tokens guessed right | 0.4100 |" in card
    assert "pipeline('fill-mask', model='runs/run-7/model')" in card and "{fill.tokenizer.mask_token}" in card
    assert "bertstudio train --data FILE --model runs/run-7" in card
    assert "text-classification" not in card and "classifier" not in card.lower().replace("a classifier", "")
    assert "| Task | masked_lm |" in card and "bertstudio train --config runs/run-7/config.json" in card


def test_a_pretraining_card_without_whole_word_masking_or_evaluation_says_so():
    config = TrainConfig(model="bundled", data="/d/t.csv", task="masked_lm", epochs=1, max_steps=5)
    card = render_model_card("r", config, {"task": "masked_lm", "train_size": 4, "validation_size": 1}, {}, {})
    assert "1 epoch, at most 5 steps" in card and "no whole-word masking" in card
    assert "No evaluation was completed." in card and "base_model" not in card
