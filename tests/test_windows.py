"""The C++ window kernels (llmprep._core.window_count / gather_windows / materialize_windows).

Reference: the chapter's loop, ``range(0, n - max_length, stride)`` with ``ids[i:i + max_length]`` and
``ids[i + 1:i + max_length + 1]``, written with numpy slicing.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmprep import _core

TOKEN_DTYPES = [np.uint16, np.uint32, np.int32, np.int64]
OUT_DTYPES = [np.int64, np.int32]


def reference_windows(ids: np.ndarray, max_length: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    starts = range(0, len(ids) - max_length, stride)
    inputs = [ids[i : i + max_length] for i in starts]
    targets = [ids[i + 1 : i + max_length + 1] for i in starts]
    shape = (len(starts), max_length)
    return (
        np.array(inputs, dtype=np.int64).reshape(shape),
        np.array(targets, dtype=np.int64).reshape(shape),
    )


def gather(tokens, max_length, stride, windows, out_dtype=np.int64, num_threads=0):
    inputs = np.full((len(windows), max_length), -7, dtype=out_dtype)
    targets = np.full((len(windows), max_length), -7, dtype=out_dtype)
    _core.gather_windows(tokens, max_length, stride, windows, inputs, targets, num_threads)
    return inputs, targets


@given(n=st.integers(0, 500), max_length=st.integers(1, 60), stride=st.integers(1, 70))
def test_window_count_is_the_chapters_range(n: int, max_length: int, stride: int) -> None:
    assert _core.window_count(n, max_length, stride) == len(range(0, n - max_length, stride))


def test_window_count_64_bit() -> None:
    n = 3 * 2**40
    assert _core.window_count(n, 1024, 7) == len(range(0, n - 1024, 7))


@pytest.mark.parametrize("bad", [0, -1])
def test_window_count_rejects_non_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="max_length must be a positive"):
        _core.window_count(100, bad, 1)
    with pytest.raises(ValueError, match="stride must be a positive"):
        _core.window_count(100, 4, bad)


@pytest.mark.parametrize("token_dtype", TOKEN_DTYPES)
@pytest.mark.parametrize("out_dtype", OUT_DTYPES)
@given(data=st.data())
def test_gather_matches_reference(token_dtype, out_dtype, data) -> None:
    n = data.draw(st.integers(2, 300))
    max_length = data.draw(st.integers(1, n - 1))
    stride = data.draw(st.integers(1, 40))
    high = 50257 if token_dtype is np.uint16 else 2**31 - 1
    ids = np.array(data.draw(st.lists(st.integers(0, high), min_size=n, max_size=n)), dtype=token_dtype)
    ref_in, ref_tg = reference_windows(ids, max_length, stride)
    windows = data.draw(st.lists(st.integers(0, len(ref_in) - 1), max_size=20))
    inputs, targets = gather(ids, max_length, stride, windows, out_dtype)
    assert inputs.dtype == out_dtype
    np.testing.assert_array_equal(inputs, ref_in[windows].astype(out_dtype))
    np.testing.assert_array_equal(targets, ref_tg[windows].astype(out_dtype))


@pytest.mark.parametrize("token_dtype", TOKEN_DTYPES)
def test_materialize_matches_reference(token_dtype) -> None:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50257, size=2000).astype(token_dtype)
    for max_length, stride in [(4, 1), (4, 4), (4, 5), (64, 128), (256, 128), (1999, 1)]:
        inputs, targets = _core.materialize_windows(ids, max_length, stride)
        ref_in, ref_tg = reference_windows(ids, max_length, stride)
        assert inputs.flags.c_contiguous and inputs.dtype == np.int64
        np.testing.assert_array_equal(inputs, ref_in)
        np.testing.assert_array_equal(targets, ref_tg)
    inputs32, _ = _core.materialize_windows(ids, 16, 3, int32=True)
    assert inputs32.dtype == np.int32
    np.testing.assert_array_equal(inputs32, reference_windows(ids, 16, 3)[0])


def test_parallel_equals_single_thread() -> None:
    # Large enough (> 2 x 256K ids) for the gather to fan out over threads.
    rng = np.random.default_rng(2)
    ids = rng.integers(0, 50257, size=300_000).astype(np.uint16)
    one_in, one_tg = _core.materialize_windows(ids, 64, 3, num_threads=1)
    many_in, many_tg = _core.materialize_windows(ids, 64, 3, num_threads=4)
    np.testing.assert_array_equal(one_in, many_in)
    np.testing.assert_array_equal(one_tg, many_tg)
    windows = rng.integers(0, len(one_in), size=20_000)
    in4, tg4 = gather(ids, 64, 3, windows, num_threads=4)
    np.testing.assert_array_equal(in4, one_in[windows])
    np.testing.assert_array_equal(tg4, one_tg[windows])


def test_gather_reads_a_memmap(tmp_path) -> None:
    ids = np.arange(1000, dtype=np.uint16)
    path = tmp_path / "ids.bin"
    ids.tofile(path)
    mapped = np.memmap(path, dtype=np.uint16, mode="r")
    inputs, targets = gather(mapped, 8, 8, [0, 5, 123])
    np.testing.assert_array_equal(inputs, reference_windows(ids, 8, 8)[0][[0, 5, 123]])
    np.testing.assert_array_equal(targets, reference_windows(ids, 8, 8)[1][[0, 5, 123]])


def test_gather_accepts_a_numpy_index_array() -> None:
    ids = np.arange(100, dtype=np.uint32)
    inputs, _ = gather(ids, 4, 2, np.array([3, 1], dtype=np.int64))
    np.testing.assert_array_equal(inputs, [[6, 7, 8, 9], [2, 3, 4, 5]])


# ----------------------------------------------------------------------------------------------
# Bad input: exceptions, never a crash, and a rejected batch writes nothing.


def test_index_out_of_range_writes_nothing() -> None:
    ids = np.arange(20, dtype=np.uint16)
    inputs = np.full((3, 4), -7, dtype=np.int64)
    targets = np.full((3, 4), -7, dtype=np.int64)
    for bad in (4, -1):
        with pytest.raises(IndexError, match=rf"window index {bad} \(at position 2\) is out of range: there are 4"):
            _core.gather_windows(ids, 4, 4, [0, 1, bad], inputs, targets)
        assert (inputs == -7).all() and (targets == -7).all()


@pytest.mark.parametrize("token_dtype", [np.int32, np.int64])
def test_negative_ids_are_rejected(token_dtype) -> None:
    ids = np.arange(20, dtype=token_dtype)
    ids[9] = -3
    gather(ids, 4, 4, [0, 1])  # windows 0 and 1 read tokens 0..8 only
    with pytest.raises(ValueError, match="token id -3 at position 9 is negative"):
        gather(ids, 4, 4, [2])
    with pytest.raises(ValueError, match="token id -3 at position 9 is negative"):
        _core.materialize_windows(ids, 4, 4)


def test_targets_last_token_is_checked_too() -> None:
    ids = np.arange(10, dtype=np.int64)
    ids[4] = -1  # only the target of window 0 (tokens 0..4) reads it
    with pytest.raises(ValueError, match="position 4 is negative"):
        gather(ids, 4, 4, [0])


@pytest.mark.parametrize("token_dtype", [np.uint32, np.int64])
def test_ids_too_large_for_int32_output(token_dtype) -> None:
    ids = np.arange(20, dtype=token_dtype)
    ids[2] = 2**31
    gather(ids, 4, 4, [0])  # int64 output holds it
    with pytest.raises(ValueError, match="does not fit the int32 output; use int64"):
        gather(ids, 4, 4, [0], out_dtype=np.int32)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint64, np.float32, ">u2"])
def test_unsupported_token_dtype(dtype) -> None:
    with pytest.raises(TypeError, match="tokens must have dtype uint16, uint32, int32 or int64"):
        gather(np.arange(20).astype(dtype), 4, 4, [0])


def test_token_layout_is_checked() -> None:
    with pytest.raises(ValueError, match="1-D C-contiguous"):
        gather(np.arange(40, dtype=np.uint16)[::2], 4, 4, [0])
    with pytest.raises(ValueError, match="1-D C-contiguous"):
        gather(np.zeros((4, 10), dtype=np.uint16), 4, 4, [0])


def test_output_buffers_are_checked() -> None:
    ids = np.arange(40, dtype=np.uint16)
    good = np.empty((2, 4), dtype=np.int64)
    with pytest.raises(ValueError, match=r"inputs must have shape \(2, 4\)"):
        _core.gather_windows(ids, 4, 4, [0, 1], np.empty((2, 5), np.int64), good)
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 4\)"):
        _core.gather_windows(ids, 4, 4, [0, 1], good, np.empty(8, np.int64))
    with pytest.raises(TypeError, match="int64 or int32"):
        _core.gather_windows(ids, 4, 4, [0, 1], np.empty((2, 4), np.float64), good)
    with pytest.raises(TypeError, match="same dtype"):
        _core.gather_windows(ids, 4, 4, [0, 1], np.empty((2, 4), np.int32), good)
    readonly = np.empty((2, 4), dtype=np.int64)
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="writable C-contiguous"):
        _core.gather_windows(ids, 4, 4, [0, 1], readonly, good)
    with pytest.raises(ValueError, match="writable C-contiguous"):
        _core.gather_windows(ids, 4, 4, [0, 1], np.empty((4, 2), np.int64).T, good)
    both = np.empty((3, 4), dtype=np.int64)
    with pytest.raises(ValueError, match="must not overlap"):
        _core.gather_windows(ids, 4, 4, [0, 1], both[:2], both[1:])
    with pytest.raises(ValueError, match="1-D sequence"):
        _core.gather_windows(ids, 4, 4, [[0, 1]], good, good.copy())
