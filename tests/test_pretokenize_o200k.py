"""The o200k_base pre-tokenizer against tiktoken: fine classes (Lu/Lt, Ll, Lm/Lo, marks, numbers,
whitespace) of every code point, case-insensitive contractions, golden piece sequences, safe cut
cases. What it shares with cl100k_base (random and every-code-point pieces, ids, parallel == serial,
safe cuts, the chunker) is tested for both in tests/test_pretokenize_shared.py. (Probe encodings:
see tests/_pretokenize_probe.py.)"""

from __future__ import annotations

import _pretokenize_cases as cases
import numpy as np
import pytest
from _pretokenize_probe import (
    SCALARS,
    joins,
)
from conftest import plain_run_only
from llmprep._core import _testing

PATTERN = "o200k_base"
OTHER, MARK, UPPER, LOWER, BOTH, NUMBER, WHITESPACE = 0, 4, 1, 5, 9, 2, 3


@pytest.mark.slow
@plain_run_only("measures the reference's classes; the table dump runs in other tests")
def test_every_code_point_class_matches_tiktoken() -> None:
    lower_set = joins(PATTERN, "a", "\n", 0)  # "a" then c in [\p{Ll}\p{Lm}\p{Lo}\p{M}]: one L+ run
    letter_like = joins(PATTERN, "A", "\n", 0)  # "A" then any letter or mark: B1 or B2
    number = joins(PATTERN, "1", "\n", 0)
    # "#" U+0000 c: an O run ([^\s\p{L}\p{N}]+, marks included) with its [\r\n/]* tail. U+0000 is the
    # lowest byte, so its pair merges first when c joins.
    crlf = np.isin(SCALARS, [0x0A, 0x0D])
    o_set = joins(PATTERN, "#\x00", "\n", 1) & ~crlf
    assert not np.any(number & (lower_set | letter_like | o_set))
    assert not np.any(lower_set & ~letter_like)
    space = ~(letter_like | number | o_set)
    # "\n" c "\n": B5 takes the whole run iff c is whitespace (blind to U+0009, see the cl100k test).
    assert np.array_equal(joins(PATTERN, "a\n", "\n", 1) | (SCALARS == 0x09), space)
    mark = letter_like & o_set
    measured = np.select(
        [mark, letter_like & ~lower_set, lower_set, number, space], [MARK, UPPER, LOWER, NUMBER, WHITESPACE], OTHER
    ).astype(np.uint8)
    ours = _testing.unicode_fine_class_table()[SCALARS]
    # Ll and Lm/Lo both continue "a"; telling them apart takes a context the pair probe cannot see
    # ("!" c "Aa": Lm/Lo join the "Aa", Ll does not), which the piece-probe tests cover for every letter.
    ours = np.where(ours == BOTH, LOWER, ours)
    bad = np.flatnonzero(ours != measured)
    assert bad.size == 0, ", ".join(f"U+{cp:04X}" for cp in SCALARS[bad[:10]])
    assert np.count_nonzero(space) == 25


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prefix", "middle"), [("x'", ""), ("x'", "l"), ("x'l", ""), ("x'", "e"), ("x'v", ""), ("x'r", "")]
)
def test_contraction_letters_of_every_code_point(prefix: str, middle: str) -> None:
    # (?i:'s|'t|'re|'ve|'m|'ll|'d) after a letter: which code points match each letter.
    cases.contraction_letters_match(PATTERN, prefix, middle)


def test_contraction_folds() -> None:
    assert _testing.pretokenize("it'\u017fam IT'S we'LL 'Ve x'\u212a", PATTERN) == [
        "it'\u017f",
        "am",
        " IT'S",
        " we'LL",
        " '",
        "Ve",
        " x",
        "'\u212a",
    ]


GOLDEN = [
    ("Hello, world!", ["Hello", ",", " world", "!"]),
    ("HelloWorld HELLOworld", ["Hello", "World", " HELLOworld"]),
    ("I'm don't WE'LL they'Re", ["I'm", " don't", " WE'LL", " they'Re"]),
    ("'sam ''s !'s", ["'sam", " ''", "s", " !'", "s"]),
    ("123456 7", ["123", "456", " ", "7"]),
    ("a  b", ["a", " ", " b"]),
    ("a\n\nb", ["a", "\n\n", "b"]),
    ("a \n b", ["a", " \n", " b"]),
    ("a\n  ", ["a", "\n", "  "]),
    ("x\r\n\r\ny", ["x", "\r\n\r\n", "y"]),
    ("!!\n/\nx", ["!!\n/\n", "x"]),
    (" !!//x", [" !!//", "x"]),
    ("\tword ,word", ["\tword", " ,", "word"]),
    ("\u0301AB e\u0301t", ["\u0301", "AB", " e\u0301t"]),
    ("!!\u0301 \u0301!", ["!!\u0301", " \u0301", "!"]),
    ("A\u02b0B x\u01c5y", ["A\u02b0", "B", " x", "\u01c5y"]),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_golden_pieces(text: str, expected: list[str]) -> None:
    assert _testing.pretokenize(text, PATTERN) == expected


def test_golden_pieces_match_tiktoken() -> None:
    cases.pieces_match([text for text, _ in GOLDEN], PATTERN)


def test_cut_cases() -> None:
    def cuts(text: str) -> list[int]:
        return _testing.safe_cuts(text, PATTERN).tolist()

    assert cuts("hello world, my friend") == [5, 11, 12, 15]
    assert cuts("a\n\nb") == [1, 3]
    assert cuts("x  ") == [1]
    assert cuts("a\n\t1") == [1, 2, 3]  # B5 ends at the last \n with or without what follows
    assert cuts("it's 12") == [4, 5]  # not 2: "'s" joins "it"
    assert cuts("!\n/x") == []  # the O run's tail takes "\n/"; "/" may lead "x" (conservatively no)
