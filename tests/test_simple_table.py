"""SimpleTokenizer's word lookup (WordTable in cpp/src/simple_tokenizer.cpp) against the chapter's dict.

Aimed at what a byte-string table and the entry/id mapping could get wrong: words that agree on
their first 7, 8 or 16 bytes (a slot holds 8; longer words are checked against a record), words
longer than 255 bytes, NUL bytes, words at the very end of the text (no bytes readable past them),
unknown words in every position, a vocabulary far larger than the caches, and ids that are not the
word's position (sparse, negative, huge, repeated), which lists build from one Python int per
vocabulary entry. Lookups are pipelined (many tokens in flight), so errors must still come in text
order.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from _chapter_ch2 import SimpleTokenizerV1, SimpleTokenizerV2, chapter_split
from hypothesis import given
from hypothesis import strategies as st
from llmprep import SimpleTokenizer, _core

# Word bytes: no whitespace and no punctuation of the chapter's pattern, so that a word stays one token.
WORD_CHARS = "abAB\x00\x1bé€😀-"
PREFIX = "prefix8b"  # 8 bytes: words sharing it differ only after the head


def words_with_shared_heads() -> list[str]:
    words = []
    for length in range(1, 300):
        words.append("w" * length)
        words.append(PREFIX + "x" * max(0, length - 8))
    for prefix in ("prefix7", PREFIX, PREFIX * 2):  # 7, 8 and 16 bytes: the slot kinds' edges
        for tail in ("", "a", "b", "ab", "ba", "\x00", "\x00\x00", "é", "€", "😀"):
            words.append(prefix + tail)
            words.append(prefix + "z" * 300 + tail)  # beyond 255 bytes: a one-byte length would wrap
    words += ["a", "a\x00", "\x00", "\x00a", "-", "a-b", "é", "ab" * 4, "ab" * 4 + "a"]
    return sorted(set(words))


def chapter_pair(vocab: dict[str, int]) -> tuple[SimpleTokenizerV2, SimpleTokenizer]:
    return SimpleTokenizerV2(vocab), SimpleTokenizer(vocab, "unk")


def check_v2(vocab: dict[str, int], text: str) -> None:
    ref, ours = chapter_pair(vocab)
    expected = ref.encode(text)
    assert ours.encode(text) == expected
    assert ours.encode_to_numpy(text).tolist() == expected
    assert ours.encode_batch([text, text[: len(text) // 2]], num_threads=2) == [
        expected,
        ref.encode(text[: len(text) // 2]),
    ]


def test_words_sharing_heads_and_length_bytes() -> None:
    words = words_with_shared_heads()
    vocab = {w: i for i, w in enumerate([*words, "<|unk|>"])}
    rng = random.Random(1)
    # Known words, and near misses of each: one byte more, one less, the last byte changed.
    candidates = words + [w + "q" for w in words] + [w[:-1] for w in words if len(w) > 1]
    candidates += [w[:-1] + ("y" if w[-1] != "y" else "x") for w in words]
    for _ in range(20):
        sample = rng.choices(candidates, k=200)
        check_v2(vocab, " ".join(sample))
        check_v2(vocab, "".join(f"{w}." for w in sample))  # no separator byte after the last word
    # Every word alone, so that it ends the text with no bytes readable after it.
    for word in candidates:
        check_v2(vocab, word)
        check_v2(vocab, "x " + word)


@given(
    st.lists(st.text(WORD_CHARS, min_size=1, max_size=20), min_size=1, max_size=30, unique=True),
    st.lists(st.text(WORD_CHARS, min_size=1, max_size=20), max_size=40),
    st.sampled_from([" ", "\n", ",", "--", "\u3000"]),
)
def test_random_vocabularies_match_the_chapter(words: list[str], extra: list[str], separator: str) -> None:
    vocab = {w: i for i, w in enumerate([*words, "<|unk|>"])}
    text = separator.join([*words, *extra, *reversed(words)])
    check_v2(vocab, text)
    # V1: only known tokens (a separator may be a token itself, and "--" splits a word).
    known = " ".join(w for w in words if chapter_split(w) == [w])
    assert SimpleTokenizer(vocab, "error").encode(known) == SimpleTokenizerV1(vocab).encode(known)


def test_large_vocabulary_beyond_the_caches() -> None:
    # 300k words: tables of several MiB, far beyond L2.
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyzé"
    words = sorted({"".join(rng.choices(alphabet, k=rng.randint(1, 14))) for _ in range(300_000)})
    vocab = {w: i for i, w in enumerate([*words, "<|endoftext|>", "<|unk|>"])}
    sample = rng.choices(words, k=100_000) + ["".join(rng.choices(alphabet, k=15)) for _ in range(2000)]
    rng.shuffle(sample)
    check_v2(vocab, " ".join(sample))


def test_v1_reports_the_first_unknown_word_in_text_order() -> None:
    # The error names the first unknown word, wherever it stands.
    vocab = {w: i for i, w in enumerate(f"w{i}" for i in range(100))}
    tok = SimpleTokenizer(vocab, "error")
    for position in (0, 1, 7, 8, 9, 15, 16, 17, 40, 98):
        words = [f"w{i}" for i in range(100)]
        words[position] = "firstunknown" + "x" * position
        words[-1] = "secondunknown"
        text = " ".join(words)
        with pytest.raises(KeyError, match="firstunknown"):
            tok.encode(text)
        with pytest.raises(KeyError, match="firstunknown"):
            tok.encode_to_numpy(text)
        with pytest.raises(KeyError) as info:
            SimpleTokenizerV1(vocab).encode(text)
        assert "firstunknown" in str(info.value)


def test_ids_other_than_positions() -> None:
    words = words_with_shared_heads()
    rng = random.Random(3)
    text = " ".join(rng.choices([*words, "unknown", "prefix8bunknown"], k=3000))
    shuffled = rng.sample(range(len(words) + 1), len(words) + 1)
    for ids in (
        shuffled,  # a permutation: not the position
        [i * 1_000_003 for i in shuffled],  # sparse, beyond uint32 for some
        [-(i + 1) for i in shuffled],  # negative
        [2**63 - 1 - i for i in shuffled],  # the largest int64 values
    ):
        vocab = dict(zip([*words, "<|unk|>"], ids))
        check_v2(vocab, text)
        assert SimpleTokenizer(vocab, "unk").decode(SimpleTokenizer(vocab, "unk").encode(text)) == (
            SimpleTokenizerV2(vocab).decode(SimpleTokenizerV2(vocab).encode(text))
        )


def test_huge_ids_make_no_int_per_value_below_them() -> None:
    # Python ints are cached per vocabulary entry, not for every value up to the largest id.
    vocab = {"a": 10**15, "b": 0, "<|unk|>": 2**62}
    tok = SimpleTokenizer(vocab, "unk")
    assert tok.encode("a b c a") == [10**15, 0, 2**62, 10**15]
    assert tok.encode_to_numpy("a b c").tolist() == [10**15, 0, 2**62]
    assert tok.encode_batch(["a", "zz b"], num_threads=2) == [[10**15], [2**62, 0]]


def test_core_repeated_words_and_unknown_id_without_a_word() -> None:
    # Only reachable through the core (a dict cannot repeat a key): the last id of a word wins, as
    # when the chapter builds its dict; an unknown id that no word has still encodes.
    core = _core.SimpleTokenizerCore(["a", "b", "a"], [1, 2, 3], 70000)
    assert core.encode_list("a b c", "uint32") == [3, 2, 70000]
    assert core.encode("a b c", "uint32").tolist() == [3, 2, 70000]
    assert core.encode_batch(["c a"], "uint32", 1) == [[70000, 3]]
    assert np.array_equal(core.encode("a", "int64"), np.array([3], dtype=np.int64))


@pytest.mark.parametrize("length", [1, 7, 8, 9, 15, 16, 17, 255, 256, 1000])
def test_words_of_every_size_class_at_every_offset(length: int) -> None:
    word = "".join(chr(0x61 + (i * 7) % 26) for i in range(length))
    near = word[:-1] + ("z" if word[-1] != "z" else "y")
    vocab = {word: 0, near + "q": 1, "<|unk|>": 2}
    ref, ours = chapter_pair(vocab)
    for offset in range(0, 12):
        for text in (" " * offset + word, " " * offset + word + " " + near, "." * offset + near + "." + word):
            assert ours.encode(text) == ref.encode(text)
            assert ours.encode_to_numpy(text).tolist() == ref.encode(text)
    assert chapter_split(word) == [word]
