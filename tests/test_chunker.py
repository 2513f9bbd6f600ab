"""The streaming chunker: cuts never change the tokens, and the UTF-8 policy is Python's, with
offsets counted in the whole source however the bytes arrive."""

from __future__ import annotations

import llmprep
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmprep import _core

# Text that exercises every kind of GPT-2 boundary: letters, digits, punctuation, contractions,
# runs of spaces and newlines, Unicode whitespace (incl. U+001C-001F, which Python's \s has and
# tiktoken's lacks), multi-byte letters and marks.
ALPHABET = st.sampled_from(
    list("ab Z0 9.,'!-\n\t\r")
    + [
        "  ",
        "\n\n",
        "'s",
        "'ll",
        "\u00a0",
        "\u3000",
        "\u2028",
        "\x1c",
        "\x85",
        "é",
        "日本",
        "\u0301",
        "😀",
        "--",
        "<|endoftext|>",
        "\ufffd",
    ]
)
TEXTS = st.lists(ALPHABET, max_size=60).map("".join)


def chunk(data: bytes, rule: str, chunk_bytes: int, block: int, replace: bool = False) -> list[bytes]:
    chunker = _core.TextChunker(rule, chunk_bytes, replace, "test")
    out: list[bytes] = []
    for i in range(0, len(data), block):
        out += chunker.push(data[i : i + block])
    out += chunker.finish()
    assert chunker.bytes_in == len(data)
    return out


@given(text=TEXTS, chunk_bytes=st.integers(1, 24), block=st.integers(1, 17))
def test_gpt2_cuts_do_not_change_tiktoken_ids(tiktoken_gpt2, text: str, chunk_bytes: int, block: int) -> None:
    data = text.encode()
    chunks = chunk(data, "gpt2", chunk_bytes, block)
    assert b"".join(chunks) == data
    assert all(chunks)
    ids = [i for c in chunks for i in tiktoken_gpt2.encode_ordinary(c.decode())]
    assert ids == tiktoken_gpt2.encode_ordinary(text)


@given(text=TEXTS, chunk_bytes=st.integers(1, 24), block=st.integers(1, 17))
def test_whitespace_cuts_do_not_change_simple_ids(text: str, chunk_bytes: int, block: int) -> None:
    tok = llmprep.SimpleTokenizer.from_text("ab Z0 9 é 日本 😀 \u0301")
    data = text.encode()
    chunks = chunk(data, "whitespace", chunk_bytes, block)
    assert b"".join(chunks) == data
    ids = [i for c in chunks for i in tok.encode(c.decode())]
    assert ids == tok.encode(text)


def test_chunks_are_cut_near_the_target(verdict_text: str, tiktoken_gpt2) -> None:
    data = verdict_text.encode()
    chunks = chunk(data, "gpt2", 1000, 4096)
    assert len(chunks) > 15
    assert all(1000 <= len(c) < 1100 for c in chunks[:-1])
    ids = [i for c in chunks for i in tiktoken_gpt2.encode_ordinary(c.decode())]
    assert ids == tiktoken_gpt2.encode_ordinary(verdict_text)


def test_one_long_piece_is_never_cut() -> None:
    data = b"x" * 10_000 + b" y"
    assert chunk(data, "gpt2", 10, 100) == [b"x" * 10_000, b" y"]


BYTES = st.lists(
    st.sampled_from(
        [
            b"a",
            b" ",
            b"\xc3\xa9",
            b"\xe6\x97\xa5",
            b"\xf0\x9f\x98\x80",
            b"\xc3",
            b"\xe6\x97",
            b"\xf0\x9f",
            b"\x80",
            b"\xff",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"\xe0\x80",
        ]
    ),
    max_size=30,
).map(b"".join)


@given(data=BYTES, chunk_bytes=st.integers(1, 9), block=st.integers(1, 7))
def test_utf8_policy_is_pythons_across_blocks(data: bytes, chunk_bytes: int, block: int) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        with pytest.raises(llmprep.InvalidUTF8Error) as info:
            chunk(data, "gpt2", chunk_bytes, block)
        assert info.value.offset == e.start
        assert info.value.reason == e.reason
        assert f"at byte offset {e.start}" in str(info.value) and "'test'" in str(info.value)
    else:
        assert b"".join(chunk(data, "gpt2", chunk_bytes, block)) == data
    replaced = b"".join(chunk(data, "whitespace", chunk_bytes, block, replace=True))
    assert replaced == data.decode("utf-8", "replace").encode()


def test_error_offset_is_in_the_whole_source() -> None:
    data = ("word " * 100_000).encode() + b"caf\xe9 " + b"more " * 10
    with pytest.raises(llmprep.InvalidUTF8Error, match="at byte offset 500003") as info:
        chunk(data, "gpt2", 1000, 65536)
    assert info.value.offset == 500_003


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="cut rule"):
        _core.TextChunker("regex", 10, False, "x")
    with pytest.raises(ValueError, match="chunk_bytes"):
        _core.TextChunker("gpt2", 0, False, "x")


@given(data=BYTES, chunk_bytes=st.integers(1, 40), replace=st.booleans())
def test_whole_equals_push_and_finish(data: bytes, chunk_bytes: int, replace: bool) -> None:
    # `whole` (the pipeline's path for a small file read at once) gives push + finish's chunks, and
    # a valid document that fits one chunk comes back as the very object passed in.
    def whole() -> list[bytes]:
        return _core.TextChunker("gpt2", chunk_bytes, replace, "test").whole(data)

    try:
        expected = chunk(data, "gpt2", chunk_bytes, max(len(data), 1), replace)
    except llmprep.InvalidUTF8Error as e:
        with pytest.raises(llmprep.InvalidUTF8Error) as info:
            whole()
        assert (info.value.offset, info.value.reason, str(info.value)) == (e.offset, e.reason, str(e))
        return
    got = whole()
    assert got == expected
    if data and len(data) <= chunk_bytes and not replace:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return
        assert len(got) == 1 and got[0] is data


def test_whole_of_nothing_is_no_chunk() -> None:
    assert _core.TextChunker("gpt2", 10, False, "x").whole(b"") == []
