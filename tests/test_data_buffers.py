"""The batch-buffer pool: a batch, or anything derived from it, is never overwritten while it is held;
a released batch's buffer is reused. No reference counts are inspected, only weak references."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from llmprep.data import _BatchBuffers, create_dataloader

ROWS, LENGTH = 32, 1024  # 256 KiB per int64 tensor: above the pool's threshold


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 50257, 40 * ROWS * LENGTH + 1).astype(np.uint16)


def expected(ids: np.ndarray, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    start = batch * ROWS * LENGTH
    window = torch.from_numpy(ids[start : start + ROWS * LENGTH + 1].astype(np.int64))
    return window[:-1].reshape(ROWS, LENGTH), window[1:].reshape(ROWS, LENGTH)


# Ways a consumer may keep a batch: each holder below, and nothing else, must keep it intact.
HOLDERS = {
    "the tensor": lambda t: t,
    "a row view": lambda t: t[3],
    "a reshaped view": lambda t: t.view(-1)[100:200],
    "its numpy array": lambda t: t.numpy(),
    "a numpy view of it": lambda t: t.numpy()[5:7, ::3],
    "its storage": lambda t: t.untyped_storage(),
    "a dict of views": lambda t: {"x": t[1:2]},
}


@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_a_held_batch_is_never_overwritten(ids, holder) -> None:
    loader = create_dataloader(ids, ROWS, LENGTH, LENGTH, shuffle=False)
    make = HOLDERS[holder]
    kept = {}
    for i, (inputs, targets) in enumerate(loader):
        if i % 3 == 0:
            kept[i] = (make(inputs), make(targets))
        del inputs, targets
    for _ in range(2):  # more epochs: every free buffer is reused many times over
        for _batch in loader:
            pass
    gc.collect()
    for i, (held_inputs, held_targets) in kept.items():
        want_inputs, want_targets = expected(ids, i)
        for held, want in ((held_inputs, want_inputs), (held_targets, want_targets)):
            seen, wanted = (torch.as_tensor(np.asarray(_reread(h))) for h in (held, make(want.clone())))
            assert torch.equal(seen, wanted), f"batch {i}, {holder}"


def _reread(holder):
    """The values a holder sees (a storage is read back as int64 ids)."""
    if isinstance(holder, dict):
        return holder["x"]
    if isinstance(holder, torch.UntypedStorage):
        return torch.tensor([], dtype=torch.int64).set_(holder)
    return holder


def test_released_batches_reuse_a_few_buffers(ids) -> None:
    loader = create_dataloader(ids, ROWS, LENGTH, LENGTH, shuffle=False)
    addresses = set()
    for inputs, targets in loader:
        addresses.update((inputs.data_ptr(), targets.data_ptr()))
        del inputs, targets
    assert len(addresses) <= 2 * _BatchBuffers._KEEP, "released buffers must be recycled"


def test_a_pool_hand_out_stays_valid_after_the_pool_is_gone() -> None:
    pool = _BatchBuffers()
    first, second = pool.take((ROWS, LENGTH), np.int64)
    first[:] = 7
    del pool
    gc.collect()
    assert int(first.sum()) == 7 * ROWS * LENGTH and second.shape == (ROWS, LENGTH)


def test_a_numpy_view_of_a_hand_out_keeps_its_buffer() -> None:
    pool = _BatchBuffers()
    first, _ = pool.take((ROWS, LENGTH), np.int64)
    row = first[3][10:20]  # a view of a view: numpy would collapse its base onto an owning array
    row[:] = 5
    del first, _
    for _ in range(3):
        again = pool.take((ROWS, LENGTH), np.int64)
        assert not any(np.shares_memory(row, a) for a in again)
        again[0][:] = -1
        again[1][:] = -1
    assert row.tolist() == [5] * 10
    del row, again
    assert np.shares_memory(pool.take((ROWS, LENGTH), np.int64)[0], pool._pairs[0]), "free again"
