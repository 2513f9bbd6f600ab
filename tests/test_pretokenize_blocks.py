"""The block scanners (64 bytes classified at once into bit masks, cpp/src/pretokenize_gpt2.cpp) against
the scalar scanner they shortcut, and both against tiktoken: every alignment and tail length around
the block edges, non-ASCII bytes at every position of a block, contractions and whitespace runs on
block boundaries, and random text drawn to hit the rules' edges.

``_core.pretokenize_ends`` runs the encoder's batch path (blocks where they apply);
``_testing.pretokenize_ends_scalar`` runs the one-piece-per-call scanner."""

from __future__ import annotations

import random

import _pretokenize_cases as cases
import numpy as np
import pytest
from conftest import DATA, corpus_paths
from hypothesis import example, given
from hypothesis import strategies as st
from llmprep import _core
from llmprep._core import _testing

PATTERNS = ["gpt2", "cl100k_base", "o200k_base"]
pytestmark = pytest.mark.parametrize("pattern", PATTERNS)
# Bytes each block rule turns on: classes, U+0020 vs other whitespace, contraction letters, and a few
# non-ASCII characters (a letter, a space, a mark, CJK, an emoji, the long s that folds to "s").
RULE_ALPHABET = list("aZs tdmlvre\n\n\r\t\x0b\x0c  '.,-!09xLLVES") + [
    "\u00e9",
    "\u00a0",
    "\u0301",
    "\u4e2d",
    "\U0001f600",
    "\u017f",
    "\u2019",
    "\x1c",
]


def assert_blocks_match_scalar(text: str, pattern: str) -> None:
    block = _core.pretokenize_ends(text, pattern)
    scalar = _testing.pretokenize_ends_scalar(text, pattern)
    if np.array_equal(block, scalar):
        return
    m = min(len(block), len(scalar))
    first = int(np.argmax(block[:m] != scalar[:m])) if not np.array_equal(block[:m], scalar[:m]) else m
    data = text.encode("utf-8")
    start = int(scalar[first - 1]) if first > 0 else 0
    raise AssertionError(
        f"{pattern}: block scan differs from the scalar scan at piece {first} (byte {start}) of "
        f"{len(data)} bytes: block ends {block[first : first + 4].tolist()}, scalar ends "
        f"{scalar[first : first + 4].tolist()}, text there {data[start : start + 40]!r}"
    )


def rule_text(seed: int, size: int, alphabet: list[str]) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(size))


def test_every_alignment_and_tail_length(pattern: str) -> None:
    # Texts of 0..200 characters starting at each offset of a 64-byte block: each block edge, each
    # tail the blocks leave to the scalar scan, each piece cut by a block's trusted range.
    ascii_text = rule_text(1, 400, RULE_ALPHABET[:36])
    for offset in range(64):
        for size in range(0, 200, 3):
            assert_blocks_match_scalar(ascii_text[offset : offset + size], pattern)


def test_non_ascii_at_every_position_of_a_block(pattern: str) -> None:
    base = "It's a test of the   block scanner's trusted range:\n\n  they'll see 123 words.. ok "
    base = (base * 3)[:150]
    for char in ["\u00e9", "\u00a0", "\u3000", "\u0301", "\u4e2d", "\U0001f600", "\u017f", "\u2028"]:
        texts = [base[:i] + char + base[i:] for i in range(80)]
        for text in texts:
            assert_blocks_match_scalar(text, pattern)
        cases.pieces_match(texts[::7], pattern)


def test_contractions_and_whitespace_runs_on_block_edges(pattern: str) -> None:
    for filler in range(55, 70):
        for tail in ["'s", "'ll", "'ve", "'re", "'t'sam", "'S", "''s", " 'd", "\n'm", "  \n\n x", "\t\t y", "   "]:
            for after in ["", " x", "xy", "\n", "'s" * 3]:
                text = "a" * filler + tail + after + " end" * 20
                assert_blocks_match_scalar(text, pattern)
                assert_blocks_match_scalar(text[: filler + len(tail) + len(after)], pattern)


def test_long_pieces_fall_back_to_the_scalar_scan(pattern: str) -> None:
    for char in ["x", "7", "-", " ", "\n", "\u00e9", "'"]:
        for size in [62, 63, 64, 65, 66, 127, 128, 129, 1000]:
            assert_blocks_match_scalar("ab " + char * size + " cd" * 30, pattern)


# Small alphabets that make one rule fire many times per block: contractions chained after letters
# (o200k attaches them: "s'd" + "'s"), "/" and newlines after punctuation (o200k's [\r\n/]* tail),
# newlines inside whitespace runs, digit triples, case changes.
FOCUSED_ALPHABETS = [
    "abAB'sdlrvetm ",
    " \n\r\t'sx.9/",
    "\n/!x ",
    " \n\t!x/",
    "123 4.\n",
    "aB '\n1",
]


@pytest.mark.parametrize("alphabet", FOCUSED_ALPHABETS)
def test_focused_alphabets_match_scalar(pattern: str, alphabet: str) -> None:
    rng = random.Random(alphabet)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60, 260))) for _ in range(1500)]
    for text in texts:
        assert_blocks_match_scalar(text, pattern)
    cases.pieces_match(texts[:40], pattern)


@given(st.text(st.sampled_from(RULE_ALPHABET), min_size=60, max_size=400))
@example("x s'd's'd 'dBsl'dlAA Bd" * 4)
@example("!\n\n/\n/!/!/ \n! \n/\n\t\n x" * 4)
@example("'s" * 40 + " \n\n x" * 20)
@example(" " * 63 + "x" + " " * 64 + "\n" * 65 + "y")
def test_random_rule_text_matches_scalar_and_tiktoken(pattern: str, text: str) -> None:
    assert_blocks_match_scalar(text, pattern)
    cases.pieces_match([text], pattern)


def test_corpora_match_scalar(pattern: str) -> None:
    paths = corpus_paths()
    assert paths, f"no corpora in {DATA}"
    for path in paths:
        assert_blocks_match_scalar(path.read_text(encoding="utf-8"), pattern)
