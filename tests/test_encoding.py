"""llmprep.Encoding against the chapter's golden values and against tiktoken, byte for byte."""

from __future__ import annotations

import base64
import gc
import json
import shutil

import llmprep
import numpy as np
import pytest
from conftest import code_points_to_check, corpus_paths
from hypothesis import given
from hypothesis import strategies as st
from llmprep import Encoding, get_encoding


@pytest.fixture(scope="module")
def enc(tiktoken_gpt2) -> Encoding:  # tiktoken_gpt2: skip cleanly where the shared cache is absent
    return get_encoding("gpt2")


# ---------------------------------------------------------------------------------------------
# Golden values


def test_chapter_sentence(enc, golden) -> None:
    ids = enc.encode(golden["gpt2_text"], allowed_special={"<|endoftext|>"})
    assert ids == golden["gpt2_ids"]
    assert enc.decode(ids) == golden["gpt2_decode"]


def test_chapter_story_token_count(enc, golden, verdict_text) -> None:
    assert len(enc.encode(verdict_text)) == golden["verdict_gpt2_tokens"] == 5145
    ids = enc.encode(verdict_text)
    # The chapter's first sample pair (context 4 starting at token 50).
    assert ids[50:54] == golden["verdict_gpt2_sample_x"]
    assert ids[51:55] == golden["verdict_gpt2_sample_y"]


# tiktoken's own published cases (tests/test_encoding.py in openai/tiktoken).
REPEATED_ZEROS = {
    1: [15], 2: [405], 3: [830], 4: [2388], 5: [20483], 6: [10535], 7: [24598], 8: [8269],
    9: [10535, 830], 10: [8269, 405], 11: [8269, 830], 12: [8269, 2388], 13: [8269, 20483],
    14: [8269, 10535], 15: [8269, 24598], 16: [25645], 17: [8269, 10535, 830],
}  # fmt: skip


def test_tiktoken_published_cases(enc) -> None:
    assert enc.encode("hello world") == [31373, 995]
    assert enc.decode([31373, 995]) == "hello world"
    assert enc.encode("hello <|endoftext|>", allowed_special="all") == [31373, 220, 50256]
    assert enc.encode("<|endoftext|>", disallowed_special=()) == [27, 91, 437, 1659, 5239, 91, 29]
    assert enc.encode("") == []
    assert enc.encode_ordinary("") == []
    for n, ids in REPEATED_ZEROS.items():
        assert enc.encode("0" * n) == ids, n


def test_properties(enc) -> None:
    assert enc.name == "gpt2"
    assert enc.n_vocab == 50257
    assert enc.max_token_value == 50256
    assert enc.eot_token == 50256
    assert enc.special_tokens_set == {"<|endoftext|>"}
    assert repr(enc) == "<Encoding 'gpt2'>"
    assert get_encoding("gpt2") is enc  # built once per process
    r50k = get_encoding("r50k_base")
    assert r50k.name == "r50k_base"
    assert r50k.encode("hello world") == [31373, 995]


def test_single_token_helpers(enc) -> None:
    assert enc.decode_single_token_bytes(995) == b" world"
    assert enc.decode_single_token_bytes(50256) == b"<|endoftext|>"
    assert enc.encode_single_token("hello") == 31373
    assert enc.encode_single_token(b" world") == 995
    assert enc.encode_single_token("<|endoftext|>") == 50256
    assert enc.decode_tokens_bytes([31373, 995]) == [b"hello", b" world"]
    with pytest.raises(KeyError):
        enc.encode_single_token("hello world")


def test_package_exports() -> None:
    assert llmprep.Encoding is Encoding
    assert llmprep.get_encoding is get_encoding
    assert {"Encoding", "get_encoding"} <= set(llmprep.__all__)


# ---------------------------------------------------------------------------------------------
# Differential against tiktoken: corpora and every code point


@pytest.mark.parametrize("path", corpus_paths(), ids=lambda p: p.name)
def test_corpus_matches_tiktoken(enc, tiktoken_gpt2, path) -> None:
    text = path.read_text(encoding="utf-8")
    expected = tiktoken_gpt2.encode_ordinary(text)
    ours = enc.encode_to_numpy(text, num_threads=1)
    assert ours.dtype == np.uint32
    assert ours.tolist() == expected
    assert enc.encode_ordinary(text) == expected
    assert enc.decode(expected) == text
    assert enc.decode_bytes(ours) == text.encode("utf-8")


def _scalar_values() -> list[str]:
    # Under a sanitizer: a sample (conftest.code_points_to_check); the plain run compares all of them.
    scalars = np.array([c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF], dtype=np.int64)
    return [chr(c) for c in code_points_to_check(scalars).tolist()]


@pytest.mark.slow
@pytest.mark.parametrize(("before", "after"), [("", ""), (" ", ""), ("a", "b"), ("1", "2")],
                         ids=["alone", "after-space", "between-letters", "between-digits"])  # fmt: skip
def test_every_code_point_matches_tiktoken(enc, tiktoken_gpt2, before: str, after: str) -> None:
    # One text per context keeps this fast; each code point sits in its context between newlines,
    # which end any piece (code points that are themselves whitespace are checked one by one).
    chars = _scalar_values()
    spaces = [c for c in chars if c.isspace()]
    text = "\n".join(before + c + after for c in chars if not c.isspace())
    assert enc.encode_to_numpy(text).tolist() == tiktoken_gpt2.encode_ordinary(text)
    for c in spaces:
        assert enc.encode_ordinary(before + c + after) == tiktoken_gpt2.encode_ordinary(before + c + after), hex(ord(c))


# ---------------------------------------------------------------------------------------------
# Differential against tiktoken: adversarial text

WHITESPACE = ["\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680", "\u2000", "\u2009", "\u200a",
              "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\x1c", "\x1d", "\x1e", "\x1f",
              "\u200b", "\ufeff"]  # fmt: skip
LETTERS = ["a", "Z", "é", "ß", "ǅ", "Ω", "ж", "ﬁ", "ａ", "ʰ", "ª", "〆", "𝔸", "ꦲ"]
DIGITS = ["0", "7", "٣", "५", "߇", "²", "½", "Ⅻ", "①", "𝟙", "〇", "𐒠"]
PUNCT = ["!", "-", ".", ",", "'", "’", '"', "_", "—", "…", "¿", "«", "@", "#", "$", "€", "+", "<", "|", "`"]
CONTRACTIONS = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'d", "'D",
                "’s", "’ll", "'x", "''s", "'"]  # fmt: skip
EMOJI = ["👨‍👩‍👧", "🏳️‍🌈", "👍🏽", "😀", "❤️", "🇫🇷", "\u200d", "\ufe0f"]
CJK = ["中文", "日本語", "한국어", "ひらがな", "カタカナ", "。", "，"]
COMBINING = ["e\u0301", "a\u0308\u0323", "\u0301", "\u0915\u094d\u0937", "\u0e01\u0e31"]
SPECIALISH = ["<|endoftext|>", "<|endoftext", "|>", "<|"]

_atom = st.one_of(
    st.sampled_from(WHITESPACE + LETTERS + DIGITS + PUNCT + CONTRACTIONS + EMOJI + CJK + COMBINING + SPECIALISH),
    st.tuples(st.sampled_from(WHITESPACE + LETTERS + DIGITS + PUNCT), st.integers(1, 40)).map(lambda t: t[0] * t[1]),
    st.text(max_size=8),
)
adversarial_text = st.lists(_atom, max_size=60).map("".join)


@given(adversarial_text)
def test_adversarial_text_matches_tiktoken(enc, tiktoken_gpt2, text: str) -> None:
    expected = tiktoken_gpt2.encode_ordinary(text)
    assert enc.encode_ordinary(text) == expected
    assert enc.decode(expected) == text
    # Cutting into tiny tasks (parallel path, 2 threads) must not change anything either.
    assert enc._core.encode(text, [], 2, 5) == expected


@given(adversarial_text)
def test_adversarial_text_with_specials_matches_tiktoken(enc, tiktoken_gpt2, text: str) -> None:
    expected = tiktoken_gpt2.encode(text, allowed_special="all")
    assert enc.encode(text, allowed_special="all") == expected
    assert enc._core.encode(text, [50256], 2, 3) == expected
    assert enc.encode(text, disallowed_special=()) == tiktoken_gpt2.encode(text, disallowed_special=())


@given(st.sampled_from(WHITESPACE + LETTERS + DIGITS + PUNCT + ["ab", "e\u0301", "👍"]), st.integers(1, 5000))
def test_long_runs_match_tiktoken(enc, tiktoken_gpt2, unit: str, repeats: int) -> None:
    text = unit * repeats
    assert enc.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)


LONE_SURROGATES = ["\ud800", "a\udc00b", "\ud83d\ude00", "x\ud83d", "\ude00y", "\ud800\ud800", " \udfff!"]


@pytest.mark.parametrize("text", LONE_SURROGATES, ids=ascii)
def test_lone_surrogates_as_tiktoken(enc, tiktoken_gpt2, text: str) -> None:
    assert enc.encode(text) == tiktoken_gpt2.encode(text)
    assert enc.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)
    assert enc.encode_to_numpy(text).tolist() == tiktoken_gpt2.encode(text)
    assert enc.encode_ordinary_batch([text, "ok"]) == tiktoken_gpt2.encode_ordinary_batch([text, "ok"])


# ---------------------------------------------------------------------------------------------
# Batch, parallel, round trip


@pytest.fixture(scope="module")
def corpus_text() -> str:
    paths = corpus_paths()
    if not paths:
        pytest.skip("no corpora in ../shared/data")
    return "".join(p.read_text(encoding="utf-8") for p in paths)


def test_batch_equals_one_by_one(enc, corpus_text) -> None:
    lines = corpus_text.splitlines(keepends=True)[:20000] + ["", "<|endoftext|>", "a" * 300_000]
    one_by_one = [enc.encode_ordinary(t) for t in lines]
    assert enc.encode_ordinary_batch(lines, num_threads=2) == one_by_one
    assert enc.encode_ordinary_batch(lines, num_threads=1) == one_by_one
    assert enc.encode_ordinary_batch(tuple(lines[:50])) == one_by_one[:50]
    assert enc._core.encode_batch(lines, [], 2, 1000) == one_by_one
    with_specials = [t + "<|endoftext|>" for t in lines[:500]]
    assert enc.encode_batch(with_specials, allowed_special="all", num_threads=2) == [
        enc.encode(t, allowed_special="all") for t in with_specials
    ]
    assert enc.encode_batch([]) == []


def test_batch_texts_of_many_tasks(enc, corpus_text) -> None:
    # Texts cut into many tasks reach the binding in parts, joined into one list per text; empty
    # texts and special tokens sit between them, so that parts and whole texts share a hand-over.
    texts = [corpus_text[:40_000], "", "x", corpus_text[40_000:90_000] + "<|endoftext|>" + "7" * 5000, "", "b c"]
    want = [enc.encode(t, allowed_special="all") for t in texts]
    for threads in (1, 2, 3):
        assert enc._core.encode_batch(texts, [50256], threads, 300) == want
        got = enc._core.encode_batch(texts, [50256], threads, 300)
        assert all(gc.is_tracked(ids) for ids in got)


def test_batch_lists_are_tracked_by_the_gc(enc) -> None:
    # The binding keeps each new list out of the cyclic GC while it builds the batch; every list
    # handed back must be tracked again, or a cycle the caller makes through it would never be freed.
    for threads in (1, 2):
        lists = enc.encode_ordinary_batch(["some text"] * 3000 + [""], num_threads=threads)
        assert all(gc.is_tracked(ids) for ids in lists)


def test_parallel_equals_serial(enc, tiktoken_gpt2, corpus_text) -> None:
    text = corpus_text + "<|endoftext|>" + corpus_text[:100_000]
    serial = enc.encode_to_numpy(text, num_threads=1, disallowed_special=())
    assert serial.tolist() == tiktoken_gpt2.encode_ordinary(text)
    for threads in (2, 3, 8):
        assert np.array_equal(enc.encode_to_numpy(text, num_threads=threads, disallowed_special=()), serial)
    # Small tasks put many more cuts in play than the default sizes do.
    for task_bytes in (1, 97, 4096):
        assert np.array_equal(enc._core.encode_to_numpy(text, [], 2, task_bytes), serial)
    with_special = enc.encode_to_numpy(text, allowed_special="all", num_threads=2)
    assert with_special.tolist() == tiktoken_gpt2.encode(text, allowed_special="all")


def test_numpy_result_owns_its_buffer(enc) -> None:
    ids = enc.encode_to_numpy("hello world")
    assert ids.base is not None and not ids.flags.owndata  # a view of the C++ buffer, no copy
    del enc
    assert ids.tolist() == [31373, 995]


def test_list_ids_are_shared_ints_made_on_first_use(enc, tiktoken_gpt2) -> None:
    # The highest ids are rare, so a fresh process has not made their ints yet: they are made by
    # this call, then the same objects serve every later list, whichever call builds it.
    text = enc.decode([50255, 50254, 50255, 31373]) + "<|endoftext|>"
    first = enc.encode(text, allowed_special="all")
    assert first == tiktoken_gpt2.encode(text, allowed_special="all") and 50256 in first
    assert all(type(i) is int for i in first)
    again = enc.encode_batch([text, text[:5]], allowed_special="all")[0]
    # A 1.2 MB text of a batch is cut into tasks and its list built part by part.
    parts = enc.encode_ordinary_batch([text * 40_000, text], num_threads=2)[0]
    assert again == first and all(a is b for a, b in zip(first, again, strict=True))
    assert parts == tiktoken_gpt2.encode_ordinary(text * 40_000)
    made = {i: i for i in first}
    assert all(made[i] is i for i in parts if i in made)


def test_decode_accepts_lists_and_arrays(enc) -> None:
    for ids in ([31373, 995], np.array([31373, 995], dtype=np.uint16), np.array([31373, 995], dtype=np.int64),
                np.array([31373, 995], dtype=np.uint64), (i for i in [31373, 995])):  # fmt: skip
        assert enc.decode(ids) == "hello world"


def test_decode_replaces_partial_characters(enc) -> None:
    ids = enc.encode("😀")
    assert ids == [47249, 222]  # the first token ends inside the character
    assert enc.decode(ids[:1]) == "\ufffd"
    assert enc.decode_bytes(ids[:1]) == "😀".encode()[:3]
    with pytest.raises(UnicodeDecodeError):
        enc.decode(ids[:1], errors="strict")


# ---------------------------------------------------------------------------------------------
# Bad input


def test_disallowed_special_token_raises(enc) -> None:
    with pytest.raises(ValueError, match="disallowed special token '<\\|endoftext\\|>'"):
        enc.encode("hello <|endoftext|>")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_to_numpy("<|endoftext|>")
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_batch(["fine", "not <|endoftext|>"])
    with pytest.raises(ValueError, match="disallowed special token 'xyz'"):
        enc.encode("abc xyz", disallowed_special={"xyz"})
    # The leftmost one is named, the longer one on a tie; lone surrogates do not hide it.
    with pytest.raises(ValueError, match="token 'xyz'"):
        enc.encode("a xyz <|endoftext|>", disallowed_special={"<|endoftext|>", "xyz"})
    with pytest.raises(ValueError, match="token 'xyzw'"):
        enc.encode("a xyzw", disallowed_special={"xyz", "xyzw", "w"})
    with pytest.raises(ValueError, match="disallowed special token '<\\|endoftext\\|>'"):
        enc.encode("\ud800 <|endoftext|>")
    # Allowed strings that are not special tokens change nothing.
    assert enc.encode("a <|foo|>", allowed_special={"<|foo|>"}) == enc.encode_ordinary("a <|foo|>")
    # Only the allowed ones are split off; the rest are text when not disallowed.
    assert enc.encode("<|endoftext|>", allowed_special=set(), disallowed_special=()) == [
        27,
        91,
        437,
        1659,
        5239,
        91,
        29,
    ]


def test_unknown_ids_raise_key_error(enc) -> None:
    with pytest.raises(KeyError, match="Invalid token for decoding: 50257"):
        enc.decode([31373, 50257])
    with pytest.raises(KeyError, match="50257"):
        enc.decode_single_token_bytes(50257)
    with pytest.raises(KeyError, match="50257"):
        enc.decode_bytes(np.array([50257], dtype=np.uint32))
    with pytest.raises(KeyError, match="4294967295"):
        enc.decode([2**32 - 1])  # the largest uint32: in range, just not a token


@pytest.mark.parametrize("bad", [-1, 2**32, 2**40, 2**64, 2**80])
def test_ids_outside_uint32_raise_overflow_error(enc, tiktoken_gpt2, bad) -> None:
    # tiktoken's ids are u32: anything outside is an OverflowError there, and here, naming the id.
    with pytest.raises(OverflowError):
        tiktoken_gpt2.decode([31373, bad])
    message = f"token id {bad} is outside"
    with pytest.raises(OverflowError, match=message):
        enc.decode([31373, bad])
    with pytest.raises(OverflowError, match=message):
        enc.decode_bytes(iter([bad]))
    with pytest.raises(OverflowError, match=message):
        enc.decode_single_token_bytes(bad)
    with pytest.raises(OverflowError, match=message):
        enc.decode_tokens_bytes([995, bad])
    # An out-of-range id anywhere wins over an unknown one, as in tiktoken (it converts all ids first).
    with pytest.raises(OverflowError, match=message):
        enc.decode([50257, bad])
    if bad < 2**63:
        with pytest.raises(OverflowError, match=message):
            enc.decode(np.array([5, bad], dtype=np.int64))
    if 0 <= bad < 2**64:
        with pytest.raises(OverflowError, match=message):
            enc.decode(np.array([5, bad], dtype=np.uint64))


def test_non_int_ids_raise_type_error(enc) -> None:
    with pytest.raises(TypeError):
        enc.decode(["a"])
    with pytest.raises(TypeError, match="must be integers"):
        enc.decode(np.array([1.5]))


def test_non_str_text_raises_type_error(enc) -> None:
    with pytest.raises(TypeError, match="text must be str, not int"):
        enc.encode(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be str, not bytes"):
        enc.encode_ordinary(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be str, not int"):
        enc.encode_ordinary_batch(["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="must be str, not NoneType"):
        enc.encode_to_numpy(None)  # type: ignore[arg-type]


def test_bad_thread_count(enc) -> None:
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="num_threads must be a positive int"):
            enc.encode_ordinary("abc", num_threads=bad)  # type: ignore[arg-type]


def test_unknown_encoding_and_pattern(enc, tiktoken_gpt2, monkeypatch) -> None:
    with pytest.raises(ValueError, match="unknown encoding 'nope'"):
        get_encoding("nope")
    with pytest.raises(ValueError, match="Expected a string"):
        get_encoding(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="explicit_n_vocab"):
        Encoding("x", mergeable_ranks=enc._mergeable_ranks, special_tokens={}, explicit_n_vocab=7)


def test_other_patterns_run_through_tiktoken_with_one_warning(enc, tiktoken_gpt2, monkeypatch) -> None:
    import tiktoken
    from llmprep.encoding import core

    monkeypatch.setattr(core, "_warned_patterns", set())
    pattern = r"""\w+|[^\w\s]+|\s+"""
    with pytest.warns(llmprep.TiktokenFallbackWarning, match="runs through tiktoken's engine"):
        other = Encoding(
            "words", pat_str=pattern, mergeable_ranks=enc._mergeable_ranks, special_tokens={"<|e|>": 50256}
        )
    again = Encoding("words", pat_str=pattern, mergeable_ranks=enc._mergeable_ranks, special_tokens={"<|e|>": 50256})
    assert isinstance(other, Encoding) and isinstance(again, Encoding)  # and no second warning (it would fail)
    reference = tiktoken.Encoding("words", pat_str=pattern, mergeable_ranks=tiktoken_gpt2._mergeable_ranks,
                                  special_tokens={"<|e|>": 50256})  # fmt: skip
    text = "Hello, world! It's 2024 <|e|> don't"
    assert other.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")
    assert other.encode_ordinary(text) != enc.encode_ordinary(text)  # another split, really used
    assert other.encode_to_numpy(text, disallowed_special=()).tolist() == reference.encode(text, disallowed_special=())
    assert other.encode_batch([text], allowed_special="all") == [reference.encode(text, allowed_special="all")]
    assert other.decode(reference.encode(text, disallowed_special=())) == text
    with pytest.raises(ValueError, match="disallowed special token"):
        other.encode(text)
    with pytest.raises(OverflowError, match="token id -1 is outside"):
        other.decode([-1])


def test_incomplete_rank_table_is_rejected() -> None:
    ranks = {bytes([b]): b for b in range(256) if b != 65}
    with pytest.raises(ValueError, match="single byte 65"):
        Encoding("x", mergeable_ranks=ranks, special_tokens={})
    with pytest.raises(ValueError, match="same token bytes twice|used twice"):
        Encoding("x", mergeable_ranks={**{bytes([b]): b for b in range(256)}, b"ab": 5}, special_tokens={})
    with pytest.raises(ValueError, match="used twice"):
        Encoding("x", mergeable_ranks={bytes([b]): b for b in range(256)}, special_tokens={"<|x|>": 3})


def test_a_small_vocabulary_works() -> None:
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abab": 257, b" ab": 258}
    small = Encoding("tiny", mergeable_ranks=ranks, special_tokens={"<|end|>": 300})
    assert small.encode("abab ab<|end|>", allowed_special="all") == [257, 258, 300]
    assert small.n_vocab == 301
    with pytest.raises(KeyError, match="299"):
        small.decode([299])  # a gap in the ids


# ---------------------------------------------------------------------------------------------
# Vocabulary files


def test_from_files_equals_tiktoken_loader(enc, gpt2_dir, verdict_text) -> None:
    local = Encoding.from_files(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")
    assert local._mergeable_ranks == enc._mergeable_ranks
    assert local.eot_token == 50256
    assert local.encode(verdict_text) == enc.encode(verdict_text)


def test_from_tiktoken_file(enc, tmp_path, verdict_text) -> None:
    path = tmp_path / "r50k_base.tiktoken"
    lines = (base64.b64encode(t).decode() + " " + str(r) for t, r in enc._mergeable_ranks.items())
    path.write_text("\n".join(lines) + "\n")
    loaded = Encoding.from_tiktoken_file(path)
    assert loaded.name == "r50k_base"
    assert loaded.eot_token == 50256
    assert loaded.encode(verdict_text + "<|endoftext|>", allowed_special="all") == enc.encode(
        verdict_text + "<|endoftext|>", allowed_special="all"
    )


def test_missing_vocabulary_files(gpt2_dir, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="encoder.json file not found"):
        Encoding.from_files(tmp_path / "encoder.json", gpt2_dir / "vocab.bpe")
    with pytest.raises(FileNotFoundError, match="vocab.bpe file not found"):
        Encoding.from_files(gpt2_dir / "encoder.json", tmp_path / "vocab.bpe")
    with pytest.raises(FileNotFoundError, match="tiktoken rank file not found"):
        Encoding.from_tiktoken_file(tmp_path / "nope.tiktoken")


def test_corrupt_vocabulary_files(gpt2_dir, tmp_path) -> None:
    encoder = tmp_path / "encoder.json"
    vocab = tmp_path / "vocab.bpe"
    shutil.copy(gpt2_dir / "vocab.bpe", vocab)

    encoder.write_text('{"a": 1,')
    with pytest.raises(ValueError, match="not valid JSON"):
        Encoding.from_files(encoder, vocab)
    encoder.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        Encoding.from_files(encoder, vocab)

    shutil.copy(gpt2_dir / "encoder.json", encoder)
    lines = (gpt2_dir / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    vocab.write_text("\n".join(lines[:5] + ["Ġ t h"] + lines[6:]), encoding="utf-8")
    with pytest.raises(ValueError, match="line 6 should be two tokens"):
        Encoding.from_files(encoder, vocab)
    vocab.write_text("\n".join(lines[:5] + lines[6:]), encoding="utf-8")
    with pytest.raises(ValueError, match="disagree"):
        Encoding.from_files(encoder, vocab)
    vocab.write_text("\n".join(lines[1:]), encoding="utf-8")
    with pytest.raises(ValueError, match="#version"):
        Encoding.from_files(encoder, vocab)
    vocab.write_bytes(b"#version\n\xff\xfe\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        Encoding.from_files(encoder, vocab)

    data = json.loads((gpt2_dir / "encoder.json").read_text(encoding="utf-8"))
    data["\u4e00"] = 7  # a character no byte maps to
    encoder.write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(gpt2_dir / "vocab.bpe", vocab)
    with pytest.raises(ValueError, match="no byte maps to"):
        Encoding.from_files(encoder, vocab)

    bad = tmp_path / "bad.tiktoken"
    bad.write_text("YQ== 0\nnot-base64!! 1\n")
    with pytest.raises(ValueError, match="line 2 should be 'base64-token rank'"):
        Encoding.from_tiktoken_file(bad)


# ---------------------------------------------------------------------------------------------
# Documentation and concurrency


def test_docstring_examples_run(enc, gpt2_dir, monkeypatch) -> None:
    import doctest

    from conftest import ROOT
    from llmprep.encoding import core, model, patterns, registry

    # The from_files example names ../shared/gpt2 relative to the repository root.
    if (ROOT.parent / "shared" / "gpt2").resolve() != gpt2_dir.resolve():
        pytest.skip("the docstring examples assume ../shared next to the repository")
    monkeypatch.chdir(ROOT)
    attempted = 0
    for module in (core, registry, model, patterns):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted > 20


def test_concurrent_callers_get_serial_results(enc, corpus_text) -> None:
    from concurrent.futures import ThreadPoolExecutor

    chunks = [corpus_text[i : i + 200_000] for i in range(0, 2_000_000, 200_000)]
    expected = [enc.encode_ordinary(c, num_threads=1) for c in chunks]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: enc.encode_ordinary(c, num_threads=1), chunks * 2))
    assert got == expected * 2


@given(
    st.text(alphabet="<|>ab é\n", max_size=200),
    st.lists(st.text(alphabet="<|>ab é", min_size=1, max_size=5), min_size=1, max_size=4),
)
def test_special_token_search_matches_python(text: str, needles: list[str]) -> None:
    found = [(i, n) for n in needles if (i := text.find(n)) >= 0]
    expected = min(found, key=lambda f: (f[0], -len(f[1])))[1] if found else None
    assert llmprep._core.BpeEncoder.find_first(text, needles) == expected
