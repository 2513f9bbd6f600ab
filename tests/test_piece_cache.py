"""The per-thread piece cache behind every BPE encoding (cpp/include/llmprep/piece_cache.hpp).

Everything is checked against tiktoken: growth, eviction at a (test-lowered) cap, pieces whose key or
ids spill out of the 32-byte entry, keys that share their first words, several encoders taking turns
on one thread, parallel calls (which freeze the caller's cache and absorb what every thread learned
afterwards),
and tables allocated with and without huge pages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest
import tiktoken
from conftest import SHARED
from llmprep import _core
from llmprep._core import _testing

INITIAL_ENTRIES = 4096  # PieceTable::kInitialEntries
ENTRY_BYTES = 32


@pytest.fixture(autouse=True)
def restore_settings() -> Iterator[None]:
    before = _testing.piece_cache_settings()
    yield
    _testing.piece_cache_settings(*before)


@pytest.fixture(scope="module")
def refs() -> dict[str, tiktoken.Encoding]:
    return {name: tiktoken.get_encoding(name) for name in ("gpt2", "cl100k_base", "o200k_base")}


def fresh(ref: tiktoken.Encoding) -> _core.BpeEncoder:
    """A new encoder: a new owner id, so the calling thread's cache starts empty for it."""
    return _core.BpeEncoder(ref._mergeable_ranks, ref._special_tokens, pattern=ref.name)


@pytest.fixture(scope="module")
def text() -> str:
    # Many distinct words (a few tens of thousands of distinct pieces), kept short for speed.
    return (SHARED / "data" / "wikitext2-valid.txt").read_text(encoding="utf-8")[:400_000]


def test_cache_grows_without_evicting_under_the_default_cap(refs, text) -> None:
    enc = fresh(refs["gpt2"])
    assert _testing.piece_cache_stats(enc)["capacity"] == 0  # nothing allocated before the first piece
    expected = refs["gpt2"].encode_ordinary(text)
    assert enc.encode_to_numpy(text, [], 1).tolist() == expected
    stats = _testing.piece_cache_stats(enc)
    assert stats["capacity"] > INITIAL_ENTRIES
    assert stats["size"] * 4 <= stats["capacity"] * 3
    assert stats["evictions"] == 0
    # The second pass is answered from the cache, with the same ids; nothing new is added.
    assert enc.encode_to_numpy(text, [], 1).tolist() == expected
    assert _testing.piece_cache_stats(enc)["size"] == stats["size"]


def test_cache_evicts_at_the_cap_and_stays_exact(refs, text) -> None:
    _testing.piece_cache_settings(max_table_bytes=INITIAL_ENTRIES * ENTRY_BYTES)
    for name, ref in refs.items():
        enc = fresh(ref)
        expected = ref.encode_ordinary(text)
        for _ in range(2):
            assert enc.encode_to_numpy(text, [], 1).tolist() == expected, name
        stats = _testing.piece_cache_stats(enc)
        assert stats["capacity"] == INITIAL_ENTRIES, name
        assert stats["evictions"] >= 2, name
        assert 0 < stats["size"] <= INITIAL_ENTRIES * 3 // 4, name


def _pieces_of_every_shape(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces: list[bytes] = []
    for length in range(1, 70):  # across the 15/16-byte key split and past the 64-byte cache limit
        pieces.append(bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(length)))  # many ids
        pieces.append(b" " + b"the" * (length // 3 + 1))  # few ids
        pieces.append(bytes(rng.randrange(256) for _ in range(length)))  # any bytes, often one id per byte
        pieces.append(b"x" * length)
    # Keys equal in their first 15 bytes, or equal but for trailing NULs (zero padding in the entry).
    stem = b"internationaliz"
    pieces += [stem + tail for tail in (b"", b"e", b"ed", b"ation", b"ations", b"\x00", b"\x00\x00")]
    pieces += [b"ab" + b"\x00" * k for k in range(0, 20)]
    return list(dict.fromkeys(pieces))


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_inline_and_spilled_entries(refs, name) -> None:
    ref = refs[name]
    enc = fresh(ref)
    pieces = _pieces_of_every_shape(seed=len(name))
    expected = [ref._encode_single_piece(p) for p in pieces]
    counts = {len(ids) for ids in expected}
    assert {1, 2, 3, 4, 5, 6} <= counts  # inline (<= 4 ids) and spilled id lists both occur
    assert enc.encode_pieces(pieces, True) == expected  # misses: merged and cached
    assert _testing.piece_cache_stats(enc)["spilled"] > 0
    assert enc.encode_pieces(pieces, True) == expected  # hits
    assert enc.encode_pieces(list(reversed(pieces)), True) == list(reversed(expected))


def test_encoders_taking_turns_on_one_thread(refs, text) -> None:
    encs = [(ref, fresh(ref)) for ref in refs.values()] + [(refs["gpt2"], fresh(refs["gpt2"]))]
    parts = [text[i : i + 20_000] for i in range(0, 200_000, 20_000)]
    expected = {id(enc): [ref.encode_ordinary(p) for p in parts] for ref, enc in encs}
    for i, part in enumerate(parts):
        for _, enc in encs:
            assert enc.encode_to_numpy(part, [], 1).tolist() == expected[id(enc)][i]
    # Only the encoder that ran last owns the thread's cache.
    assert _testing.piece_cache_stats(encs[-1][1])["size"] > 0
    assert _testing.piece_cache_stats(encs[0][1])["size"] == 0
    # An encoder that goes away frees this thread's cache; a new one starts empty and is exact.
    ref, last = encs.pop()
    del last
    again = fresh(ref)
    assert _testing.piece_cache_stats(again)["capacity"] == 0
    assert again.encode_to_numpy(parts[0], [], 1).tolist() == expected[id(encs[0][1])][0]


@pytest.mark.parametrize("cap", [None, INITIAL_ENTRIES * ENTRY_BYTES])
@pytest.mark.parametrize("name", ["gpt2", "o200k_base"])
def test_parallel_equals_serial(refs, text, name, cap) -> None:
    if cap is not None:
        _testing.piece_cache_settings(max_table_bytes=cap)
    ref = refs[name]
    enc = fresh(ref)
    expected = np.asarray(ref.encode_ordinary(text), dtype=np.uint32)
    # Tiny tasks: many cut points, workers and the caller's frozen cache all in play; twice, so that
    # the second call starts from what the first one absorbed.
    for _ in range(2):
        assert np.array_equal(enc.encode_to_numpy(text, [], 2, 16_384), expected)
    docs = [text[i : i + 7_000] for i in range(0, len(text), 7_000)]
    got = enc.encode_batch(docs, [], 2, 4_096)
    assert got == [ref.encode_ordinary(d) for d in docs]
    assert np.array_equal(enc.encode_to_numpy(text, [], 1), expected)


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base"])
def test_parallel_call_passes_on_what_every_thread_learned(refs, text, name) -> None:
    # The caller ends a parallel call knowing every piece any thread met, as after a serial pass:
    # pieces only a pool thread encoded are not merged again by the next call's threads.
    serial = fresh(refs[name])
    serial.encode_to_numpy(text, [], 1)
    learned = _testing.piece_cache_stats(serial)["size"]
    enc = fresh(refs[name])
    enc.encode_to_numpy(text, [], 2, 16_384)
    assert _testing.piece_cache_stats(enc)["size"] == learned
    docs = [text[i : i + 7_000] for i in range(0, len(text), 7_000)]
    batch = fresh(refs[name])
    batch.encode_batch(docs, [], 2, 4_096)
    learned_in_batch = _testing.piece_cache_stats(batch)["size"]  # before another encoder takes the thread
    # Pieces that a document's end cuts short differ from the whole text's, so compare with the
    # same documents encoded serially.
    again = fresh(refs[name])
    again.encode_batch(docs, [], 1, 0)
    assert learned_in_batch == _testing.piece_cache_stats(again)["size"]


@pytest.mark.parametrize("huge_pages", [False, True])
def test_huge_pages_or_not(refs, huge_pages) -> None:
    _testing.piece_cache_settings(huge_pages=huge_pages)
    ref = refs["gpt2"]
    enc = fresh(ref)
    # Enough distinct pieces for a table past 2 MiB (65536 entries and more).
    rng = random.Random(5)
    words = [
        " " + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(3, 9)))
        for _ in range(60_000)
    ]
    text = "".join(words)
    assert enc.encode_to_numpy(text, [], 1).tolist() == ref.encode_ordinary(text)
    stats = _testing.piece_cache_stats(enc)
    assert stats["capacity"] * ENTRY_BYTES >= 2 << 20
    if not huge_pages:
        assert not stats["huge_pages"]  # with them, the kernel may or may not grant the advice
    assert enc.encode_to_numpy(text, [], 1).tolist() == ref.encode_ordinary(text)


def test_settings_hook_round_trips() -> None:
    cap, huge = _testing.piece_cache_settings()
    assert cap == 64 << 20 and isinstance(huge, bool)
    assert _testing.piece_cache_settings(max_table_bytes=1 << 20, huge_pages=False) == (cap, huge)
    assert _testing.piece_cache_settings() == (1 << 20, False)


def test_parallel_calls_from_several_python_threads(refs, text) -> None:
    # Each caller freezes its own cache; pool threads serve one call after another (each call's
    # learned tables are its own), so interleaved parallel calls on one encoder stay exact.
    from concurrent.futures import ThreadPoolExecutor

    ref = refs["cl100k_base"]
    enc = fresh(ref)
    parts = [text[i : i + 60_000] for i in range(0, 360_000, 60_000)]
    expected = [np.asarray(ref.encode_ordinary(p), dtype=np.uint32) for p in parts]
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda p: enc.encode_to_numpy(p, [], 2, 4_096), parts * 3))
    assert all(np.array_equal(g, e) for g, e in zip(got, expected * 3))


@pytest.mark.parametrize("name", ["gpt2", "cl100k_base", "o200k_base"])
def test_spilled_pieces_found_again_by_the_encode_loop(refs, name) -> None:
    # Text whose pieces spill (keys over 15 bytes, more than four ids), repeated so that later
    # occurrences are answered from the home pair's arena (View::find_spilled), serial and in
    # parallel calls (the caller's frozen table first); long keys that share their first 15 bytes
    # and their length differ only in the tail.
    ref = refs[name]
    rng = random.Random(5)
    letters = "abcdefghijklmnopqrstuvwxyzéßø"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(6, 40))) for _ in range(300)]
    words += ["internationalisation" + "".join(rng.choice("xyz") for _ in range(6)) for _ in range(50)]
    words += ["".join(rng.choice("中文日本語のカタカナ한국어") for _ in range(rng.randint(2, 20))) for _ in range(100)]
    text = " ".join(rng.choice(words) for _ in range(20_000))
    expected = np.asarray(ref.encode_ordinary(text), dtype=np.uint32)
    enc = fresh(ref)
    for _ in range(2):
        assert np.array_equal(enc.encode_to_numpy(text, [], 1), expected)
    assert _testing.piece_cache_stats(enc)["spilled"] > 300
    for _ in range(2):
        assert np.array_equal(enc.encode_to_numpy(text, [], 2, 16_384), expected)


def test_kept_learned_tables_of_parallel_calls_start_empty(refs, text) -> None:
    # A parallel call's learned tables are kept for the next call (bpe.cpp's LearnedPool) and
    # cleared when taken: encoders that give the same pieces other ids take turns, so an entry left
    # over from the other encoder's call would give a wrong id. Each call reads more bytes per thread
    # than a table of the initial size holds (so it may take a kept one) with fewer distinct pieces
    # than make a table grow, and starts from a fresh encoder (an empty frozen table), so every
    # piece is looked up in the learned table first.
    assert INITIAL_ENTRIES * ENTRY_BYTES < 150_000
    for start in range(0, 100_000, 20_000):
        part = text[start : start + 20_000] * 15
        for name in ("gpt2", "cl100k_base", "o200k_base", "gpt2"):
            ref = refs[name]
            enc = fresh(ref)
            got = enc.encode_to_numpy(part, [], 2, 8_192)
            assert np.array_equal(got, np.asarray(ref.encode_ordinary(part), dtype=np.uint32)), name
            # What both threads learned fits a table of the initial size: none of them grew.
            assert _testing.piece_cache_stats(enc)["size"] * 4 <= INITIAL_ENTRIES * 3
