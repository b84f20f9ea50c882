import torch

from bertstudio.training.batching import (EncodedExamples, LengthGroupedSampler, PaddingCollator, length_sorted_indices,
                                 pad_multiple)


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


def test_cpu_batches_are_padded_only_to_their_longest_row_and_gpu_batches_to_a_multiple_of_eight():
    rows = [{"index": 0, "input_ids": [1, 2, 3], "token_type_ids": [0, 0, 0]},
            {"index": 1, "input_ids": [1, 2], "token_type_ids": [0, 0]}]
    assert pad_multiple("cpu") == 1 and pad_multiple("cuda") == 8
    cpu_batch = PaddingCollator(pad_token_id=0, pad_to=pad_multiple("cpu"))(rows)
    assert cpu_batch["input_ids"].shape == (2, 3)
    assert cpu_batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert PaddingCollator(pad_token_id=0, pad_to=pad_multiple("cuda"))(rows)["input_ids"].shape == (2, 8)


def test_unpadded_cpu_batch_of_equal_rows_has_no_mask():
    rows = [{"index": i, "input_ids": [5, 6, 7], "token_type_ids": [0, 0, 0]} for i in range(3)]
    batch = PaddingCollator(pad_token_id=0, pad_to=1)(rows)
    assert batch["input_ids"].shape == (3, 3) and "attention_mask" not in batch


def test_every_batch_the_dataloader_cuts_is_one_length_sorted_batch_even_with_a_short_last_one():
    generator = torch.Generator().manual_seed(1)
    # Groups of 16 * 25 = 400 rows: four full ones and one of 200, whose last batch has 8 rows.
    lengths = torch.randint(5, 200, (1800,), generator=generator).tolist()
    order = list(LengthGroupedSampler(lengths, batch_size=16, seed=3, group_batches=25))
    assert sorted(order) == list(range(1800))
    for start in range(0, 1800, 16):  # what DataLoader(batch_size=16) takes as one batch
        chunk = [lengths[i] for i in order[start:start + 16]]
        assert chunk == sorted(chunk, reverse=True), start
    assert len(order) % 16 == 8 and lengths[order[0]] == max(lengths)


def test_labels_keep_their_kind_class_ids_long_values_and_multi_hot_rows_float():
    def rows(labels):
        return [{"index": i, "input_ids": [1, 2], "token_type_ids": [0, 0], "labels": label}
                for i, label in enumerate(labels)]

    collate = PaddingCollator(pad_token_id=0, pad_to=1)
    assert collate(rows([1, 0]))["labels"].dtype == torch.long
    assert collate(rows([0.5, -1.25]))["labels"].dtype == torch.float32
    multi_hot = collate(rows([[1.0, 0.0], [0.0, 1.0]]))["labels"]
    assert multi_hot.dtype == torch.float32 and multi_hot.shape == (2, 2)
    assert PaddingCollator(0, pad_to=1, label_dtype=torch.float32)(rows([1, 0]))["labels"].dtype == torch.float32
