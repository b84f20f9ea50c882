import torch

from bertstudio.batching import EncodedExamples, LengthGroupedSampler, PaddingCollator, length_sorted_indices


def test_collator_pads_to_a_multiple_of_eight_and_masks_padding():
    rows = [{"index": 0, "input_ids": [1, 2, 3], "token_type_ids": [0, 0, 0], "labels": 1},
            {"index": 1, "input_ids": [1, 2], "token_type_ids": [0, 0], "labels": 0}]
    batch = PaddingCollator(pad_token_id=0)(rows)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"].tolist()[1] == [1, 1, 0, 0, 0, 0, 0, 0]
    assert batch["labels"].tolist() == [1, 0] and batch["num_tokens"] == 5


def test_collator_leaves_out_the_mask_when_nothing_is_padded():
    rows = [{"index": i, "input_ids": list(range(8)), "token_type_ids": [0] * 8} for i in range(2)]
    batch = PaddingCollator(pad_token_id=0)(rows)
    assert "attention_mask" not in batch and batch["input_ids"].shape == (2, 8)


def test_length_grouped_sampler_is_a_seeded_permutation_with_similar_lengths_per_batch():
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, 200, (1000,), generator=generator).tolist()
    sampler = LengthGroupedSampler(lengths, batch_size=16, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(1000))
    assert order == list(LengthGroupedSampler(lengths, batch_size=16, seed=3))
    sampler.set_epoch(1)
    assert list(sampler) != order
    padded = sum(16 * max(lengths[i] for i in order[s:s + 16]) for s in range(0, 1000, 16))
    random_padded = sum(16 * max(lengths[s:s + 16]) for s in range(0, 1000, 16))
    assert padded < 0.7 * random_padded
    assert lengths[order[0]] == max(lengths)  # the biggest batch comes first


def test_evaluation_order_is_longest_first():
    assert length_sorted_indices([3, 9, 1]) == [1, 0, 2]


def test_dataset_items_keep_their_index():
    data = EncodedExamples([[1, 2], [3]], [[0, 0], [0]], [1, 0])
    assert data[1] == {"index": 1, "input_ids": [3], "token_type_ids": [0], "labels": 0}
