"""Test bodies shared by the cl100k_base and o200k_base pre-tokenizer tests (tests/test_pretokenize_*.py)."""

from __future__ import annotations

import numpy as np
import tiktoken
from _pretokenize_probe import (
    SCALARS,
    WHITESPACE,
    assert_pieces_match_tiktoken,
    assert_same_ids,
    encoders,
    in_contexts,
    our_pieces,
    pat_str,
    true_safe_cuts,
)
from conftest import SANITIZER, code_points_to_check
from llmprep import _core
from llmprep._core import _testing

# The letters of (?i:[sdmt]|ll|ve|re) and every code point that case-folds to one (U+017F, long s).
CONTRACTION_LETTERS = [cp for cp in range(0x10000) if {chr(cp).lower(), chr(cp).upper()} & set("sdmtlvreSDMTLVRE")]
CONTEXTS = [("", ""), (" ", ""), ("a", "b"), ("1", "2"), ("!", "Aa"), ("A", "'s"), ("\u3000", "\u0301x")]


def code_points_in_context(pattern: str, prefix: str, suffix: str) -> None:
    # The piece probe's cost grows with its vocabulary: the first two planes (every script, symbol and
    # emoji), every letter, mark, number and whitespace character, and every 61st of the rest
    # (unassigned and private-use code points, all "other", as the exhaustive class tests check).
    fine = _testing.unicode_fine_class_table()[SCALARS]
    chosen = (SCALARS < 0x20000) | (fine != 0) | (np.arange(len(SCALARS)) % 61 == 0)
    # (Our side only under a sanitizer, on a sample of them: conftest.code_points_to_check.)
    sample = code_points_to_check(SCALARS[chosen])
    assert_pieces_match_tiktoken([in_contexts(sample, prefix, suffix)], pattern, fixed=True)
    assert_pieces_match_tiktoken([prefix + c + suffix for c in WHITESPACE + "\x1c\x1d\x1e\x1f"], pattern, fixed=True)


def a_merges(pattern: str, text: str, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tiktoken's, ours): for each offset of an "a", whether it is in one piece with the byte before it.
    The probe ranks the bytes and every pair ending in "a", so a pair merges iff its bytes share a piece."""
    ends = _core.pretokenize_ends(text, pattern)
    ours = ~np.isin(offsets, np.concatenate([[0], ends]))
    if SANITIZER:  # a fixed input: only our side under a sanitizer (conftest.SANITIZER)
        return ours, ours
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({bytes([x, ord("a")]): 256 + x for x in range(256)})
    probe = tiktoken.Encoding("llmprep-a-probe", pat_str=pat_str(pattern), mergeable_ranks=ranks, special_tokens={})
    sizes = 1 + (np.asarray(probe.encode_ordinary(text), dtype=np.int64) >= 256)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    theirs = ~np.isin(offsets, starts)
    return theirs, ours


def contraction_letters_match(pattern: str, prefix: str, middle: str) -> None:
    """prefix + c + middle + "a" for every scalar c (but "a" and "'", which the probe cannot see):
    whether "a" joins what precedes it tells where a case-insensitive contraction ended."""
    # Under a sanitizer a sample (conftest.code_points_to_check) with every letter a contraction can fold to.
    cps = code_points_to_check(SCALARS[~np.isin(SCALARS, [ord("a"), ord("'")])], hard=CONTRACTION_LETTERS)
    parts = [prefix + chr(cp) + middle + "a\n" for cp in cps.tolist()]
    text = "".join(parts)
    lengths = np.array([len(p.encode("utf-8")) for p in parts], dtype=np.int64)
    offsets = np.cumsum(lengths) - 2
    theirs, ours = a_merges(pattern, text, offsets)
    bad = np.flatnonzero(theirs != ours)
    assert bad.size == 0, f"{bad.size} differ, e.g. " + ", ".join(f"U+{cp:04X}" for cp in cps[bad[:10]])


def corpus_ids(name: str, text: str) -> None:
    assert_same_ids(name, text, fixed=True)


def parallel_equals_serial(name: str, text: str) -> None:
    ours, reference = encoders(name)
    serial = ours.encode(text, [], 1, 0)
    assert serial == reference.encode_ordinary(text)
    for task_bytes in (1, 7, 64, 1000):
        assert ours.encode(text, [], 2, task_bytes) == serial, task_bytes


def safe_cuts_never_change_pieces(text: str, pattern: str) -> None:
    data = text.encode("utf-8")
    ours = set(_testing.safe_cuts(text, pattern).tolist())
    truth = true_safe_cuts(data, pattern)
    assert ours <= truth, f"unsafe cuts reported: {sorted(ours - truth)}"


def pieces_match(texts: list[str], pattern: str) -> None:
    assert_pieces_match_tiktoken(texts, pattern)
    for text in texts:
        assert b"".join(our_pieces(text, pattern)) == text.encode("utf-8")


def chunker_cuts_keep_ids(name: str, text: str, chunk_bytes: int, block: int, threads: int = 1) -> None:
    """The streaming chunker cuts `text` (fed in blocks) with the pattern's rule; encoding the chunks
    with the encoder's own pattern and joining gives tiktoken's ids for the whole text."""
    data = text.encode("utf-8")
    chunker = _core.TextChunker(name, chunk_bytes, False, "test")
    chunks: list[bytes] = []
    for i in range(0, len(data), block):
        chunks += chunker.push(data[i : i + block])
    chunks += chunker.finish()
    assert b"".join(chunks) == data and all(chunks)
    ours, reference = encoders(name)
    got = [int(i) for array in _core.bpe_encode_chunks(ours, chunks, threads) for i in array]
    assert got == reference.encode_ordinary(text)
