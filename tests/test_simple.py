"""SimpleTokenizer: golden values from the chapter, differential against the chapter's classes,
property tests on adversarial Unicode, and bad input."""

from __future__ import annotations

import gc
import pickle
import re
import sys

import llmprep
import numpy as np
import pytest
from _chapter_ch2 import SimpleTokenizerV1, SimpleTokenizerV2, chapter_split, chapter_vocab
from conftest import code_points_to_check, corpus_paths
from hypothesis import given
from hypothesis import strategies as st
from llmprep import SimpleTokenizer

# Python's \s: 29 code points (../shared/FACTS.md).
PY_WHITESPACE = [
    chr(c)
    for c in (
        *range(0x09, 0x0E),
        *range(0x1C, 0x21),
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    )
]
SPECIALS = ("<|endoftext|>", "<|unk|>")


def test_python_whitespace_list_is_what_python_says() -> None:
    assert len(PY_WHITESPACE) == 29
    assert [chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))] == PY_WHITESPACE
    assert [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()] == PY_WHITESPACE


# ---------------------------------------------------------------------------------------------
# Golden values (../shared/golden/ch02.json).


def test_golden_text(golden, verdict_text) -> None:
    assert len(verdict_text) == golden["verdict_chars"] == 20479
    assert verdict_text[:99] == golden["verdict_first_99"]


def test_golden_split_examples(golden) -> None:
    tok = SimpleTokenizer({})
    for text, expected in golden["split_examples"].items():
        assert tok.split(text) == expected


def test_golden_story_tokens(golden, verdict_text) -> None:
    tokens = SimpleTokenizer({}).split(verdict_text)
    assert len(tokens) == golden["verdict_simple_tokens"] == 4690
    assert tokens[:30] == golden["verdict_simple_first_30"]


def test_golden_vocab_v1(golden, verdict_text, verdict_path) -> None:
    for tok in (
        SimpleTokenizer.from_text(verdict_text, specials=(), unknown="error"),
        SimpleTokenizer.from_file(verdict_path, specials=(), unknown="error"),
    ):
        assert len(tok) == golden["vocab_v1_size"] == 1130
        assert [list(item) for item in list(tok.vocab.items())[:51]] == golden["vocab_first_51"]


def test_golden_vocab_v2(golden, verdict_text, verdict_path) -> None:
    for tok in (SimpleTokenizer.from_text(verdict_text), SimpleTokenizer.from_file(verdict_path)):
        assert len(tok) == golden["vocab_v2_size"] == 1132
        assert [list(item) for item in list(tok.vocab.items())[-5:]] == golden["vocab_v2_last_5"]


def test_golden_v1_encode_decode(golden, verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text, specials=(), unknown="error")
    ids = tok.encode(golden["v1_encode_text"])
    assert ids == golden["v1_encode_ids"]
    assert tok.decode(ids) == golden["v1_decode"]


def test_golden_v1_unknown_word_is_key_error(golden, verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text, specials=(), unknown="error")
    with pytest.raises(KeyError) as info:
        tok.encode("Hello, do you like tea. Is this-- a test?")
    assert f"KeyError: {info.value}" == golden["v1_unknown_word_error"].split(" for ")[0] == "KeyError: 'Hello'"


def test_golden_v2_encode_decode(golden, verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text)
    ids = tok.encode(golden["v2_encode_text"])
    assert ids == golden["v2_encode_ids"]
    assert tok.decode(ids) == golden["v2_decode"]


# Every byte the 16-byte word scan may stop at, and characters that share a lead byte with
# whitespace without being whitespace (U+3001, U+2019, U+1690, ...), at every offset in a word of
# letters or of kana (each alignment in a 64-byte block, across its end, the byte loop's tail).
_SCAN_STOPS = [
    *" \t\n\r\x0b\x0c\x1c\x1f\x00\x08\x0e\x1b",
    *",.:;?_!\"()'-#$%&*+/<=>@[]0",
    "--",
    *"\u0085\u00a0\u00a9\u00c2\u1680\u1690\u169a\u2000\u200a\u200b\u2013\u2019\u2028\u2029",
    *"\u202f\u2030\u205f\u2060\u3000\u3001\u3040\u30a2\u4e2d\U0001f600",
]


@pytest.mark.parametrize("filler", ["abcdefghij", "\u3072\u3089\u304c\u306a\u30ab\u30bf\u30ab\u30ca"])
def test_word_scan_stops_match_re_at_every_offset(filler: str) -> None:
    tok = SimpleTokenizer({})
    word = (filler * 8)[:80]  # 80 letters or 240 bytes of kana: across a 64-byte block boundary
    for stop in _SCAN_STOPS:
        for at in range(len(word) + 1):
            for text in (word[:at] + stop + word[at:], word[:at] + stop, stop + word[at:]):
                assert tok.split(text) == chapter_split(text), (stop, at, text)


# ---------------------------------------------------------------------------------------------
# Differential: the chapter's classes vs ours on every real corpus.


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_matches_chapter(path) -> None:
    text = path.read_text(encoding="utf-8")
    assert SimpleTokenizer({}).split(text) == chapter_split(text)

    v1 = SimpleTokenizer.from_text(text, specials=(), unknown="error")
    ref_vocab = chapter_vocab(text)
    assert dict(v1.vocab) == ref_vocab and list(v1.vocab) == list(ref_vocab)
    ref_v1 = SimpleTokenizerV1(ref_vocab)
    ids = v1.encode(text)
    assert ids == ref_v1.encode(text)
    assert v1.decode(ids) == ref_v1.decode(ids)

    v2 = SimpleTokenizer.from_file(path)
    ref_v2 = SimpleTokenizerV2(chapter_vocab(text, SPECIALS))
    assert dict(v2.vocab) == ref_v2.str_to_int
    ids2 = v2.encode(text)
    assert ids2 == ref_v2.encode(text)
    assert v2.decode(ids2) == ref_v2.decode(ids2)


def test_other_corpus_through_story_vocab_matches_v2(verdict_text) -> None:
    # Encoding a corpus with another corpus's vocabulary exercises <|unk|> at scale.
    tok = SimpleTokenizer.from_text(verdict_text)
    ref = SimpleTokenizerV2(chapter_vocab(verdict_text, SPECIALS))
    for path in corpus_paths():
        text = path.read_text(encoding="utf-8")
        ids = tok.encode(text)
        assert ids == ref.encode(text)
        assert tok.decode(ids[:5000]) == ref.decode(ids[:5000])


@pytest.mark.parametrize("template", ["a{}b", " {} ", "{}", "-{}-", "x--{}--y", ".{}."])
def test_every_code_point_in_context(template: str) -> None:
    # Every code point except surrogates (which have no UTF-8 form), each in the same context,
    # separated by a character that is part of no token class so contexts cannot interact. Under a
    # sanitizer, a sample (conftest.code_points_to_check): the chapter's `re` split is most of the cost.
    code_points = code_points_to_check(np.arange(sys.maxunicode + 1, dtype=np.int64)).tolist()
    chars = [chr(c) for c in code_points if not 0xD800 <= c <= 0xDFFF]
    text = "\u00a7".join(template.format(c) for c in chars)
    assert SimpleTokenizer({}).split(text) == chapter_split(text)


# ---------------------------------------------------------------------------------------------
# Property tests on adversarial text.

PIECES = (
    PY_WHITESPACE
    + list(",.:;?_!\"()'")
    + ["-", "--", "---", "----", "<|endoftext|>", "<|unk|>", "<", "|", ">"]
    + list("abcXYZ019")
    + [
        "é",
        "ß",
        "Ω",
        "中文",
        "ñ",
        "e\u0301",
        "\u0301",
        "😀",
        "👩\u200d💻",
        "𝔘",
        "\U0010ffff",
        "\u200b",
        "\ufeff",
        "\x00",
        "\x1b",
    ]
)
adversarial_text = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)


@given(adversarial_text)
def test_split_matches_re(text: str) -> None:
    assert SimpleTokenizer({}).split(text) == chapter_split(text)


@given(adversarial_text, adversarial_text)
def test_v2_matches_chapter(corpus: str, text: str) -> None:
    vocab = chapter_vocab(corpus, SPECIALS)
    ours = SimpleTokenizer(vocab, "unk")
    ref = SimpleTokenizerV2(vocab)
    ids = ours.encode(text)
    assert ids == ref.encode(text)
    assert ours.decode(ids) == ref.decode(ids)
    assert ours.encode_to_numpy(text).tolist() == ids


@given(adversarial_text)
def test_v1_matches_chapter_on_its_own_text(text: str) -> None:
    vocab = chapter_vocab(text)
    ours = SimpleTokenizer(vocab, "error")
    ref = SimpleTokenizerV1(vocab)
    ids = ours.encode(text)
    assert ids == ref.encode(text)
    assert ours.decode(ids) == ref.decode(ids)


@given(
    st.lists(st.lists(st.sampled_from(PIECES), max_size=4).map("".join), min_size=1, max_size=12, unique=True),
    st.data(),
)
def test_decode_cleanup_matches_chapter_for_any_words(words: list[str], data) -> None:
    # Vocabularies may hold words with whitespace inside or around them (a user's own dict);
    # the clean-up must still be the chapter's re.sub, character for character.
    vocab = {word: i * 3 for i, word in enumerate(words)}
    ids = data.draw(st.lists(st.sampled_from(list(vocab.values())), max_size=20))
    assert SimpleTokenizer(vocab).decode(ids) == SimpleTokenizerV1(vocab).decode(ids)
    vocab.setdefault("<|unk|>", 10**6)
    assert SimpleTokenizer(vocab, "unk").decode(ids) == SimpleTokenizerV2(vocab).decode(ids)


@given(st.lists(adversarial_text, max_size=8), st.integers(min_value=1, max_value=4))
def test_encode_batch_equals_one_by_one(texts: list[str], threads: int) -> None:
    tok = SimpleTokenizer.from_text("".join(texts) + " seed")
    assert tok.encode_batch(texts, num_threads=threads) == [tok.encode(t) for t in texts]


def test_encode_batch_on_corpora_all_thread_counts(verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text)
    texts = [p.read_text(encoding="utf-8") for p in corpus_paths()] * 3
    expected = [tok.encode(t) for t in texts]
    for threads in (None, 1, 2, 3, 8):
        assert tok.encode_batch(texts, num_threads=threads) == expected


# ---------------------------------------------------------------------------------------------
# Ids, dtypes and vocabularies a user may bring.


def test_ids_dtype_follows_vocabulary_range() -> None:
    assert SimpleTokenizer({"a": 0, "b": 65535}).encode_to_numpy("a b").dtype == np.uint16
    assert SimpleTokenizer({"a": 0, "b": 65536}).encode_to_numpy("b a").tolist() == [65536, 0]
    assert SimpleTokenizer({"a": 0, "b": 65536}).dtype == np.uint32
    beyond_int_cache = SimpleTokenizer({"a": 0, "b": 3_000_000})
    assert beyond_int_cache.encode("b a b") == [3_000_000, 0, 3_000_000]
    assert beyond_int_cache.encode_batch(["b a"]) == [[3_000_000, 0]]
    big = SimpleTokenizer({"a": -5, "b": 2**40})
    assert big.dtype == np.int64
    assert big.encode("a b") == [-5, 2**40]
    assert big.decode([2**40, -5]) == "b a"


def test_encode_to_numpy_owns_its_buffer(verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text)
    ids = tok.encode_to_numpy(verdict_text)
    assert ids.flags.owndata is False and ids.base is not None  # the C++ buffer, not a copy
    del tok
    assert ids.tolist()[:3] == SimpleTokenizerV2(chapter_vocab(verdict_text, SPECIALS)).encode(verdict_text)[:3]


def test_duplicate_ids_decode_to_the_last_word_like_the_chapter() -> None:
    vocab = {"a": 0, "b": 0, "c": 1}
    assert SimpleTokenizer(vocab).decode([0, 1]) == SimpleTokenizerV1(vocab).decode([0, 1]) == "b c"


def test_special_present_in_text_keeps_its_later_id_like_the_chapter() -> None:
    text = "say <|unk|> twice <|unk|>"
    tok = SimpleTokenizer.from_text(text)
    assert dict(tok.vocab) == chapter_vocab(text, SPECIALS)
    assert tok.encode("<|unk|> nope") == SimpleTokenizerV2(chapter_vocab(text, SPECIALS)).encode("<|unk|> nope")


def test_custom_pattern_fallback_matches_re() -> None:
    pattern = r"(\s|[.,])"
    text = "Hello, world. It's -- a test!"
    tok = SimpleTokenizer.from_text(text, pattern=pattern)
    expected = chapter_split(text, pattern)
    assert tok.split(text) == expected
    assert tok.pattern == pattern
    vocab = chapter_vocab("", ()) | {t: i for i, t in enumerate(sorted(set(expected)) + list(SPECIALS))}
    assert dict(tok.vocab) == vocab
    assert tok.encode(text + " unseen") == [vocab[t] for t in expected] + [vocab["<|unk|>"]]
    assert tok.encode_batch([text, "x"]) == [tok.encode(text), tok.encode("x")]


def test_save_load_round_trip(tmp_path, verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text + " naïve 😀")
    path = tmp_path / "vocab.json"
    tok.save(path)
    assert "naïve" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    loaded = SimpleTokenizer.load(path)
    assert list(loaded.vocab.items()) == list(tok.vocab.items())
    assert loaded.unknown == "unk"
    assert loaded.encode(verdict_text) == tok.encode(verdict_text)
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temp files left


def test_load_plain_mapping(tmp_path) -> None:
    (tmp_path / "v1.json").write_text('{"a": 0, "b": 1}', encoding="utf-8")
    (tmp_path / "v2.json").write_text('{"a": 0, "<|unk|>": 1}', encoding="utf-8")
    assert SimpleTokenizer.load(tmp_path / "v1.json").unknown == "error"
    assert SimpleTokenizer.load(tmp_path / "v2.json").encode("a z") == [0, 1]


def test_pickle_round_trip(verdict_text) -> None:
    tok = SimpleTokenizer.from_text(verdict_text)
    clone = pickle.loads(pickle.dumps(tok))
    assert clone.encode(verdict_text) == tok.encode(verdict_text)
    assert clone.unknown == tok.unknown


def test_empty_text_encodes_to_nothing() -> None:
    tok = SimpleTokenizer({"a": 0})
    assert tok.encode("") == []
    assert tok.split("") == []
    assert tok.encode(" \n\t\u3000 ") == []
    assert tok.decode([]) == ""
    assert tok.encode_batch([]) == []


# ---------------------------------------------------------------------------------------------
# Bad input.


def test_unknown_id_is_key_error_naming_it() -> None:
    tok = SimpleTokenizer({"a": 0, "b": 1})
    with pytest.raises(KeyError, match="token id 7 is not in the vocabulary"):
        tok.decode([0, 7])
    with pytest.raises(KeyError, match="-1"):
        tok.decode([-1])
    with pytest.raises(KeyError, match=str(2**70)):
        tok.decode([2**70])
    sparse = SimpleTokenizer({"a": 10**9})
    with pytest.raises(KeyError, match="token id 3 "):
        sparse.decode([3])


def test_decode_rejects_non_integer_ids() -> None:
    tok = SimpleTokenizer({"a": 0})
    for bad in ([0.0], [True], ["0"], [None]):
        with pytest.raises(TypeError, match="ids must be ints"):
            tok.decode(bad)
    with pytest.raises(TypeError, match="sequence of ints"):
        tok.decode("0")
    with pytest.raises(TypeError, match="sequence of ints"):
        tok.decode(5)
    with pytest.raises(TypeError, match="dtype float64"):
        tok.decode(np.zeros(2))
    with pytest.raises(ValueError, match="one-dimensional"):
        tok.decode(np.zeros((2, 2), dtype=np.int64))
    assert tok.decode(np.zeros(2, dtype=np.uint16)) == "a a"


def test_non_str_arguments_are_type_errors() -> None:
    tok = SimpleTokenizer({"a": 0})
    with pytest.raises(TypeError, match="text must be str, not bytes"):
        tok.encode(b"a")
    with pytest.raises(TypeError, match="text must be str, not NoneType"):
        tok.split(None)
    with pytest.raises(TypeError, match="use encode"):
        tok.encode_batch("a a")
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, not int"):
        tok.encode_batch(["a", 1])
    with pytest.raises(TypeError, match="text must be str"):
        SimpleTokenizer.from_text(["a"])
    with pytest.raises(TypeError, match="specials must be a sequence of str"):
        SimpleTokenizer.from_text("a", specials="<|unk|>")


def test_bad_vocabularies() -> None:
    with pytest.raises(TypeError, match="mapping"):
        SimpleTokenizer(["a"])
    with pytest.raises(TypeError, match="keys must be str"):
        SimpleTokenizer({1: 1})
    with pytest.raises(TypeError, match="ids must be ints"):
        SimpleTokenizer({"a": "1"})
    with pytest.raises(ValueError, match="lone surrogate"):
        SimpleTokenizer({"\ud800": 1})
    with pytest.raises(ValueError, match="64 bits"):
        SimpleTokenizer({"a": 2**64})
    with pytest.raises(ValueError, match=r'unknown="unk" needs \'<\|unk\|>\''):
        SimpleTokenizer({"a": 0}, "unk")
    with pytest.raises(ValueError, match='"error" \\(V1\\) or "unk" \\(V2\\)'):
        SimpleTokenizer({"a": 0}, "ignore")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        SimpleTokenizer({"a": 0}, pattern="(")
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        SimpleTokenizer({"a": 0}).encode_batch(["a"], num_threads=0)


def test_lone_surrogates_are_clear_errors() -> None:
    tok = SimpleTokenizer({"a": 0, "<|unk|>": 1}, "unk")
    with pytest.raises(ValueError, match=r"lone surrogate U\+D83D at index 2"):
        tok.encode("a \ud83d a")
    with pytest.raises(ValueError, match="lone surrogate"):
        tok.split("\udfff")
    with pytest.raises(ValueError, match=r"texts\[1\] contains a lone surrogate"):
        tok.encode_batch(["a", "\ud800"])
    with pytest.raises(ValueError, match="lone surrogate"):
        SimpleTokenizer.from_text("x \udc80")
    with pytest.raises(ValueError, match=r"special '\\ud800' contains a lone surrogate"):
        SimpleTokenizer.from_text("x", specials=("\ud800",))


def test_empty_corpus_cannot_build_a_vocabulary(tmp_path) -> None:
    with pytest.raises(ValueError, match="contains no tokens"):
        SimpleTokenizer.from_text("  \n ")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt.*contains no tokens"):
        SimpleTokenizer.from_file(tmp_path / "empty.txt")


def test_invalid_utf8_file_strict_and_replace(tmp_path) -> None:
    data = "café au lait, s'il vous plaît".encode("latin-1")
    path = tmp_path / "latin1.txt"
    path.write_bytes(data)
    with pytest.raises(llmprep.InvalidUTF8Error, match=r"latin1\.txt.*byte offset 3") as info:
        SimpleTokenizer.from_file(path)
    assert info.value.offset == 3
    tok = SimpleTokenizer.from_file(path, errors="replace")
    assert dict(tok.vocab) == chapter_vocab(data.decode("utf-8", "replace"), SPECIALS)
    with pytest.raises(ValueError, match='errors must be "strict" or "replace"'):
        SimpleTokenizer.from_file(path, errors="ignore")


def test_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        SimpleTokenizer.from_file(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError):
        SimpleTokenizer.load(tmp_path / "nope.json")


def test_load_rejects_bad_files(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        SimpleTokenizer.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a JSON object"):
        SimpleTokenizer.load(tmp_path / "list.json")
    (tmp_path / "future.json").write_text('{"format": "llmprep.SimpleTokenizer", "version": 99}', encoding="utf-8")
    with pytest.raises(ValueError, match="version 99"):
        SimpleTokenizer.load(tmp_path / "future.json")


def test_a_dropped_tokenizer_frees_the_ints_its_lists_used() -> None:
    # encode() makes one Python int per vocabulary entry on its first use and keeps it for later
    # lists; dropping the tokenizer must release them (50,000 ints each time if not). Counted in
    # the interpreter's allocator blocks (tracemalloc would leave its own tracebacks behind for the
    # ASan run's leak check; under PYTHONMALLOC=malloc the count is 0 and that leak check decides).
    words = [f"w{i}" for i in range(50_000)]
    text = " ".join(words)
    after = []
    for _ in range(4):
        tok = llmprep.SimpleTokenizer({w: 10**12 + i for i, w in enumerate(words)})
        ids = tok.encode(text)
        assert ids[:2] == [10**12, 10**12 + 1] and len(ids) == len(words)
        assert tok.encode(text) == ids  # the second list reuses the ints
        del tok, ids
        gc.collect()
        after.append(sys.getallocatedblocks())
    assert after[-1] - after[1] < 10_000, after
