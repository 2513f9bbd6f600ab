"""The BPE merge itself, piece by piece, against tiktoken's `_encode_single_piece`.

Pieces come from the `regex` module running tiktoken's pattern (fine for this: the merge, not the
pre-tokenizer, is under test here) and from hypothesis, including long pieces of arbitrary bytes that
take the bucketed merge path and pieces that are not UTF-8 at all.
"""

from __future__ import annotations

import pytest
import regex
from conftest import corpus_paths
from hypothesis import given
from hypothesis import strategies as st

import llmprep


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
