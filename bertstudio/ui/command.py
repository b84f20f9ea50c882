""""Show as command": the exact `bertstudio train …` line (and its `accelerate launch` twin) for a config."""

from __future__ import annotations

import shlex

from bertstudio.config import TrainConfig, base_type, field_specs


def train_arguments(config: TrainConfig) -> list[str]:
    """`train` arguments that rebuild `config` through the CLI: data and model always, the settings
    the CLI recommends by itself, then every other setting that differs from its default, spelled as
    the CLI's own flags."""
    from bertstudio.recommend import RECOMMENDED_SETTINGS

    defaults = TrainConfig()
    args = ["train", "--data", str(config.data or ""), "--model", config.model]
    for spec in field_specs():
        if spec.name in ("data", "model"):
            continue
        value = getattr(config, spec.name)
        # The settings the CLI would otherwise recommend for the file are always spelled out, so
        # the line trains what the form shows.
        if value is None or (value == getattr(defaults, spec.name) and spec.name not in RECOMMENDED_SETTINGS):
            continue
        flag = "--" + spec.name.replace("_", "-")
        if base_type(spec.type) is bool:
            args.append(flag if value else "--no-" + flag[2:])
        else:
            args += [flag, repr(value) if isinstance(value, float) else str(value)]
    return args


def command_lines(config: TrainConfig) -> tuple[str, str]:
    """(`bertstudio train …`, `accelerate launch --multi_gpu … -m bertstudio train …`), quoted for a POSIX shell."""
    args = train_arguments(config)
    # --multi_gpu selects Accelerate's torchrun launcher: one process per GPU (gloo on CPU-only
    # machines); edit --num_processes to the number of GPUs.
    launcher = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "-m", "bertstudio"]
    return shlex.join(["bertstudio", *args]), shlex.join([*launcher, *args])
