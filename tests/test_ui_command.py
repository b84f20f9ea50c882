""""Show as command" gives a line the real CLI parses back into the very same config."""

import shlex

from bertstudio.cli.flags import build_parser, config_from_args
from bertstudio.config import TrainConfig
from bertstudio.ui.command import command_lines, train_arguments


def _parse_back(line: str) -> TrainConfig:
    words = shlex.split(line)
    start = words.index("train")
    return config_from_args(build_parser().parse_args(words[start:]))


def test_command_line_round_trips_through_the_cli_parser(tmp_path):
    config = TrainConfig(data=str(tmp_path / "my data.csv"), model="bundled", text_column="review text",
                         label_column="stars", learning_rate=3e-5, epochs=1, batch_size=16, keep_best=False,
                         clean_strip_html=True, max_rows=500, scheduler="cosine", output_dir=str(tmp_path / "runs"),
                         run_name="first try")
    plain, accelerate = command_lines(config)
    assert plain.startswith("bertstudio train --data ")
    assert accelerate.startswith("accelerate launch --multi_gpu --num_processes 2 -m bertstudio train --data ")
    assert _parse_back(plain) == config
    assert _parse_back(accelerate) == config


def test_defaults_are_left_off_the_command_line_but_the_settings_the_cli_would_recommend_are_spelled_out():
    """Left off, the CLI would choose the learning rate, epochs and early stopping for the file; the
    line must train what the form shows."""
    args = train_arguments(TrainConfig(data="d.csv", model="bundled"))
    assert args == ["train", "--data", "d.csv", "--model", "bundled", "--learning-rate", "5e-05",
                    "--epochs", "3", "--early-stopping-patience", "0", "--keep-best"]


def test_paths_with_quotes_and_spaces_stay_one_argument(tmp_path):
    config = TrainConfig(data="it's a file; rm -rf x.csv", model="bundled")
    assert _parse_back(command_lines(config)[0]).data.endswith("it's a file; rm -rf x.csv")
