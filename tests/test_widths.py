"""Planned batch widths on the CPU in bf16 (training/widths.py): few shapes, little padding."""

from __future__ import annotations

from bertstudio.config import TrainConfig
from bertstudio.training.widths import Widths, batch_widths, plan_widths


def test_a_width_met_once_is_padded_up_and_common_widths_are_kept():
    widths = [5] * 40 + [6] * 40 + [57, 63]
    plan = plan_widths(widths, rows_per_batch=32)
    assert plan.allowed == (5, 6, 63)  # 57 padded to 63 (192 slots) costs less than a new kernel
    assert [plan.width_for(n) for n in (3, 5, 6, 7, 57, 63, 70)] == [5, 5, 6, 63, 63, 63, 70]


def test_free_shapes_keep_every_width_and_dear_ones_keep_only_the_longest():
    widths = [3, 4, 4, 9, 12, 12, 30]
    assert plan_widths(widths, rows_per_batch=32, shape_cost_slots=0).allowed == (3, 4, 9, 12, 30)
    assert plan_widths(widths, rows_per_batch=32, shape_cost_slots=10**9).allowed == (30,)
    assert plan_widths([], rows_per_batch=32).allowed == ()


def test_more_epochs_make_padding_dearer_so_more_widths_are_kept():
    widths = list(range(10, 40)) * 2
    once = plan_widths(widths, rows_per_batch=32, repeats=1).allowed
    often = plan_widths(widths, rows_per_batch=32, repeats=10).allowed
    assert len(often) > len(once) and often[-1] == once[-1] == 39


def test_the_plan_is_optimal_against_every_subset():
    from itertools import combinations

    widths = [4, 4, 5, 7, 7, 7, 11, 12, 20]
    lengths = sorted(set(widths))

    def cost(kept):
        plan = Widths(kept)
        return sum((plan.width_for(w) - w) * 8 for w in widths) + 40 * len(kept)

    subsets = [c + (lengths[-1],) for r in range(len(lengths)) for c in combinations(lengths[:-1], r)]
    best = min(cost(s) for s in subsets)
    assert cost(plan_widths(widths, rows_per_batch=8, shape_cost_slots=40).allowed) == best


def test_batch_widths_follow_the_loaders_cut():
    assert batch_widths([3, 9, 4, 1, 7], [4, 0, 1, 2, 3], 2) == [7, 9, 1]


def test_cpu_bf16_loaders_pad_to_planned_widths_and_fp32_to_each_batchs_longest(tiny_model_dir, learnable_csv):
    from bertstudio.data.dataset import prepare_data
    from bertstudio.models import load_tokenizer
    from bertstudio.training import loaders

    shapes = {}
    for precision in ("bf16", "fp32"):
        config = TrainConfig(data=str(learnable_csv), model=str(tiny_model_dir), batch_size=4,
                             precision=precision).validate()
        data = prepare_data(config)
        built = loaders.build_loaders(config, data, load_tokenizer(config.model), "cpu")
        batches = list(built.train)
        shapes[precision] = {b["input_ids"].shape[1] for b in batches}
        if precision == "fp32":  # exact: the longest row of every batch fills its width
            assert all(b["attention_mask"].sum(1).max() == b["input_ids"].shape[1] if "attention_mask" in b
                       else True for b in batches)
    assert shapes["bf16"] <= shapes["fp32"] and len(shapes["bf16"]) < len(shapes["fp32"])
