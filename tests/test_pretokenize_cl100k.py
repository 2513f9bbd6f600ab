"""The cl100k_base pre-tokenizer against tiktoken: classes of every code point, case-insensitive
contractions, golden piece sequences, safe cut cases. What it shares with o200k_base (random and
every-code-point pieces, ids, parallel == serial, safe cuts, the chunker) is tested for both in
tests/test_pretokenize_shared.py. (Probe encodings: see tests/_pretokenize_probe.py.)"""

from __future__ import annotations

import _pretokenize_cases as cases
import numpy as np
import pytest
from _pretokenize_probe import (
    SCALARS,
    joins,
)
from conftest import plain_run_only
from llmprep import _core
from llmprep._core import _testing

PATTERN = "cl100k_base"
OTHER, LETTER, NUMBER, WHITESPACE = 0, 1, 2, 3


@pytest.mark.slow
@plain_run_only("measures the reference's classes; the table dump runs in other tests")
def test_every_code_point_class_matches_tiktoken() -> None:
    letter = joins(PATTERN, "a", "\n", 0)  # c continues a letter run
    number = joins(PATTERN, "1", "\n", 0)  # c continues a number run
    # U+0000 (other; the lowest byte, so its pair merges first) leads a letter run or starts an other
    # run, which takes a [\r\n]*+ tail.
    crlf = np.isin(SCALARS, [0x0A, 0x0D])
    other = joins(PATTERN, "\x00", "\n", 0) & ~letter & ~crlf
    space = ~(letter | number | other)
    assert not np.any((letter & number) | (letter & other) | (number & other))
    # "\n" c "\n": \s*[\r\n] takes the whole run iff c is whitespace. (Blind to U+0009: its pair with
    # the "\n" after it outranks the probed pair, so that one is checked by the piece probe tests.)
    in_run = joins(PATTERN, "a\n", "\n", 1)
    assert np.array_equal(in_run | (SCALARS == 0x09), space)
    measured = np.select([letter, number, space], [LETTER, NUMBER, WHITESPACE], OTHER).astype(np.uint8)
    ours = _testing.unicode_class_table()[SCALARS]
    bad = np.flatnonzero(ours != measured)
    assert bad.size == 0, ", ".join(f"U+{cp:04X}" for cp in SCALARS[bad[:10]])
    assert np.count_nonzero(space) == 25


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "middle"), [("'", ""), ("'", "l"), ("'l", ""), ("'", "e"), ("'v", ""), ("'r", "")])
def test_contraction_letters_of_every_code_point(prefix: str, middle: str) -> None:
    # (?i:[sdmt]|ll|ve|re): which code points match each letter (ASCII both cases, and U+017F for s).
    cases.contraction_letters_match(PATTERN, prefix, middle)


def test_contraction_folds() -> None:
    assert _testing.pretokenize("'\u017fam 'S 'LL 'Ve 'rE '\u212a", PATTERN) == [
        "'\u017f",
        "am",
        " '",
        "S",
        " '",
        "LL",
        " '",
        "Ve",
        " '",
        "rE",
        " '",
        "\u212a",
    ]


GOLDEN = [
    ("Hello, world!", ["Hello", ",", " world", "!"]),
    ("I'm don't WE'LL they'Re", ["I", "'m", " don", "'t", " WE", "'LL", " they", "'Re"]),
    ("'sam ''s !'s", ["'s", "am", " ''", "s", " !'", "s"]),
    ("123456 7", ["123", "456", " ", "7"]),
    ("a  b", ["a", " ", " b"]),
    ("a\n\nb", ["a", "\n\n", "b"]),
    ("a \n b", ["a", " \n", " b"]),
    ("a\n\n  b", ["a", "\n\n", " ", " b"]),
    ("x\r\n\r\ny", ["x", "\r\n\r\n", "y"]),
    ("a  ", ["a", "  "]),
    ("a \n  ", ["a", " \n  "]),
    ("!!\n\nx", ["!!\n\n", "x"]),
    (" !!\r\n\r\n  x", [" !!\r\n\r\n", " ", " x"]),
    ("\tword ,word", ["\tword", " ,", "word"]),
    ("\u3000\u3000中文", ["\u3000", "\u3000中文"]),
    ("e\u0301t\u00e9", ["e", "\u0301t\u00e9"]),
    ("\u0663\u0664\u0665\u0666", ["\u0663\u0664\u0665", "\u0666"]),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_golden_pieces(text: str, expected: list[str]) -> None:
    assert _testing.pretokenize(text, PATTERN) == expected


def test_golden_pieces_match_tiktoken() -> None:
    cases.pieces_match([text for text, _ in GOLDEN], PATTERN)


def test_bad_pattern() -> None:
    with pytest.raises(ValueError, match="unknown pre-tokenizer pattern 'p100k'"):
        _testing.pretokenize("abc", "p100k")
    with pytest.raises(ValueError, match="unknown pre-tokenizer pattern"):
        _core.BpeEncoder({bytes([b]): b for b in range(256)}, {}, pattern="cl100k")


def test_cut_cases() -> None:
    def cuts(text: str) -> list[int]:
        return _testing.safe_cuts(text, PATTERN).tolist()

    assert cuts("hello world, my friend") == [5, 11, 12, 15]
    assert cuts("a\n\nb") == [1, 3]  # not 2: "\n\n" is one piece (\s*[\r\n])
    assert cuts("x  ") == [1]  # a run reaching the end is one piece
    assert cuts("a\n\t1") == [1, 2]  # not 3: "a\n\t" alone would keep "\n\t" whole (\s++$)
    assert cuts("!\n/x") == [2]  # not 1: the other run takes its [\r\n]* tail
