"""Shared by tests/test_pretokenize_cl100k.py and _o200k.py: tiktoken's pieces through probe encodings,
its real encodings from the shared cache, and adversarial text.

tiktoken does not expose its pre-tokenization; two probe encodings reveal it (see the top of
tests/test_pretokenize_gpt2.py for why each proves what it claims):

* the *pair probe*: ranks for all 256 bytes and all 65,536 byte pairs, a pair ranked by its bytes. In
  ``"a" + c`` the pair starting with the ASCII byte outranks every pair inside ``c``, so the token at
  the ASCII byte is two bytes long iff it and ``c`` fell into one piece.
* the *piece probe*: ranks for the 256 bytes, for each of our pieces and for each concatenation of two
  consecutive pieces of ours; tiktoken returns one token per piece of ours iff its pieces are ours.
"""

from __future__ import annotations

import hashlib
import operator
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import tiktoken
from conftest import SANITIZER, TIKTOKEN_CACHE
from hypothesis import strategies as st
from llmprep import _core
from tiktoken_ext import openai_public

SURROGATES = range(0xD800, 0xE000)
SCALARS = np.array([cp for cp in range(0x110000) if cp not in SURROGATES], dtype=np.int64)
URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
)


@cache
def pat_str(pattern: str) -> str:
    return getattr(openai_public, pattern)()["pat_str"]


def our_pieces(text: str, pattern: str) -> list[bytes]:
    data = text.encode("utf-8")
    ends = _core.pretokenize_ends(text, pattern).tolist()
    return [data[start:end] for start, end in zip([0, *ends[:-1]], ends)]


def assert_pieces_match_tiktoken(texts: list[str], pattern: str, *, fixed: bool = False) -> None:
    """Asserts tiktoken's regex for `pattern` splits each text into exactly our pieces (piece probe).
    fixed: the texts are fixed inputs, so under a sanitizer only our side runs (conftest.SANITIZER)."""
    texts = [t for t in texts if t]
    if not texts:
        return
    predicted = [our_pieces(text, pattern) for text in texts]
    if fixed and SANITIZER:
        return
    ranks = {bytes([b]): b for b in range(256)}
    for pieces in predicted:
        for token in pieces:
            ranks.setdefault(token, len(ranks))
        for token in map(operator.add, pieces, pieces[1:]):
            ranks.setdefault(token, len(ranks))
    probe = tiktoken.Encoding("llmprep-piece-probe", pat_str=pat_str(pattern), mergeable_ranks=ranks, special_tokens={})
    encoded = probe.encode_ordinary_batch(texts, num_threads=2) if len(texts) > 1 else [probe.encode_ordinary(texts[0])]
    for text, pieces, ids in zip(texts, predicted, encoded):
        expected = np.fromiter((ranks[p] for p in pieces), dtype=np.int64, count=len(pieces))
        got = np.asarray(ids, dtype=np.int64)
        if got.shape == expected.shape and np.array_equal(got, expected):
            continue
        decoder = {rank: token for token, rank in ranks.items()}
        got_tokens = [decoder[i] for i in ids]
        first = next(i for i, (a, b) in enumerate(zip([*pieces, None], [*got_tokens, None])) if a != b)
        offset = sum(map(len, pieces[:first]))
        raise AssertionError(
            f"{pattern} pieces differ from tiktoken's at byte {offset} of a text of {len(text)} characters:\n"
            f"  ours:     {pieces[max(0, first - 3) : first + 4]}\n"
            f"  tiktoken: {got_tokens[max(0, first - 3) : first + 4]}"
        )


@cache
def pair_probe(pattern: str) -> tiktoken.Encoding:
    ranks = {bytes([b]): b for b in range(256)}
    ranks.update({bytes([a, b]): 256 + a * 256 + b for a in range(256) for b in range(256)})
    return tiktoken.Encoding("llmprep-pair-probe", pat_str=pat_str(pattern), mergeable_ranks=ranks, special_tokens={})


def utf8_lengths(code_points: np.ndarray) -> np.ndarray:
    return 1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)


def joins(pattern: str, prefix: str, suffix: str, probe_offset: int) -> np.ndarray:
    """For every scalar c, whether tiktoken puts the ASCII byte at `probe_offset` of prefix + c + suffix
    in one piece with the byte after it (a two-byte token starting there). All contexts go through one
    encode call."""
    text = "".join(prefix + chr(cp) + suffix for cp in SCALARS.tolist())
    sizes = len(prefix) + utf8_lengths(SCALARS) + len(suffix)
    probe_at = np.concatenate([[0], np.cumsum(sizes)[:-1]]) + probe_offset
    token_sizes = 1 + (np.asarray(pair_probe(pattern).encode_ordinary(text), dtype=np.int64) >= 256)
    token_starts = np.concatenate([[0], np.cumsum(token_sizes)[:-1]])
    index = np.minimum(np.searchsorted(token_starts, probe_at), len(token_starts) - 1)
    return (token_starts[index] == probe_at) & (token_sizes[index] == 2)


def in_contexts(code_points: np.ndarray, prefix: str, suffix: str) -> str:
    return "\n".join(prefix + chr(cp) + suffix for cp in code_points.tolist())


# ---------------------------------------------------------------------------------------------------
# The real encodings


@cache
def tiktoken_file(name: str) -> bytes:
    path = Path(TIKTOKEN_CACHE) / hashlib.sha1(URLS[name].encode()).hexdigest()
    if not path.is_file():
        pytest.skip(f"{name} ranks not found at {path}")
    return path.read_bytes()


@cache
def encoders(name: str):
    """(llmprep's BpeEncoder for `name` built by the C++ loader, tiktoken's encoding)."""
    reference = tiktoken.get_encoding(name)
    ours, _, _ = _core.bpe_encoder_from_tiktoken(tiktoken_file(name), name, reference._special_tokens, pattern=name)
    return ours, reference


def assert_same_ids(name: str, text: str, *, fixed: bool = False, **kwargs) -> None:
    """Our ids of text equal tiktoken's; fixed: a fixed input, only ours under a sanitizer (conftest.SANITIZER)."""
    ours, reference = encoders(name)
    got = ours.encode(text, [], kwargs.get("num_threads", 1), kwargs.get("task_bytes", 0))
    if fixed and SANITIZER:
        return
    expected = reference.encode_ordinary(text)
    if got != expected:
        first = next(i for i, (a, b) in enumerate(zip([*got, None], [*expected, None])) if a != b)
        raise AssertionError(
            f"{name} ids differ at token {first}: ours {got[first : first + 5]} vs tiktoken "
            f"{expected[first : first + 5]} ({reference.decode(expected[max(0, first - 3) : first + 3])!r})"
        )


def assert_same_pieces(ours: list[str], theirs: list[str]) -> None:
    if ours != theirs:
        first = next(i for i, (a, b) in enumerate(zip([*ours, None], [*theirs, None])) if a != b)
        raise AssertionError(f"piece {first} differs: ours {ours[first : first + 3]} vs {theirs[first : first + 3]}")


# ---------------------------------------------------------------------------------------------------
# Adversarial text: whitespace of every kind, letters of every o200k class, marks, digits of many
# scripts, contractions in every case (U+017F is a case-insensitive "s"), "/" and \r\n tails.

WHITESPACE_BITS = [*WHITESPACE, "\r\n", "  ", "\n\n", " \n", "\n ", "\t\n", "\r"]
NOT_WHITESPACE_BITS = ["\x1c", "\x1f", "\u200b", "\u180e", "\ufeff", "\x00", "\x7f"]
LETTER_BITS = ["a", "Z", "s", "S", "t", "l", "L", "e", "E", "v", "r", "d", "m", "\u017f", "\u212a"]
LETTER_BITS += ["é", "É", "ß", "Ω", "ω", "ж", "Ж", "中", "文", "ㄱ", "\U0001d49c", "ǅ", "ʰ", "ー", "\u0e01", "\u05d0"]
MARK_BITS = ["\u0301", "\u0300\u0301", "\u093f", "\u20dd", "\u0e31", "\ufe0f"]
NUMBER_BITS = ["0", "7", "42", "123", "1234", "\u0663", "\u0969", "\u2167", "\u00bd", "\U0001d7d8", "\u2460"]
OTHER_BITS = ["!", ".", ",", "'", "\u2019", "-", "/", "//", '"', "$", "\U0001f600", "\u200d", "\U0001f3f3"]
OTHER_BITS += ["\U0001f468\u200d\U0001f469", "\u00b7", "\uffff", "\U0010ffff", "\ue000"]
CONTRACTION_BITS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'Re", "'rE", "'LL", "'lL", "'VE"]
CONTRACTION_BITS += ["'D", "'M", "'\u017f", "'\u017fam", "'sam", "\u2019s", "''s", "'x", "'l", "'r", "'v", "'Ll"]
ALL_BITS = WHITESPACE_BITS + NOT_WHITESPACE_BITS + LETTER_BITS + MARK_BITS + NUMBER_BITS + OTHER_BITS
ALL_BITS += CONTRACTION_BITS

any_scalar = st.characters(exclude_categories=["Cs"])
bit = st.one_of(
    st.sampled_from(ALL_BITS),
    st.builds(operator.mul, st.sampled_from(ALL_BITS), st.integers(2, 20)),  # runs
    st.text(any_scalar, max_size=4),
)
adversarial_text = st.lists(bit, max_size=40).map("".join)
# Scripts: runs of letters from several writing systems mixed with spaces and punctuation.
script_text = st.lists(
    st.one_of(
        st.text(st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me"]), min_size=1, max_size=8),
        st.sampled_from([" ", "  ", "\n", ". ", ", ", "'s ", "'LL ", "\u017f", "1", "123456", "\r\n", "/"]),
    ),
    max_size=30,
).map("".join)


def true_safe_cuts(data: bytes, pattern: str) -> set[int]:
    def pieces(chunk: bytes) -> list[bytes]:
        return our_pieces(chunk.decode("utf-8"), pattern)

    whole = pieces(data)
    return {p for p in range(1, len(data)) if (data[p] & 0xC0) != 0x80 and pieces(data[:p]) + pieces(data[p:]) == whole}
