"""Tests the cl100k_base and o200k_base pre-tokenizers share, run for each pattern: pieces of every
code point in context and of random text against tiktoken, ids of the real encoding, worst cases,
parallel == serial, safe cuts and the streaming chunker. What differs between the two patterns
(classes, contractions, golden pieces, the cut cases) is in tests/test_pretokenize_cl100k.py and _o200k.py.
(Probe encodings: see tests/_pretokenize_probe.py.)"""

from __future__ import annotations

import itertools
from pathlib import Path

import _pretokenize_cases as cases
import numpy as np
import pytest
from _pretokenize_probe import adversarial_text, assert_same_ids, encoders, script_text
from conftest import DATA, corpus_paths
from hypothesis import example, given
from hypothesis import strategies as st
from llmprep._core import _testing

PATTERNS = ["cl100k_base", "o200k_base"]
pytestmark = pytest.mark.parametrize("pattern", PATTERNS)
# Appended to prose for parallel == serial: each pattern's hard cases.
PARALLEL_TAIL = {
    "cl100k_base": "\n\n  x\u3000y 12345 '\u017fam",
    "o200k_base": "\n\n  x\u3000y 12345 a'\u017fam ABc\u0301D",
}


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "suffix"), cases.CONTEXTS)
def test_code_points_in_context_match_tiktoken(pattern: str, prefix: str, suffix: str) -> None:
    cases.code_points_in_context(pattern, prefix, suffix)


@given(adversarial_text)
@example("a \u00a0\u00a0 b\u2028\u2028c\u3000d \r\n e'S f\u2019s 1\u0663 \U0001f468\u200d\U0001f469 \u0301x  ")
@example("'\u017fam!!\n\n\r/ 12345\t\t\n x")
def test_random_pieces_match_tiktoken(pattern: str, text: str) -> None:
    cases.pieces_match([text], pattern)


@given(script_text)
def test_script_pieces_match_tiktoken(pattern: str, text: str) -> None:
    cases.pieces_match([text], pattern)


@given(st.lists(st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "\u3000", "\xa0", "x", "!", "1"]), max_size=30))
def test_whitespace_runs_match_tiktoken(pattern: str, bits: list[str]) -> None:
    cases.pieces_match(["".join(bits)], pattern)


@given(st.text(st.sampled_from("0123456789\u0663\u00bd x"), max_size=40))
def test_digit_runs_match_tiktoken(pattern: str, text: str) -> None:
    cases.pieces_match([text], pattern)


@pytest.mark.parametrize("word", ["s", "t", "d", "m", "ll", "ve", "re"])
def test_contractions_in_every_case(pattern: str, word: str) -> None:
    variants = ["".join(v) for v in itertools.product(*[(c.lower(), c.upper()) for c in word])]
    if "s" in word:
        variants.append("\u017f")
    texts = [
        f"{lead}'{v}{tail}"
        for v in variants
        for lead in ("", "x", "X", " ", "1", "\u02b0", "\u0301")
        for tail in ("", "am", " ", "'s")
    ]
    cases.pieces_match(texts, pattern)


# ---------------------------------------------------------------------------------------------------
# The real encoding


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_ids_match_tiktoken(pattern: str, path: Path) -> None:
    assert_same_ids(pattern, path.read_text(encoding="utf-8"), fixed=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wordnet.txt", "freedict-jpn-deu.txt"])
def test_large_corpus_slices_match_tiktoken(pattern: str, name: str) -> None:
    path = DATA / "large" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = path.read_bytes()
    for start in range(0, len(data), len(data) // 4 + 1):
        chunk = data[start : start + 2_000_000].decode("utf-8", errors="ignore")
        assert_same_ids(pattern, chunk, fixed=True)


def test_ids_of_a_sample(pattern: str, verdict_text: str) -> None:
    ours, reference = encoders(pattern)
    assert ours.pattern == pattern
    assert ours.encode(verdict_text[:5000], [], 1) == reference.encode_ordinary(verdict_text[:5000])


@given(adversarial_text)
def test_random_ids_match_tiktoken(pattern: str, text: str) -> None:
    assert_same_ids(pattern, text)


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["x", "7", "-", " ", "\n", "\u4e2d", "\u0301", "'s", "a ", "1 ", "\r\n "])
def test_worst_cases(pattern: str, unit: str) -> None:
    # tiktoken's own o200k regex overflows its stack on 1 MB of spaces (a Rust panic): 300 kB is its limit.
    size = 300_000 if (pattern, unit) == ("o200k_base", " ") else 1_000_000
    text = unit * (size // len(unit.encode("utf-8")))
    assert_same_ids(pattern, text, fixed=True)
    cases.pieces_match([unit * 5000], pattern)


def test_parallel_equals_serial(pattern: str, verdict_text: str) -> None:
    cases.parallel_equals_serial(pattern, verdict_text[:20_000] + PARALLEL_TAIL[pattern])


@given(adversarial_text)
def test_parallel_equals_serial_on_random_text(pattern: str, text: str) -> None:
    ours, _ = encoders(pattern)
    assert ours.encode(text, [], 2, 1) == ours.encode(text, [], 1, 0)


# ---------------------------------------------------------------------------------------------------
# Safe cuts


@given(adversarial_text)
@example("it's a\n\nb \n  x\u3000\u3000y'sam!!\n\n \t1")
def test_safe_cuts_never_change_pieces(pattern: str, text: str) -> None:
    cases.safe_cuts_never_change_pieces(text, pattern)


@given(adversarial_text, st.integers(0, 200))
def test_next_safe_cut_is_the_smallest(pattern: str, text: str, start: int) -> None:
    size = len(text.encode("utf-8"))
    start = min(start, size)
    cuts = [0, *_testing.safe_cuts(text, pattern).tolist(), size]
    assert _testing.next_safe_cut(text, start, pattern) == next(p for p in cuts if p >= start)


def test_prose_has_many_safe_cuts(pattern: str, verdict_text: str) -> None:
    cuts = _testing.safe_cuts(verdict_text, pattern)
    assert len(cuts) > len(verdict_text) // 16
    assert np.diff(cuts).max() < 200
    text = verdict_text[:3000]
    cases.safe_cuts_never_change_pieces(text, pattern)


@given(adversarial_text, st.integers(1, 24), st.integers(1, 17))
def test_chunker_cuts_keep_ids(pattern: str, text: str, chunk_bytes: int, block: int) -> None:
    cases.chunker_cuts_keep_ids(pattern, text, chunk_bytes, block)


def test_chunker_on_prose(pattern: str, verdict_text: str) -> None:
    cases.chunker_cuts_keep_ids(pattern, verdict_text, 1000, 4096, threads=2)
    cases.chunker_cuts_keep_ids(pattern, verdict_text[:5000], 7, 3)
