"""The BPE merge itself, piece by piece, against tiktoken's `_encode_single_piece`.

Pieces come from the `regex` module running tiktoken's pattern (fine for this: the merge, not the
pre-tokenizer, is under test here) and from hypothesis, including long pieces of arbitrary bytes that
take the long-piece merge path and pieces that are not UTF-8 at all.
"""

from __future__ import annotations

import random
import string

import llmprep
import pytest
import regex
from conftest import corpus_paths
from hypothesis import given
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def core():
    return llmprep.get_encoding("gpt2")._core


def _reference(tiktoken_gpt2, pieces: list[bytes]) -> list[list[int]]:
    return [tiktoken_gpt2._encode_single_piece(p) for p in pieces]


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_pieces_match_tiktoken(core, tiktoken_gpt2, path) -> None:
    text = path.read_text(encoding="utf-8")
    # Distinct pieces keep the comparison quick; order is kept so the cache is exercised as in use.
    pieces = list(dict.fromkeys(p.encode("utf-8") for p in regex.findall(tiktoken_gpt2._pat_str, text)))
    expected = _reference(tiktoken_gpt2, pieces)
    assert core.encode_pieces(pieces, True) == expected
    assert core.encode_pieces(pieces, False) == expected
    # A second pass is answered from the piece cache and must not differ.
    assert core.encode_pieces(pieces, True) == expected


@pytest.mark.parametrize("unit", [b"x", b"7", b"-", b" ", b"\n", b"ab", b"\xc3\xa9", b"\xe4\xb8\xad", b"=-", b"aab"])
@pytest.mark.parametrize("repeats", [1, 2, 3, 63, 64, 65, 127, 128, 129, 500, 4097])
def test_repeated_runs_match_tiktoken(core, tiktoken_gpt2, unit: bytes, repeats: int) -> None:
    piece = unit * repeats
    expected = _reference(tiktoken_gpt2, [piece])
    assert core.encode_pieces([piece], False) == expected
    assert core.encode_pieces([piece], True) == expected


_ALPHABET = [b"a", b"b", b"e", b"r", b"t", b" ", b"\n", b"0", b"1", b"-", b"=", b"\xe2", b"\x80", b"\x94", b"\xff"]


@given(st.lists(st.sampled_from(_ALPHABET), min_size=1, max_size=3000).map(b"".join))
def test_arbitrary_byte_pieces_match_tiktoken(core, tiktoken_gpt2, piece: bytes) -> None:
    expected = _reference(tiktoken_gpt2, [piece])
    assert core.encode_pieces([piece], False) == expected
    assert core.encode_pieces([piece], True) == expected


@given(st.binary(min_size=1, max_size=400))
def test_random_bytes_match_tiktoken(core, tiktoken_gpt2, piece: bytes) -> None:
    assert core.encode_pieces([piece], False) == _reference(tiktoken_gpt2, [piece])


def test_empty_piece_gives_no_tokens(core) -> None:
    assert core.encode_pieces([b""], True) == [[]]
    assert core.encode_pieces([b""], False) == [[]]


LONG_PIECES = {
    "run": b"x" * 20_000,
    "run-shifted": b"y" + b"x" * 20_000,  # pairs straddle every chunk boundary: merged whole
    "pairs": b"ab" * 6_000,
    "dashes-then-equals": b"-" * 9_000 + b"=",
    "digits": b"7" * 8_193,
    "two-byte-char": "é".encode() * 5_000,
    # Repeated chunks are reused, with their boundary checks: periods of 1, 2 and 3 chunks.
    "period-3-bytes": b"abc" * 7_000,
    "three-byte-char": "中".encode() * 7_000,
    # Fixed chunks end before a character's first byte: whole characters per chunk, so they repeat.
    "three-byte-char-long": "中".encode() * 30_000,
    "four-byte-char-long": "😀".encode() * 9_000 + "é".encode() * 5_000,
    "run-between-others": b"q" * 5 + b"x" * 30_000 + b"=" + b"x" * 9_000 + b"qq",
    "run-of-a-digit": b"7" * 30_001,
    "mixed-period": (b"-" * 4_096 + b"=" * 4_096) * 4 + b"-" * 100,
    # The second copy of the x chunk repeats the first, but its left neighbour differs, and the
    # odd-length x run of that neighbour pairs across the boundary: it must be checked, not reused.
    "repeat-after-new-neighbour": b"x" * 4_096 + b"\x00" + b"x" * 4_095 + b"x" * 4_096 * 2 + b"x" * 50,
    # GPT-2 has no token of two spaces: a run of them is one-byte spans, taken 64 positions at a time,
    # here starting and ending at every offset in a block, between words that a space leads.
    "spaces-between-words": b"".join(b" " * n + b"word" for n in range(60, 200)) + b" " * 1_000,
}


@pytest.mark.parametrize("name", LONG_PIECES)
def test_long_pieces_chunked_or_whole_match_tiktoken(core, tiktoken_gpt2, name: str) -> None:
    piece = LONG_PIECES[name]
    assert core.encode_pieces([piece], False) == _reference(tiktoken_gpt2, [piece])


@pytest.mark.parametrize("seed", range(6))
def test_long_random_pieces_match_tiktoken(core, tiktoken_gpt2, seed: int) -> None:
    # Above 8 KiB a piece is merged in 4 KiB chunks whose boundaries are checked; random text over
    # a small alphabet makes merges across those boundaries (and so the whole-piece fallback) likely.
    rng = random.Random(seed)
    alphabet = [b"a", b"b", b"e", b"t", b"h", b" ", b"-", b"x", b"\xe2\x80\x94"]
    piece = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(8_200, 14_000)))
    assert core.encode_pieces([piece], False) == _reference(tiktoken_gpt2, [piece])


@pytest.mark.parametrize("seed", range(4))
def test_long_pieces_where_fixed_chunks_fail_match_tiktoken(core, tiktoken_gpt2, seed: int) -> None:
    # Random digits (every pair of digits is a GPT-2 token) merge across nearly every fixed 4 KiB
    # boundary, so these pieces take merge_groups: ~512-byte chunks ending at a guessed token
    # boundary, regrouped where the boundary check fails. Lengths around the group size too.
    rng = random.Random(seed)
    alphabets = ["0123456789", "01", "abcdefghijklmnopqrstuvwxyz", "ab"]
    for size in (8_192, 8_193 + rng.randrange(1_000), 30_000 + rng.randrange(30_000)):
        piece = "".join(rng.choice(alphabets[seed]) for _ in range(size)).encode()
        assert core.encode_pieces([piece], False) == _reference(tiktoken_gpt2, [piece]), size


@pytest.mark.parametrize(
    "alphabet", ["abcdefghijklmnopqrstuvwxyz", "etaoin shr", "0123456789", "-=_.,;:!?*#/+", string.ascii_letters]
)
def test_long_random_words_match_tiktoken(core, tiktoken_gpt2, alphabet: str) -> None:
    # Long pieces are first cut where two bytes are adjacent in no token (visited 64 positions at a
    # time); a missed bigram would show up as a wrong merge here. Mixed-case letters and marks cut
    # into spans of one or two bytes, merged into blocks of pending ids: sizes around both.
    rng = random.Random(alphabet)
    for size in (200, 5_000, 20_000, 63, 64, 65, 127, 129, 4_097, 6_000):
        piece = "".join(rng.choice(alphabet) for _ in range(size)).encode()
        assert core.encode_pieces([piece], False) == _reference(tiktoken_gpt2, [piece]), size
