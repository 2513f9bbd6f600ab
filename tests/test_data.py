"""GPTDataset and create_dataloader against the chapter's GPTDatasetV1 / create_dataloader_v1.

The reference is the chapter's code (tests/_chapter_ch2.py). Loaders are compared batch for batch under
the same torch.manual_seed, over two epochs, so that the global-RNG draws line up beyond the first.
"""

from __future__ import annotations

import pickle
import sys

import llmprep
import numpy as np
import pytest
import torch
from _chapter_ch2 import GPTDatasetV1, IdsTokenizer, create_dataloader_v1
from conftest import DATA
from hypothesis import given
from hypothesis import strategies as st
from llmprep.data import GPTDataLoader, GPTDataset, create_dataloader, default_tokenizer


def epochs(loader, n_epochs: int = 2) -> list[list[list[torch.Tensor]]]:
    return [list(loader) for _ in range(n_epochs)]


def assert_same_batches(ours, reference) -> None:
    assert len(ours) == len(reference)
    for mine, theirs in zip(ours, reference):
        assert isinstance(mine, list) and len(mine) == 2
        assert mine[0].dtype == theirs[0].dtype == torch.int64
        assert torch.equal(mine[0], theirs[0])
        assert torch.equal(mine[1], theirs[1])


def run_both(text_or_ids, tokenizer, seed: int = 123, n_epochs: int = 2, **kwargs):
    """Our loader and the chapter's, each built and iterated right after torch.manual_seed(seed)."""
    if isinstance(text_or_ids, str):
        ref_tokenizer, source = tokenizer, text_or_ids
    else:
        ref_tokenizer, source = IdsTokenizer(text_or_ids), text_or_ids
    torch.manual_seed(seed)
    reference = epochs(
        create_dataloader_v1("unused" if not isinstance(source, str) else source, tokenizer=ref_tokenizer, **kwargs),
        n_epochs,
    )
    torch.manual_seed(seed)
    ours = epochs(create_dataloader(source, **kwargs), n_epochs)
    return ours, reference


@pytest.fixture(scope="session")
def verdict_ids(verdict_text, tiktoken_gpt2) -> np.ndarray:
    return np.array(tiktoken_gpt2.encode(verdict_text, allowed_special={"<|endoftext|>"}), dtype=np.uint16)


@pytest.fixture(scope="session")
def large_ids(tiktoken_gpt2) -> np.ndarray:
    path = DATA / "tinyshakespeare.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found (../shared is missing)")
    return np.array(tiktoken_gpt2.encode(path.read_text(encoding="utf-8")), dtype=np.uint16)


# ----------------------------------------------------------------------------------------------
# Golden batches from the chapter (../shared/golden/ch02.json).


def test_golden_batch1_length4_stride1(golden, verdict_text, tiktoken_gpt2) -> None:
    loader = create_dataloader(verdict_text, batch_size=1, max_length=4, stride=1, shuffle=False)
    data_iter = iter(loader)
    first_batch, second_batch = next(data_iter), next(data_iter)
    assert [t.tolist()[0] for t in first_batch] == golden["dataloader_b1_l4_s1_first_batch"]
    assert [t.tolist()[0] for t in second_batch] == golden["dataloader_b1_l4_s1_second_batch"]
    # Printing a batch looks exactly like the chapter's printout.
    reference = next(iter(create_dataloader_v1(verdict_text, 1, 4, 1, shuffle=False, tokenizer=tiktoken_gpt2)))
    assert (
        str(first_batch) == str(reference) == "[tensor([[  40,  367, 2885, 1464]]), tensor([[ 367, 2885, 1464, 1807]])]"
    )


def test_golden_batch8_length4_stride4(golden, verdict_text) -> None:
    loader = create_dataloader(verdict_text, batch_size=8, max_length=4, stride=4, shuffle=False)
    inputs, targets = next(iter(loader))
    assert inputs.tolist() == golden["dataloader_b8_l4_s4_inputs"]
    assert targets.tolist() == golden["dataloader_b8_l4_s4_targets"]


def test_golden_dataset_sample(golden, verdict_text) -> None:
    dataset = GPTDataset(verdict_text, max_length=4, stride=1)
    assert dataset.n_tokens == golden["verdict_gpt2_tokens"]
    x, y = dataset[50]  # the chapter's x = enc_sample[:4] with enc_sample = enc_text[50:]
    assert x.tolist() == golden["verdict_gpt2_sample_x"]
    assert y.tolist() == golden["verdict_gpt2_sample_y"]


# ----------------------------------------------------------------------------------------------
# Differential against the chapter.


def test_dataset_items_equal_gptdatasetv1(verdict_text, tiktoken_gpt2) -> None:
    for max_length, stride in [(4, 1), (256, 128), (8, 11), (5144, 1)]:
        reference = GPTDatasetV1(verdict_text, tiktoken_gpt2, max_length, stride)
        ours = GPTDataset(verdict_text, max_length=max_length, stride=stride)
        assert len(ours) == len(reference)
        for i in {0, len(reference) // 2, len(reference) - 1, -1, -len(reference)}:
            for mine, theirs in zip(ours[i], reference[i]):
                assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)
        inputs, targets = ours.windows()
        assert torch.equal(inputs, torch.stack(reference.input_ids))
        assert torch.equal(targets, torch.stack(reference.target_ids))


COMBINATIONS = [
    # batch_size, max_length, stride, shuffle, drop_last
    (1, 4, 1, False, True),
    (8, 4, 4, False, True),
    (4, 256, 128, True, True),
    (4, 256, 128, True, False),
    (3, 16, 16, True, False),
    (5, 7, 13, True, True),  # stride > max_length: tokens skipped between windows
    (7, 32, 1, True, False),
    (2, 64, 65, False, False),
    (16, 5, 3, True, True),
    (1000, 8, 2, True, False),  # one batch larger than the dataset
]


@pytest.mark.parametrize(("batch_size", "max_length", "stride", "shuffle", "drop_last"), COMBINATIONS)
def test_loader_equals_chapter_on_the_story(
    verdict_text, tiktoken_gpt2, batch_size, max_length, stride, shuffle, drop_last
) -> None:
    ours, reference = run_both(
        verdict_text,
        tiktoken_gpt2,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    for mine, theirs in zip(ours, reference):
        assert_same_batches(mine, theirs)
    if shuffle and len(ours[0]) > 2:
        assert not torch.equal(ours[0][0][0], ours[1][0][0]), "a new order each epoch"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("batch_size", "max_length", "stride", "shuffle", "drop_last"),
    [(8, 256, 128, True, True), (32, 1024, 1024, True, False), (4, 100, 300, False, True), (64, 64, 48, True, True)],
)
def test_loader_equals_chapter_on_a_larger_corpus(
    large_ids, batch_size, max_length, stride, shuffle, drop_last
) -> None:
    ours, reference = run_both(
        large_ids,
        None,
        seed=7,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    for mine, theirs in zip(ours, reference):
        assert_same_batches(mine, theirs)


@given(
    n=st.integers(2, 400),
    max_length=st.integers(1, 40),
    stride=st.integers(1, 50),
    batch_size=st.integers(1, 9),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_loader_equals_chapter_property(n, max_length, stride, batch_size, shuffle, drop_last, seed) -> None:
    ids = np.random.default_rng(seed).integers(0, 50257, size=n).astype(np.uint16)
    if n <= max_length:
        with pytest.raises(ValueError, match=f"has {n} tokens"):
            create_dataloader(ids, batch_size, max_length, stride)
        return
    ours, reference = run_both(
        ids,
        None,
        seed=seed,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    for mine, theirs in zip(ours, reference):
        assert_same_batches(mine, theirs)


def test_same_global_rng_consumption_as_the_chapter(verdict_ids) -> None:
    # After the same iteration pattern (including iter() without reading), both leave the global RNG alike.
    torch.manual_seed(5)
    reference = create_dataloader_v1("unused", 4, 16, 16, tokenizer=IdsTokenizer(verdict_ids))
    it = iter(reference)
    next(it)
    iter(reference)
    after_reference = torch.get_rng_state()
    torch.manual_seed(5)
    ours = create_dataloader(verdict_ids, 4, 16, 16)
    it = iter(ours)
    next(it)
    iter(ours)
    assert torch.equal(torch.get_rng_state(), after_reference)


def test_generator_equals_dataloader_with_the_same_generator(verdict_ids) -> None:
    reference = create_dataloader_v1("unused", 4, 16, 8, tokenizer=IdsTokenizer(verdict_ids))
    reference = torch.utils.data.DataLoader(
        reference.dataset, batch_size=4, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(3)
    )
    ours = create_dataloader(verdict_ids, 4, 16, 8, generator=torch.Generator().manual_seed(3))
    for mine, theirs in zip(epochs(ours, 3), epochs(reference, 3)):
        assert_same_batches(mine, theirs)


@pytest.mark.parametrize("token_dtype", [np.uint16, np.uint32, np.int32, np.int64])
def test_every_token_dtype_gives_the_same_batches(verdict_ids, token_dtype) -> None:
    ours, reference = run_both(verdict_ids.astype(token_dtype), None, batch_size=4, max_length=32, stride=16)
    for mine, theirs in zip(ours, reference):
        assert_same_batches(mine, theirs)


def test_list_and_tensor_sources(verdict_ids) -> None:
    expected = GPTDataset(verdict_ids, max_length=8, stride=8).windows()
    for source in (verdict_ids.tolist(), torch.from_numpy(verdict_ids.astype(np.int64))):
        got = GPTDataset(source, max_length=8, stride=8).windows()
        assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_int32_output(verdict_ids) -> None:
    inputs, targets = next(iter(create_dataloader(verdict_ids, 4, 8, 8, shuffle=False, output_dtype=torch.int32)))
    assert inputs.dtype == targets.dtype == torch.int32
    reference = GPTDataset(verdict_ids, max_length=8, stride=8)
    assert torch.equal(inputs.long(), reference.__getitems__([0, 1, 2, 3])[0])


def test_custom_tokenizer_without_allowed_special(verdict_text) -> None:
    class Chars:
        def encode(self, text):
            return [ord(c) for c in text]

    dataset = GPTDataset(verdict_text, Chars(), max_length=4, stride=4)
    assert dataset[0][0].tolist() == [ord(c) for c in verdict_text[:4]]
    assert dataset.tokens.dtype == np.uint16


def test_default_tokenizer_is_gpt2(golden) -> None:
    assert (
        list(default_tokenizer().encode(golden["gpt2_text"], allowed_special={"<|endoftext|>"})) == golden["gpt2_ids"]
    )


def test_lazy_public_names() -> None:
    assert llmprep.GPTDataset is GPTDataset
    assert llmprep.create_dataloader is create_dataloader
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        llmprep.nope  # noqa: B018


# ----------------------------------------------------------------------------------------------
# Workers, files, pinning.

# On a machine with fewer than 2 CPUs, DataLoader warns that 2 workers are more than it suggests;
# that warning is about the machine, not this code.
_FEW_CPUS = "ignore:This DataLoader will create:UserWarning"
# Python >= 3.12 warns when a process that has threads forks; torch's own intra-op threads can trigger
# it for DataLoader workers, and so can llmprep's idle pool threads (fork-safe: see tests/test_parallel.py).
_FORK_WITH_THREADS = (
    r"ignore:This process .* is multi-threaded, use of fork\(\) may lead to deadlocks:DeprecationWarning"
)


@pytest.mark.filterwarnings(_FEW_CPUS)
@pytest.mark.filterwarnings(_FORK_WITH_THREADS)
def test_two_workers_give_the_same_batches(verdict_ids) -> None:
    ours, reference = run_both(verdict_ids, None, n_epochs=1, batch_size=8, max_length=32, stride=16, num_workers=2)
    torch.manual_seed(123)
    single = epochs(create_dataloader(verdict_ids, 8, 32, 16), 1)
    assert_same_batches(ours[0], reference[0])
    assert_same_batches(ours[0], single[0])


def test_memmapped_array_and_raw_file(tmp_path, verdict_ids) -> None:
    path = tmp_path / "verdict.bin"
    verdict_ids.tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r")
    ours_mapped, reference = run_both(mapped, None, batch_size=4, max_length=16, stride=8)
    torch.manual_seed(123)
    ours_file = epochs(create_dataloader(path, 4, 16, 8, dtype=np.uint16))
    for a, b, c in zip(ours_mapped, ours_file, reference):
        assert_same_batches(a, c)
        assert_same_batches(b, c)


def test_token_file_is_opened_lazily_and_pickled_by_path(tmp_path, verdict_ids) -> None:
    path = tmp_path / "verdict.bin"
    verdict_ids.tofile(path)
    dataset = GPTDataset(path, max_length=16, stride=8, dtype=np.uint16)
    assert dataset._source._array is None, "constructing must not map the file"
    first = dataset[3]
    assert isinstance(dataset.tokens, np.memmap)
    blob = pickle.dumps(dataset)
    assert len(blob) < 2_000, "a worker receives the path, not the ids"
    clone = pickle.loads(blob)
    assert clone._source._array is None
    assert all(torch.equal(a, b) for a, b in zip(clone[3], first))


@pytest.mark.filterwarnings(_FEW_CPUS)
@pytest.mark.filterwarnings(_FORK_WITH_THREADS)
def test_token_file_with_two_workers(tmp_path, verdict_ids) -> None:
    path = tmp_path / "verdict.bin"
    verdict_ids.astype(np.int32).tofile(path)
    torch.manual_seed(9)
    ours = list(create_dataloader(path, 4, 32, 32, num_workers=2, dtype=np.int32))
    torch.manual_seed(9)
    reference = list(create_dataloader_v1("unused", 4, 32, 32, tokenizer=IdsTokenizer(verdict_ids)))
    assert_same_batches(ours, reference)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-accelerator path")
def test_pin_memory_without_accelerator_warns_like_dataloader(verdict_ids) -> None:
    loader = create_dataloader(verdict_ids, 4, 8, 8, shuffle=False, pin_memory=True)
    with pytest.warns(UserWarning, match="no accelerator is found"):
        inputs, _ = next(iter(loader))
    assert torch.equal(inputs, GPTDataset(verdict_ids, max_length=8, stride=8).__getitems__([0, 1, 2, 3])[0])


# ----------------------------------------------------------------------------------------------
# Distributed shards and resume.


def windows_of(batches, stride: int) -> list[int]:
    """Window indices of batches over tokens 0, 1, 2, ...: a window starts at index * stride."""
    return [int(v) // stride for inputs, _ in batches for v in inputs[:, 0]]


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [True, False])
def test_ranks_cover_every_window_once_per_epoch(world_size, shuffle) -> None:
    ids = np.arange(1203, dtype=np.int32)  # 1203 - 8 = 1195 -> 399 windows at stride 3
    n_windows = len(range(0, 1203 - 8, 3))
    loaders = [
        create_dataloader(ids, 5, 8, 3, shuffle=shuffle, drop_last=False, seed=11, rank=r, world_size=world_size)
        for r in range(world_size)
    ]
    per_epoch = []
    for _ in range(3):
        seen = [windows_of(list(loader), 3) for loader in loaders]
        everything = sorted(w for shard in seen for w in shard)
        assert everything == list(range(n_windows))
        assert max(map(len, seen)) - min(map(len, seen)) <= 1
        per_epoch.append(seen[0])
    if shuffle:
        assert per_epoch[0] != per_epoch[1] != per_epoch[2], "a new order each epoch, no set_epoch"
    else:
        assert per_epoch[0] == per_epoch[1]


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_drop_last_gives_every_rank_the_same_steps(world_size) -> None:
    ids = np.arange(1000, dtype=np.uint16)
    n_windows = len(range(0, 1000 - 8, 4))  # 248
    loaders = [
        create_dataloader(ids, 6, 8, 4, drop_last=True, rank=r, world_size=world_size) for r in range(world_size)
    ]
    lengths = {len(loader) for loader in loaders}
    assert lengths == {(n_windows // world_size) // 6}
    seen = [windows_of(list(loader), 4) for loader in loaders]
    assert all(len(shard) == len(loaders[0]) * 6 for shard in seen)
    flat = [w for shard in seen for w in shard]
    assert len(flat) == len(set(flat)), "shards are disjoint"


def test_seeded_single_rank_is_reproducible_and_independent_of_global_rng(verdict_ids) -> None:
    torch.manual_seed(1)
    first = epochs(create_dataloader(verdict_ids, 4, 16, 8, seed=42))
    torch.manual_seed(2)
    second = epochs(create_dataloader(verdict_ids, 4, 16, 8, seed=42))
    for a, b in zip(first, second):
        assert_same_batches(a, b)
    assert not torch.equal(first[0][0][0], first[1][0][0])


def resume_cases():
    # mode kwargs, world_size
    return [({}, 1), ({"seed": 3}, 1), ({"seed": 3}, 2), ("generator", 1), ({"shuffle": False}, 3)]


@pytest.mark.parametrize(("mode", "world_size"), resume_cases())
@pytest.mark.parametrize("drop_last", [True, False])
def test_resume_yields_exactly_the_remaining_batches(verdict_ids, mode, world_size, drop_last) -> None:
    """A loader resumed from state_dict() yields what the original would have yielded next."""

    def build(rank):
        kwargs = {"generator": torch.Generator().manual_seed(8)} if mode == "generator" else dict(mode)
        return create_dataloader(
            verdict_ids, 8, 16, 12, drop_last=drop_last, rank=rank, world_size=world_size, **kwargs
        )

    for rank in range(world_size):
        torch.manual_seed(77)
        full = epochs(build(rank), 3)
        n = len(full[0])
        for epoch, stop in [(0, 0), (0, 1), (0, n // 2), (0, n - 1), (0, n), (1, 3), (2, n - 2)]:
            torch.manual_seed(77)
            loader = build(rank)
            for _ in range(epoch):
                list(loader)
            it = iter(loader) if stop else None  # a checkpoint is taken after a step, or before iter()
            for _ in range(stop):
                next(it)
            state = loader.state_dict()
            rng = torch.get_rng_state()
            assert (state["epoch"], state["batches"]) == ((epoch + 1, 0) if stop == n else (epoch, stop))
            continuation = list(it) if it is not None else list(loader)
            following = list(loader)
            if 0 < stop < n:
                assert_same_batches(continuation, full[epoch][stop:])

            resumed = build(rank)
            torch.set_rng_state(rng)
            resumed.load_state_dict(pickle.loads(pickle.dumps(state)))
            if mode != "generator":
                assert resumed.state_dict() == state
            if stop == n:
                assert_same_batches(list(resumed), following)
                continue
            assert_same_batches(list(resumed), continuation)
            if mode != {}:
                # Seeded, generator and sequential orders also continue exactly into the next epoch (the
                # global-RNG order depends on the RNG, which the resumed DataLoader iterator drew from).
                assert_same_batches(list(resumed), following)


def test_state_dict_mid_epoch_fields(verdict_ids) -> None:
    loader = create_dataloader(verdict_ids, 4, 16, 16, seed=5)
    assert loader.state_dict()["epoch"] == 0 and loader.state_dict()["batches"] == 0
    it = iter(loader)
    next(it), next(it)
    state = loader.state_dict()
    assert (state["epoch"], state["batches"], state["order"]) == (0, 2, {"seed": 5})


@pytest.mark.filterwarnings(_FEW_CPUS)
@pytest.mark.filterwarnings(_FORK_WITH_THREADS)
def test_resume_with_workers(verdict_ids) -> None:
    full = list(create_dataloader(verdict_ids, 4, 16, 16, seed=5))
    loader = create_dataloader(verdict_ids, 4, 16, 16, seed=5, num_workers=2)
    it = iter(loader)
    for _ in range(5):
        next(it)
    state = loader.state_dict()
    del it
    resumed = create_dataloader(verdict_ids, 4, 16, 16, seed=5, num_workers=2)
    resumed.load_state_dict(state)
    assert_same_batches(list(resumed), full[5:])


def test_load_state_dict_rejects_another_configuration(verdict_ids) -> None:
    state = create_dataloader(verdict_ids, 4, 16, 16, seed=5).state_dict()
    with pytest.raises(ValueError, match="saved with batch_size=4, but this loader has batch_size=8"):
        create_dataloader(verdict_ids, 8, 16, 16, seed=5).load_state_dict(state)
    with pytest.raises(ValueError, match="saved with n_windows="):
        create_dataloader(verdict_ids, 4, 16, 8, seed=5).load_state_dict(state)
    with pytest.raises(ValueError, match="saved with mode='seed'"):
        create_dataloader(verdict_ids, 4, 16, 16).load_state_dict(state)
    with pytest.raises(ValueError, match="not a GPTDataLoader state_dict"):
        create_dataloader(verdict_ids, 4, 16, 16, seed=5).load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match="invalid position"):
        create_dataloader(verdict_ids, 4, 16, 16, seed=5).load_state_dict({**state, "batches": 10**6})


# ----------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("name", ["batch_size", "max_length", "stride"])
@pytest.mark.parametrize("bad", [0, -3])
def test_non_positive_sizes(verdict_ids, name, bad) -> None:
    kwargs = {"batch_size": 4, "max_length": 8, "stride": 8, name: bad}
    with pytest.raises(ValueError, match=f"{name} must be a positive integer, got {bad}"):
        create_dataloader(verdict_ids, **kwargs)


def test_non_integer_sizes(verdict_ids) -> None:
    with pytest.raises(TypeError, match="max_length must be an int, not float"):
        GPTDataset(verdict_ids, max_length=4.0)
    with pytest.raises(TypeError, match="stride must be an int, not bool"):
        GPTDataset(verdict_ids, stride=True)


def test_text_too_short_says_how_many_tokens(tiktoken_gpt2) -> None:
    text = "Hello, do you like tea?"  # 7 GPT-2 tokens
    assert len(tiktoken_gpt2.encode(text)) == 7
    # The chapter silently yields nothing here (and with shuffle=True fails with "num_samples=0").
    assert list(create_dataloader_v1(text, 1, 7, 1, shuffle=False, tokenizer=tiktoken_gpt2)) == []
    with pytest.raises(ValueError, match=r"the text has 7 tokens, but one window of max_length=7 needs 8"):
        create_dataloader(text, batch_size=1, max_length=7, stride=1)
    GPTDataset(text, max_length=6, stride=1)  # 7 tokens are enough for max_length 6
    with pytest.raises(ValueError, match="has 0 tokens"):
        GPTDataset("", max_length=1)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint64, np.float32, ">u4"])
def test_unsupported_array_dtype(dtype) -> None:
    with pytest.raises(TypeError, match=r"is not supported: use uint16 .* convert with tokens.astype"):
        GPTDataset(np.arange(100).astype(dtype), max_length=4, stride=4)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_negative_ids_in_an_array(dtype) -> None:
    ids = np.arange(100, dtype=dtype)
    ids[57] = -1
    with pytest.raises(ValueError, match="negative token id .* at position 57"):
        GPTDataset(ids, max_length=4, stride=4)


def test_negative_ids_in_a_file_are_caught_when_read(tmp_path) -> None:
    ids = np.arange(100, dtype=np.int32)
    ids[57] = -1
    path = tmp_path / "bad.bin"
    ids.tofile(path)
    dataset = GPTDataset(path, max_length=4, stride=4, dtype=np.int32)  # not read up front
    dataset[0]
    with pytest.raises(ValueError, match="token id -1 at position 57 is negative"):
        dataset[14]


def test_bad_array_shapes() -> None:
    with pytest.raises(ValueError, match="must be 1-D"):
        GPTDataset(np.zeros((10, 10), dtype=np.uint16), max_length=4)
    with pytest.raises(ValueError, match="C-contiguous"):
        GPTDataset(np.arange(100, dtype=np.uint16)[::2], max_length=4)
    with pytest.raises(TypeError, match="must hold ints"):
        GPTDataset([1.5, 2.5, 3.5], max_length=1)


def test_wrong_token_files(tmp_path, verdict_path) -> None:
    with pytest.raises(ValueError, match="looks like a text file"):
        GPTDataset(verdict_path, dtype=np.uint16)
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x01\x02\x03")
    with pytest.raises(ValueError, match=r"has 3 bytes, not a multiple of 2 \(uint16\)"):
        GPTDataset(odd, dtype=np.uint16, max_length=1)
    with pytest.raises(ValueError, match="pass its dtype"):
        GPTDataset(odd, max_length=1)
    with pytest.raises(TypeError, match="token dtype float32 is not supported"):
        GPTDataset(odd, dtype=np.float32, max_length=1)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        GPTDataset(tmp_path / "missing.bin", dtype=np.uint16)


def test_wrong_argument_combinations(verdict_text, verdict_ids, tiktoken_gpt2) -> None:
    with pytest.raises(ValueError, match="tokenizer= is only used when source is text"):
        GPTDataset(verdict_ids, tiktoken_gpt2)
    with pytest.raises(ValueError, match="dtype= is for token arrays"):
        GPTDataset(verdict_text, dtype=np.uint16)
    with pytest.raises(TypeError, match="source must be text"):
        GPTDataset(3.5)
    with pytest.raises(TypeError, match="decode text to str first"):
        GPTDataset(b"bytes")
    with pytest.raises(ValueError, match="seed or generator, not both"):
        create_dataloader(verdict_ids, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"rank must be in 0..1 for world_size=2, got 2"):
        create_dataloader(verdict_ids, 4, 8, 8, rank=2, world_size=2)
    with pytest.raises(TypeError, match="sets collate_fn itself"):
        create_dataloader(verdict_ids, 4, 8, 8, collate_fn=lambda b: b)


def test_dataset_index_errors(verdict_ids) -> None:
    dataset = GPTDataset(verdict_ids, max_length=4, stride=4)
    with pytest.raises(
        IndexError, match=f"window index {len(dataset)} is out of range: the dataset has {len(dataset)}"
    ):
        dataset[len(dataset)]
    with pytest.raises(IndexError, match="out of range"):
        dataset[-len(dataset) - 1]
    with pytest.raises(TypeError, match="window index must be an int, not slice"):
        dataset[0:2]
    with pytest.raises(IndexError, match="window index -1 .* is out of range"):
        dataset.__getitems__([0, -1])


def test_import_of_data_is_the_only_torch_import() -> None:
    assert "torch" in sys.modules  # this module imported llmprep.data
    assert isinstance(create_dataloader(np.arange(20, dtype=np.uint16), 2, 4, 4), GPTDataLoader)


def test_recycled_batch_buffers_never_overwrite_a_batch_still_held() -> None:
    # Batches of 256 KiB per tensor go through the dataset's buffer pool; holding every batch (and
    # views of some) must keep each one intact while later batches are gathered.
    ids = np.random.default_rng(0).integers(0, 50257, 200_000).astype(np.uint16)
    loader = llmprep.create_dataloader(ids, batch_size=32, max_length=1024, stride=1024, shuffle=False)
    reference = torch.from_numpy(ids.astype(np.int64))
    kept, views = [], []
    for i, (inputs, targets) in enumerate(loader):
        kept.append((inputs, targets))
        if i % 2:
            views.append((i, inputs[3]))
            del inputs, targets
    for i, (inputs, targets) in enumerate(kept):
        start = i * 32 * 1024
        assert torch.equal(inputs.reshape(-1), reference[start : start + 32 * 1024])
        assert torch.equal(targets.reshape(-1), reference[start + 1 : start + 32 * 1024 + 1])
    kept.clear()
    for i, row in views:  # only a view of the batch is left: its buffer must still not be reused
        for _ in loader:
            pass
        assert torch.equal(row, reference[i * 32 * 1024 + 3 * 1024 : i * 32 * 1024 + 4 * 1024])


def test_batch_buffers_are_reused_only_when_free() -> None:
    from llmprep.data import _BatchBuffers

    pool = _BatchBuffers()
    shape = (32, 1024)
    first = pool.take(shape, np.int64)
    held = first[0]
    second = pool.take(shape, np.int64)
    assert second[0] is not held and second[1] is not first[1]  # `held` still references the first pair
    tensor = torch.from_numpy(second[1])
    del first, second, held
    third = pool.take(shape, np.int64)  # the first pair is free again; the second is held by `tensor`
    assert np.shares_memory(third[0], pool._pairs[0][0])
    assert not np.shares_memory(third[1], tensor.numpy())
    small = pool.take((2, 4), np.int64)  # small batches skip the pool
    assert all(small[0] is not pair[0] for pair in pool._pairs)
