"""The GPT-2 pre-tokenizer against tiktoken: the class of every code point, whole piece sequences, safe cuts.

tiktoken does not expose its pre-tokenization, so two probe encodings reveal it:

* the *pair probe* (FACTS.md): ranks for all 256 bytes and all 65,536 byte pairs, pairs ranked by their
  bytes. In ``"a" + c`` the pair starting with the ASCII ``a`` outranks every pair inside ``c``, so the
  token at ``a`` is two bytes long iff ``a`` and ``c`` fell into one piece. That measures the class of
  every code point.
* the *piece probe* (:func:`assert_pieces_match_tiktoken`): ranks for the 256 bytes, for each of our
  pieces and for each concatenation of two consecutive pieces of ours. If tiktoken's pieces equal ours,
  each is found whole and becomes one token. If they differ, the tokens differ: tokens never cross
  tiktoken's piece boundaries, so a boundary of tiktoken's inside one of our pieces splits it; and a
  tiktoken piece spanning several of ours is either in the vocabulary (one token where we expect
  several) or goes through BPE, which cannot stop at our pieces because two adjacent ones of ours would
  still merge. So equal token sequences prove equal pieces.
"""

from __future__ import annotations

import operator
import subprocess
import sys
from functools import cache, lru_cache
from pathlib import Path

import _pretokenize_probe
import numpy as np
import pytest
import regex
import tiktoken
from conftest import ROOT, SANITIZER, code_points_to_check, corpus_paths, plain_run_only
from hypothesis import example, given
from hypothesis import strategies as st
from llmprep import _core
from llmprep._core import _testing
from tiktoken_ext.openai_public import r50k_pat_str

# OpenAI's original GPT-2 pattern, for the `regex` module (tiktoken runs the possessive form above).
GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
OTHER, LETTER, NUMBER, WHITESPACE = 0, 1, 2, 3
CLASS_NAMES = ("other", "letter", "number", "whitespace")
SURROGATES = range(0xD800, 0xE000)
# Every code point a str can send through UTF-8.
SCALARS = np.array([cp for cp in range(0x110000) if cp not in SURROGATES], dtype=np.int64)
# tiktoken's \s: Unicode White_Space. Python's \s adds U+001C..U+001F.
GPT2_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + ("\u2028\u2029\u202f\u205f\u3000")
)
PYTHON_ONLY_WHITESPACE = "\x1c\x1d\x1e\x1f"


def our_pieces(text: str) -> list[bytes]:
    data = text.encode("utf-8")
    ends = _core.pretokenize_ends(text).tolist()
    return [data[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def pieces_of_bytes(data: bytes) -> list[bytes]:
    return our_pieces(data.decode("utf-8"))


def utf8_lengths(code_points: np.ndarray) -> np.ndarray:
    return 1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)


def assert_pieces_match_tiktoken(texts: list[str]) -> None:
    """Asserts tiktoken's regex splits each text into exactly our pieces (the piece probe, see the top)."""
    _pretokenize_probe.assert_pieces_match_tiktoken(texts, "gpt2")


# ---------------------------------------------------------------------------------------------------
# Character classes of every code point


@pytest.fixture(scope="module")
def pair_probe() -> tiktoken.Encoding:
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({bytes([a, b]): 256 + a * 256 + b for a in range(256) for b in range(256)})
    return tiktoken.Encoding("llmprep-pair-probe", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={})


def joins(probe: tiktoken.Encoding, prefix: str, suffix: str, probe_offset: int) -> np.ndarray:
    """For every scalar c, whether tiktoken puts the byte at `probe_offset` of prefix+c+suffix in a
    two-byte token, i.e. in one piece with the byte after it. All contexts go through one encode call;
    each ends with "\\n" and starts with a non-space, so "\\n" stands alone between them."""
    text = "".join(prefix + chr(cp) + suffix for cp in SCALARS.tolist())
    sizes = len(prefix) + utf8_lengths(SCALARS) + len(suffix)
    probe_at = np.concatenate([[0], np.cumsum(sizes)[:-1]]) + probe_offset
    token_sizes = 1 + (np.asarray(probe.encode_ordinary(text), dtype=np.int64) >= 256)
    token_starts = np.concatenate([[0], np.cumsum(token_sizes)[:-1]])
    index = np.searchsorted(token_starts, probe_at)
    assert np.array_equal(token_starts[index], probe_at), "a probe byte does not start a token"
    return token_sizes[index] == 2


@pytest.fixture(scope="module")
def tiktoken_classes(pair_probe: tiktoken.Encoding) -> np.ndarray:
    """tiktoken's class of every scalar (aligned with SCALARS), measured with the pair probe."""
    measured = np.stack(
        [
            joins(pair_probe, "!", "\n", 0),  # c continues a [^\s\p{L}\p{N}] run
            joins(pair_probe, "a", "\n", 0),  # c continues a letter run
            joins(pair_probe, "1", "\n", 0),  # c continues a number run
            joins(pair_probe, "a\n", "\n", 1),  # "\n" c "\n" before a letter: \s+(?!\S) takes "\n" c
        ]
    )
    assert np.array_equal(measured.sum(axis=0), np.ones(len(SCALARS))), "the probes do not partition"
    return np.argmax(measured, axis=0).astype(np.uint8)


def describe(cps: np.ndarray, ours: np.ndarray, theirs: np.ndarray) -> str:
    return ", ".join(f"U+{cp:04X} ours {CLASS_NAMES[a]} vs {CLASS_NAMES[b]}" for cp, a, b in zip(cps, ours, theirs))


@pytest.mark.slow
@plain_run_only("measures the reference's classes; the table dump runs in other tests")
def test_every_code_point_class_matches_tiktoken(tiktoken_classes: np.ndarray) -> None:
    ours = _testing.unicode_class_table()[SCALARS]
    bad = np.flatnonzero(ours != tiktoken_classes)
    assert bad.size == 0, f"{bad.size} classes differ: " + describe(SCALARS[bad[:10]], ours[bad], tiktoken_classes[bad])
    # The counts FACTS.md records for Unicode 16 (tiktoken 0.14).
    assert np.count_nonzero(ours == LETTER) == 141_028
    assert np.count_nonzero(ours == NUMBER) == 1_911
    assert "".join(chr(cp) for cp in SCALARS[ours == WHITESPACE]) == GPT2_WHITESPACE


@plain_run_only("measures the reference's classes; the table dump runs in other tests")
def test_every_code_point_class_matches_unicodedata2() -> None:
    unicodedata2 = pytest.importorskip("unicodedata2")
    assert unicodedata2.unidata_version == "16.0.0"
    table = _testing.unicode_class_table()
    assert table.shape == (0x110000,) and table.dtype == np.uint8
    by_category = {"Lu": LETTER, "Ll": LETTER, "Lt": LETTER, "Lm": LETTER, "Lo": LETTER}
    by_category.update({"Nd": NUMBER, "Nl": NUMBER, "No": NUMBER})
    expected = np.array(
        [
            WHITESPACE if chr(cp) in GPT2_WHITESPACE else by_category.get(unicodedata2.category(chr(cp)), OTHER)
            for cp in range(0x110000)
        ],
        dtype=np.uint8,
    )
    bad = np.flatnonzero(table != expected)
    assert bad.size == 0, describe(bad[:10], table[bad], expected[bad])


def test_python_only_whitespace_is_other() -> None:
    # U+001C..U+001F are \s to Python's re but not to tiktoken: they join punctuation runs.
    table = _testing.unicode_class_table()
    assert [CLASS_NAMES[table[ord(c)]] for c in PYTHON_ONLY_WHITESPACE] == ["other"] * 4
    assert _testing.pretokenize("a\x1c\x1d b") == ["a", "\x1c\x1d", " b"]


def test_generated_tables_are_up_to_date() -> None:
    pytest.importorskip("unicodedata2")
    script = ROOT / "scripts" / "gen_unicode_tables.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------------
# Whole piece sequences

GOLDEN = [
    ("", []),
    ("Hello, world!", ["Hello", ",", " world", "!"]),
    (
        "I'm don't we'll they're I've she'd it's",
        ["I", "'m", " don", "'t", " we", "'ll", " they", "'re", " I", "'ve", " she", "'d", " it", "'s"],
    ),
    # Contractions: lower-case ASCII apostrophe only, matched without looking further.
    ("'sam 'S it\u2019s ''s !'s", ["'s", "am", " '", "S", " it", "\u2019", "s", " ''", "s", " !'", "s"]),
    # A whitespace run before a non-space gives back its last character...
    ("a  b", ["a", " ", " b"]),
    ("a\n\nb", ["a", "\n", "\n", "b"]),
    ("a \nb", ["a", " ", "\n", "b"]),
    ("a\n b", ["a", "\n", " b"]),
    ("a\u00a0b", ["a", "\u00a0", "b"]),
    ("a \u00a0b", ["a", " ", "\u00a0", "b"]),
    ("x\r\n\r\ny", ["x", "\r\n\r", "\n", "y"]),
    # ... but not at the end of the text, and a lone space leads the next piece.
    ("a  ", ["a", "  "]),
    ("a \n", ["a", " \n"]),
    (" ", [" "]),
    (" !!", [" !!"]),
    (" 42 x", [" 42", " x"]),
    ("3.14", ["3", ".", "14"]),
    ("\u3000\u3000中文", ["\u3000", "\u3000", "中文"]),
    ("e\u0301t\u00e9", ["e", "\u0301", "t\u00e9"]),
    ("\U0001f468\u200d\U0001f469 ok", ["\U0001f468\u200d\U0001f469", " ok"]),
    ("\u0663\u0664 \u2167\u00bd", ["\u0663\u0664", " \u2167\u00bd"]),
]


@pytest.mark.parametrize(("text", "expected"), GOLDEN)
def test_golden_pieces(text: str, expected: list[str]) -> None:
    assert _testing.pretokenize(text) == expected
    assert _testing.pretokenize(text) == GPT2_PATTERN.findall(text)


def test_golden_pieces_match_tiktoken() -> None:
    assert_pieces_match_tiktoken([text for text, _ in GOLDEN if text])


def test_piece_ends_are_byte_offsets() -> None:
    ends = _core.pretokenize_ends("né  x")
    assert ends.dtype == np.int64 and ends.tolist() == [3, 4, 6]
    assert _core.pretokenize_ends("").tolist() == []


def test_piece_probe_detects_a_wrong_split() -> None:
    # The probe must fail on a split tiktoken does not make, or it proves nothing.
    text = "a\n\nb"
    wrong = [b"a", b"\n\n", b"b"]  # tiktoken gives "a", "\n", "\n", "b"
    ranks = {bytes([b]): b for b in range(256)}
    for token in wrong + list(map(operator.add, wrong, wrong[1:])):
        ranks.setdefault(token, len(ranks))
    probe = tiktoken.Encoding("llmprep-piece-probe", pat_str=r50k_pat_str, mergeable_ranks=ranks, special_tokens={})
    assert probe.encode_ordinary(text) != [ranks[p] for p in wrong]


def test_pattern_is_tiktokens_gpt2_pattern(tiktoken_gpt2) -> None:
    assert tiktoken_gpt2._pat_str == r50k_pat_str


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_pieces_match_tiktoken(path: Path) -> None:
    _pretokenize_probe.assert_pieces_match_tiktoken([path.read_text(encoding="utf-8")], "gpt2", fixed=True)


CONTEXTS = pytest.mark.parametrize(
    ("prefix", "suffix"),
    [("", ""), (" ", ""), ("a", "b"), ("1", "2")],
    ids=["alone", "after-space", "between-letters", "between-digits"],
)


def in_contexts(code_points: np.ndarray, prefix: str, suffix: str) -> str:
    """One text holding prefix + c + suffix for each code point, separated by "\n". (A whitespace c
    joins the separators: whitespace alone is also checked as separate texts.)"""
    return "\n".join(prefix + chr(cp) + suffix for cp in code_points.tolist())


@lru_cache(maxsize=1)
def regex_module_classes() -> np.ndarray:
    """The `regex` module's class of every scalar (aligned with SCALARS); it uses a later Unicode."""
    everything = "".join(map(chr, SCALARS.tolist()))
    classes = np.full(len(SCALARS), OTHER, dtype=np.uint8)
    for value, pattern in ((LETTER, r"\p{L}"), (NUMBER, r"\p{N}"), (WHITESPACE, r"\s")):
        found = np.array([ord(c) for c in regex.findall(pattern, everything)], dtype=np.int64)
        classes[np.searchsorted(SCALARS, found)] = value
    return classes


def assert_same_pieces(ours: list[str], theirs: list[str]) -> None:
    """List equality with a short message (pytest's own diff of million-item lists takes minutes)."""
    if ours != theirs:
        first = next(i for i, (a, b) in enumerate(zip([*ours, None], [*theirs, None])) if a != b)
        raise AssertionError(f"piece {first} differs: ours {ours[first : first + 3]} vs {theirs[first : first + 3]}")


@pytest.mark.slow
@CONTEXTS
def test_every_code_point_in_context_matches_regex_module(prefix: str, suffix: str) -> None:
    if SANITIZER:  # our side only, on a sample of the scalars (conftest.SANITIZER, code_points_to_check)
        _testing.pretokenize(in_contexts(code_points_to_check(SCALARS), prefix, suffix))
        return
    # Every scalar whose class Unicode 16 (tiktoken) and the regex module's later version agree on: all
    # but the ~17,500 code points assigned since (regex 2026.11), which the next test sends to tiktoken.
    agree = SCALARS[regex_module_classes() == class_table()[SCALARS]]
    assert len(agree) > len(SCALARS) - 30_000
    text = in_contexts(agree, prefix, suffix)
    assert_same_pieces(_testing.pretokenize(text), GPT2_PATTERN.findall(text))


@pytest.mark.slow
@plain_run_only("the same contexts go through our side in the regex module test above")
@CONTEXTS
def test_code_points_in_context_match_tiktoken(prefix: str, suffix: str) -> None:
    # tiktoken's own regex through the piece probe. Its cost grows with the probe's vocabulary, so this
    # takes the first two planes (all of the BMP's and SMP's scripts, symbols and emoji), every letter,
    # number and whitespace character, every scalar the regex module classifies differently, and every
    # 61st of the rest (unassigned and private-use code points, all "other", as the exhaustive class
    # test above checks against tiktoken).
    ours = class_table()[SCALARS]
    chosen = (SCALARS < 0x20000) | (ours != OTHER) | (regex_module_classes() != ours)
    chosen |= np.arange(len(SCALARS)) % 61 == 0
    assert_pieces_match_tiktoken([in_contexts(SCALARS[chosen], prefix, suffix)])
    assert_pieces_match_tiktoken([prefix + c + suffix for c in GPT2_WHITESPACE + PYTHON_ONLY_WHITESPACE])


# Building blocks for adversarial text: whitespace of every kind, look-alikes that are not
# whitespace to tiktoken, letters and digits of many scripts and categories, contractions in every
# case, emoji and ZWJ sequences, combining marks.
WHITESPACE_BITS = [*GPT2_WHITESPACE, "\r\n", "  ", "\n\n"]
NOT_WHITESPACE_BITS = [*PYTHON_ONLY_WHITESPACE, "\u200b", "\u180e", "\ufeff", "\x00", "\x7f"]
LETTER_BITS = [
    "a",
    "Z",
    "s",
    "t",
    "ll",
    "re",
    "ve",
    "d",
    "m",
    "é",
    "ß",
    "Ω",
    "ж",
    "中",
    "文",
    "ㄱ",
    "\U0001d49c",
    "ǅ",
    "ʰ",
    "ー",
    "\u0e01",
    "\u05d0",
]
NUMBER_BITS = ["0", "7", "42", "\u0663", "\u0969", "\u2167", "\u00bd", "\U0001d7d8", "\u2460", "\u3007"]
OTHER_BITS = [
    "!",
    ".",
    ",",
    "'",
    "\u2019",
    "-",
    '"',
    "$",
    "\U0001f600",
    "\u200d",
    "\u0301",
    "\ufe0f",
    "\U0001f3f3",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\u00b7",
    "\uffff",
    "\U0010ffff",
    "\ue000",
]
CONTRACTION_BITS = [
    "'s",
    "'t",
    "'re",
    "'ve",
    "'m",
    "'ll",
    "'d",
    "'S",
    "'T",
    "'Re",
    "'LL",
    "'VE",
    "\u2019s",
    "\u2019ll",
    "''s",
    "'x",
    "'l",
    "'r",
    "'v",
]
ALL_BITS = WHITESPACE_BITS + NOT_WHITESPACE_BITS + LETTER_BITS + NUMBER_BITS + OTHER_BITS + CONTRACTION_BITS

any_scalar = st.characters(exclude_categories=["Cs"])
bit = st.one_of(
    st.sampled_from(ALL_BITS),
    st.builds(operator.mul, st.sampled_from(ALL_BITS), st.integers(2, 50)),  # long runs
    st.text(any_scalar, max_size=4),
)
adversarial_text = st.lists(bit, max_size=40).map("".join)


@given(adversarial_text)
@example("a \u00a0\u00a0 b\u2028\u2028c\u3000d \r\n e'S f\u2019s 1\u0663 \U0001f468\u200d\U0001f469 \u0301x  ")
def test_random_pieces_match_tiktoken(text: str) -> None:
    if text:
        assert_pieces_match_tiktoken([text])


@cache
def classes_agree_with_regex_module(c: str) -> bool:
    """Whether the `regex` module (a later Unicode version) classifies c as tiktoken does."""
    theirs = (
        LETTER
        if regex.match(r"\p{L}", c)
        else NUMBER
        if regex.match(r"\p{N}", c)
        else (WHITESPACE if regex.match(r"\s", c) else OTHER)
    )
    return theirs == class_table()[ord(c)]


@lru_cache(maxsize=1)
def class_table() -> np.ndarray:
    return _testing.unicode_class_table()


@given(adversarial_text)
def test_random_pieces_match_regex_module(text: str) -> None:
    # Independent of tiktoken: the original (non-possessive) pattern, on the characters whose class the
    # regex module's Unicode version agrees on.
    text = "".join(c for c in text if classes_agree_with_regex_module(c))
    assert_same_pieces(_testing.pretokenize(text), GPT2_PATTERN.findall(text))


def test_ascii_runs_of_every_length_and_neighbour() -> None:
    # Letter and digit runs are scanned 8 bytes at a time: try every run length across two words,
    # ending at every ASCII byte (the range edges "@[`{" and "/:" included) and at the end of the text.
    texts = [
        lead + run * length + chr(b) + tail
        for run in ("a", "Z", "q", "5")
        for length in range(0, 18)
        for b in range(128)
        for lead, tail in (("", ""), (" ", "xy"), ("!", "\u00e9"))
    ]
    assert_same_pieces(_testing.pretokenize("\n".join(texts)), GPT2_PATTERN.findall("\n".join(texts)))
    for text in texts[:: len(texts) // 300]:
        assert _testing.pretokenize(text) == GPT2_PATTERN.findall(text)
    assert _testing.pretokenize("abcdefgh") == ["abcdefgh"]
    assert _testing.pretokenize("abcdefgh\u00e9ij1") == ["abcdefgh\u00e9ij", "1"]


def test_long_runs_are_single_pieces() -> None:
    for c in ["x", "7", "-", "\u4e2d", "\u0663", "\U0001f600"]:
        assert _testing.pretokenize(c * 100_000) == [c * 100_000]
    assert _testing.pretokenize(" " * 100_000 + "x") == [" " * 99_999, " x"]
    assert _testing.pretokenize("\n" * 100_000 + "x") == ["\n" * 99_999, "\n", "x"]


# ---------------------------------------------------------------------------------------------------
# Safe cuts


def true_safe_cuts(data: bytes) -> set[int]:
    whole = pieces_of_bytes(data)
    return {
        p
        for p in range(1, len(data))
        if (data[p] & 0xC0) != 0x80 and pieces_of_bytes(data[:p]) + pieces_of_bytes(data[p:]) == whole
    }


def explained_as_conservative(data: bytes, p: int) -> bool:
    """The boundaries is_safe_cut may miss: between two characters of one class (after a contraction),
    or after an apostrophe before a letter."""
    before = data[:p].decode("utf-8")[-1]
    after = data[p:].decode("utf-8")[0]
    table = class_table()
    x, y = table[ord(before)], table[ord(after)]
    return (x == y != WHITESPACE) or (before == "'" and y == LETTER)


@given(adversarial_text)
@example("it's a\n\nb \n  x\u3000\u3000y'sam")
def test_safe_cuts_never_change_pieces(text: str) -> None:
    data = text.encode("utf-8")
    ours = set(_testing.safe_cuts(text).tolist())
    truth = true_safe_cuts(data)
    assert ours <= truth, f"unsafe cuts reported: {sorted(ours - truth)}"
    missed = [p for p in sorted(truth - ours) if not explained_as_conservative(data, p)]
    assert not missed, f"safe cuts missed without reason: {missed}"


@given(adversarial_text, st.integers(0, 200))
def test_next_safe_cut_is_the_smallest(text: str, start: int) -> None:
    size = len(text.encode("utf-8"))
    start = min(start, size)
    cuts = [0, *_testing.safe_cuts(text).tolist(), size]
    assert _testing.next_safe_cut(text, start) == next(p for p in cuts if p >= start)


def test_prose_has_many_safe_cuts(verdict_text: str) -> None:
    cuts = _testing.safe_cuts(verdict_text)
    size = len(verdict_text.encode("utf-8"))
    # Roughly one before every word: far more than one per 64 bytes, and never a long gap.
    assert len(cuts) > size // 16
    assert np.diff(cuts).max() < 200
    data = verdict_text.encode("utf-8")
    for p in cuts[::97].tolist():
        assert pieces_of_bytes(data[:p]) + pieces_of_bytes(data[p:]) == pieces_of_bytes(data)


def test_cut_cases() -> None:
    def cuts(text: str) -> list[int]:
        return _testing.safe_cuts(text).tolist()

    assert cuts("hello world, my friend") == [5, 11, 12, 15]
    assert cuts("a\n\nb") == [1, 2]  # not 3: "a\n\n" alone would keep "\n\n" whole
    assert cuts("a\nb") == [1, 2]
    assert cuts("a  b") == [1, 2]  # before the space that leads " b"
    assert cuts("a \u00a0b") == [1, 2]
    assert cuts("x  ") == [1]  # a run reaching the end is one piece
    assert cuts("'s it's") == [2, 5]  # not after "'" before a letter: conservatively no


# ---------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "function",
    [_core.pretokenize_ends, _testing.pretokenize, _testing.safe_cuts, lambda text: _testing.next_safe_cut(text, 0)],
)
def test_bad_text(function) -> None:
    with pytest.raises(ValueError, match=r"lone surrogate U\+D800 at index 2"):
        function("ab\ud800c")
    with pytest.raises(TypeError, match="text must be str, not bytes"):
        function(b"abc")
    with pytest.raises(TypeError, match="text must be str, not NoneType"):
        function(None)


def test_bad_position() -> None:
    with pytest.raises(IndexError, match="past the end"):
        _testing.next_safe_cut("abc", 4)
    with pytest.raises(ValueError, match="pos must be >= 0"):
        _testing.next_safe_cut("abc", -1)
    assert _testing.next_safe_cut("abc", 3) == 3
