"""Tiny real runs for the lineage pages: a continued-pretraining run and a run fine-tuned from it,
two steps each, in one runs folder."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from bertstudio.config import TrainConfig
from bertstudio.training.trainer import train

SENTENCES = ["the parcel arrived late again", "the refund came after two weeks",
             "my order was wonderful and on time", "the support team never answered"]


@dataclass
class AdaptedRuns:
    runs_dir: Path
    data: Path
    pretrained: Path  # the continued-pretraining run's folder
    fine_tuned: Path  # a classification run whose model is the pretraining run


def make_adapted_runs(folder: Path, model: Path) -> AdaptedRuns:
    data = folder / "tickets.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"]] + [[SENTENCES[i % 4], ["late", "refund", "good", "support"][i % 4]]
                                                            for i in range(40)])
    runs = folder / "runs"
    common = dict(data=str(data), output_dir=str(runs), max_length=16, batch_size=8, epochs=2, max_steps=2,
                  seed=5, logging_steps=1)
    pre = train(TrainConfig(model=str(model), task="masked_lm", run_name="tickets", **common))
    assert pre.status == "finished", pre.message
    fine = train(TrainConfig(model=pre.run_dir, **common))
    assert fine.status == "finished", fine.message
    return AdaptedRuns(runs_dir=runs, data=data, pretrained=Path(pre.run_dir), fine_tuned=Path(fine.run_dir))
