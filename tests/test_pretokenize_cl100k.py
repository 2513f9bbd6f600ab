"""The cl100k_base pre-tokenizer against tiktoken: classes of every code point, case-insensitive
contractions, whole piece sequences, ids of the real encoding, parallel == serial, safe cuts.
(Probe encodings: see tests/_pretokenize_probe.py.)"""

from __future__ import annotations

from pathlib import Path

import _pretokenize_cases as cases
import numpy as np
import pytest
from _pretokenize_probe import (
    SCALARS,
    adversarial_text,
    assert_same_ids,
    encoders,
    joins,
    script_text,
)
from conftest import DATA, corpus_paths
from hypothesis import example, given
from hypothesis import strategies as st
from llmprep import _core

PATTERN = "cl100k_base"
OTHER, LETTER, NUMBER, WHITESPACE = 0, 1, 2, 3


@pytest.mark.slow
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
    ours = _core.unicode_class_table()[SCALARS]
    bad = np.flatnonzero(ours != measured)
    assert bad.size == 0, ", ".join(f"U+{cp:04X}" for cp in SCALARS[bad[:10]])
    assert np.count_nonzero(space) == 25


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "middle"), [("'", ""), ("'", "l"), ("'l", ""), ("'", "e"), ("'v", ""), ("'r", "")])
def test_contraction_letters_of_every_code_point(prefix: str, middle: str) -> None:
    # (?i:[sdmt]|ll|ve|re): which code points match each letter (ASCII both cases, and U+017F for s).
    cases.contraction_letters_match(PATTERN, prefix, middle)


def test_contraction_folds() -> None:
    assert _core.pretokenize("'\u017fam 'S 'LL 'Ve 'rE '\u212a", PATTERN) == [
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


def test_generated_tables_are_up_to_date() -> None:
    import subprocess
    import sys

    from conftest import ROOT

    pytest.importorskip("unicodedata2")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_unicode_tables.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


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
    assert _core.pretokenize(text, PATTERN) == expected


def test_golden_pieces_match_tiktoken() -> None:
    cases.pieces_match([text for text, _ in GOLDEN], PATTERN)


@pytest.mark.slow
@pytest.mark.parametrize(("prefix", "suffix"), cases.CONTEXTS)
def test_code_points_in_context_match_tiktoken(prefix: str, suffix: str) -> None:
    cases.code_points_in_context(PATTERN, prefix, suffix)


@given(adversarial_text)
@example("a \u00a0\u00a0 b\u2028\u2028c\u3000d \r\n e'S f\u2019s 1\u0663 \U0001f468\u200d\U0001f469 \u0301x  ")
@example("'\u017fam!!\n\n\r/ 12345\t\t\n x")
def test_random_pieces_match_tiktoken(text: str) -> None:
    cases.pieces_match([text], PATTERN)


@given(script_text)
def test_script_pieces_match_tiktoken(text: str) -> None:
    cases.pieces_match([text], PATTERN)


@given(st.lists(st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "\u3000", "\xa0", "x", "!", "1"]), max_size=30))
def test_whitespace_runs_match_tiktoken(bits: list[str]) -> None:
    cases.pieces_match(["".join(bits)], PATTERN)


@given(st.text(st.sampled_from("0123456789\u0663\u00bd x"), max_size=40))
def test_digit_runs_match_tiktoken(text: str) -> None:
    cases.pieces_match([text], PATTERN)


@pytest.mark.parametrize("word", ["s", "t", "d", "m", "ll", "ve", "re"])
def test_contractions_in_every_case(word: str) -> None:
    import itertools

    variants = ["".join(v) for v in itertools.product(*[(c.lower(), c.upper()) for c in word])]
    if "s" in word:
        variants.append("\u017f")
    texts = [
        f"{lead}'{v}{tail}"
        for v in variants
        for lead in ("", "x", "X", " ", "1", "\u02b0", "\u0301")
        for tail in ("", "am", " ", "'s")
    ]
    cases.pieces_match(texts, PATTERN)


# ---------------------------------------------------------------------------------------------------
# The real encoding


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_ids_match_tiktoken(path: Path) -> None:
    assert_same_ids(PATTERN, path.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wordnet.txt", "freedict-jpn-deu.txt"])
def test_large_corpus_slices_match_tiktoken(name: str) -> None:
    path = DATA / "large" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    data = path.read_bytes()
    for start in range(0, len(data), len(data) // 4 + 1):
        chunk = data[start : start + 2_000_000].decode("utf-8", errors="ignore")
        assert_same_ids(PATTERN, chunk)


def test_ids_of_a_sample(verdict_text: str) -> None:
    ours, reference = encoders(PATTERN)
    assert ours.pattern == PATTERN
    assert ours.encode(verdict_text[:5000], [], 1) == reference.encode_ordinary(verdict_text[:5000])


@given(adversarial_text)
def test_random_ids_match_tiktoken(text: str) -> None:
    assert_same_ids(PATTERN, text)


@pytest.mark.slow
@pytest.mark.parametrize("unit", ["x", "7", "-", " ", "\n", "\u4e2d", "\u0301", "'s", "a ", "1 ", "\r\n "])
def test_worst_cases(unit: str) -> None:
    text = unit * (1_000_000 // len(unit.encode("utf-8")))
    assert_same_ids(PATTERN, text)
    cases.pieces_match([unit * 5000], PATTERN)


def test_parallel_equals_serial(verdict_text: str) -> None:
    cases.parallel_equals_serial(PATTERN, verdict_text[:20_000] + "\n\n  x\u3000y 12345 '\u017fam")


@given(adversarial_text)
def test_parallel_equals_serial_on_random_text(text: str) -> None:
    ours, _ = encoders(PATTERN)
    assert ours.encode(text, [], 2, 1) == ours.encode(text, [], 1, 0)


# ---------------------------------------------------------------------------------------------------
# Safe cuts


@given(adversarial_text)
@example("it's a\n\nb \n  x\u3000\u3000y'sam!!\n\n \t1")
def test_safe_cuts_never_change_pieces(text: str) -> None:
    cases.safe_cuts_never_change_pieces(text, PATTERN)


@given(adversarial_text, st.integers(0, 200))
def test_next_safe_cut_is_the_smallest(text: str, start: int) -> None:
    size = len(text.encode("utf-8"))
    start = min(start, size)
    cuts = [0, *_core.safe_cuts(text, PATTERN).tolist(), size]
    assert _core.next_safe_cut(text, start, PATTERN) == next(p for p in cuts if p >= start)


def test_prose_has_many_safe_cuts(verdict_text: str) -> None:
    cuts = _core.safe_cuts(verdict_text, PATTERN)
    assert len(cuts) > len(verdict_text) // 16
    assert np.diff(cuts).max() < 200
    text = verdict_text[:3000]
    cases.safe_cuts_never_change_pieces(text, PATTERN)


def test_bad_pattern() -> None:
    with pytest.raises(ValueError, match="unknown pre-tokenizer pattern 'p100k'"):
        _core.pretokenize("abc", "p100k")
    with pytest.raises(ValueError, match="unknown pre-tokenizer pattern"):
        _core.BpeEncoder({bytes([b]): b for b in range(256)}, {}, pattern="cl100k")


@given(adversarial_text, st.integers(1, 24), st.integers(1, 17))
def test_chunker_cuts_keep_ids(text: str, chunk_bytes: int, block: int) -> None:
    cases.chunker_cuts_keep_ids(PATTERN, text, chunk_bytes, block)


def test_chunker_on_prose(verdict_text: str) -> None:
    cases.chunker_cuts_keep_ids(PATTERN, verdict_text, 1000, 4096, threads=2)
    cases.chunker_cuts_keep_ids(PATTERN, verdict_text[:5000], 7, 3)


def test_cut_cases() -> None:
    def cuts(text: str) -> list[int]:
        return _core.safe_cuts(text, PATTERN).tolist()

    assert cuts("hello world, my friend") == [5, 11, 12, 15]
    assert cuts("a\n\nb") == [1, 3]  # not 2: "\n\n" is one piece (\s*[\r\n])
    assert cuts("x  ") == [1]  # a run reaching the end is one piece
    assert cuts("a\n\t1") == [1, 2]  # not 3: "a\n\t" alone would keep "\n\t" whole (\s++$)
    assert cuts("!\n/x") == [2]  # not 1: the other run takes its [\r\n]* tail
