"""Fuzz the streaming chunker of ``llmprep tokenize`` (`_core.TextChunker`) and the encoders behind it.

Input: three bytes of settings (chunk size, block-size pattern, flags), then the document's bytes,
fed to the chunker in blocks of varying sizes. Whatever the split:

* invalid UTF-8 in strict mode raises `llmprep.InvalidUTF8Error` with Python's offset and reason;
* otherwise the chunks are non-empty, valid UTF-8 and join to the text (in replace mode: to
  ``bytes.decode("utf-8", "replace")``, exactly);
* GPT-2 cuts: ``bpe_encode_chunks`` of the chunks equals tiktoken's ids of the whole text and
  llmprep's own ids of it in one piece;
* whitespace cuts (the chapter's splitter): a SimpleTokenizer's ``encode_chunks`` equals its
  ``encode`` of the whole text.
"""

from __future__ import annotations

from pathlib import Path

import llmprep
import numpy as np
from _harness import SAMPLE_TEXTS, Mismatch, check, check_equal, encoding_pairs, feature, main
from llmprep import _core

_GPT2 = next((ours, ref) for name, ours, ref in encoding_pairs() if name == "gpt2")
_SIMPLE = llmprep.SimpleTokenizer.from_text(
    "the a of and to in is it you that he was for on are with as I his 0 1 , . "
)


def _chunks(data: bytes, rule: str, chunk_bytes: int, blocks: bytes, replace: bool) -> list[bytes]:
    chunker = _core.TextChunker(rule, chunk_bytes, replace, "fuzz-input")
    out: list[bytes] = []
    position, k = 0, 0
    while position < len(data):
        size = 1 + blocks[k % len(blocks)] % 37 if blocks else len(data)
        out += chunker.push(memoryview(data)[position : position + size])
        position += size
        k += 1
    out += chunker.finish()
    check_equal(chunker.bytes_in, len(data), "TextChunker.bytes_in")
    return out


def test_one_input(data: bytes) -> None:
    if len(data) < 3:
        return
    chunk_bytes = 1 + data[0] % 64
    replace = bool(data[2] & 1)
    rule = "whitespace" if data[2] & 2 else "gpt2"
    body = data[3:]
    blocks = body[: data[1] % 8]  # the sizes of the blocks: the first few bytes, cycled
    try:
        expected = body.decode("utf-8", "replace" if replace else "strict").encode("utf-8")
    except UnicodeDecodeError as e:
        feature("invalid", e.reason, e.end - e.start, replace)
        # The encoder checks chunks from direct callers too: invalid UTF-8 is a ValueError.
        try:
            _core.bpe_encode_chunks(_GPT2[0]._core, [body], 1)
        except ValueError:
            pass
        else:
            raise Mismatch("bpe_encode_chunks accepted invalid UTF-8") from None
        try:
            _chunks(body, rule, chunk_bytes, blocks, replace)
        except llmprep.InvalidUTF8Error as error:
            check_equal((error.offset, error.reason), (e.start, e.reason), "InvalidUTF8Error offset and reason")
            check(f"at byte offset {e.start}" in str(error), f"the message names the offset: {error}")
            return
        raise Mismatch(f"invalid UTF-8 ({e}) was not reported") from None
    chunks = _chunks(body, rule, chunk_bytes, blocks, replace)
    feature(rule, "chunks", min(len(chunks), 24))
    for chunk in chunks:
        feature(rule, "chunk size", max(min(len(chunk) - chunk_bytes, 12), -12))
    check(all(chunks), "an empty chunk")
    check_equal(b"".join(chunks), expected, "the chunks joined")
    for chunk in chunks:
        chunk.decode("utf-8")  # raises on a chunk cut inside a character
    text = expected.decode("utf-8")
    if rule == "gpt2":
        ours, ref = _GPT2
        ids = _core.bpe_encode_chunks(ours._core, chunks, 1 + (data[2] >> 7))
        joined = np.concatenate(ids).tolist() if ids else []
        for token in joined[:256]:
            feature("id", token)
        check_equal(joined, ref.encode_ordinary(text), "ids of the GPT-2 chunks vs tiktoken")
        whole = _core.bpe_encode_chunks(ours._core, [expected], 1)
        check_equal(joined, whole[0].tolist(), "ids of the GPT-2 chunks vs the whole text")
    else:
        dtype = _SIMPLE.dtype.name
        ids = _SIMPLE._core.encode_chunks(chunks, dtype, 1 + (data[2] >> 7))
        joined = np.concatenate(ids).tolist() if ids else []
        check_equal(joined, _SIMPLE.encode(text), "ids of the whitespace chunks vs the whole text")


def write_seeds(folder: Path) -> None:
    """The sample texts under both cut rules and several chunk and block sizes, and invalid UTF-8."""
    settings = [b"\x07\x03\x00", b"\x10\x05\x01", b"\x03\x02\x02", b"\x3f\x00\x80", b"\x01\x07\x03"]
    for i, text in enumerate(SAMPLE_TEXTS):
        (folder / f"text{i:02d}").write_bytes(settings[i % len(settings)] + text.encode("utf-8"))
    invalid = [b"ok \xe2\x82 then \xed\xa0\x80 and \xf0\x9f\x98", b"caf\xe9 au lait", b"\xc0\xaf\xf4\x90\x80\x80 x"]
    for i, data in enumerate(invalid):
        (folder / f"invalid{i}-strict").write_bytes(b"\x05\x04\x00" + data)
        (folder / f"invalid{i}-replace").write_bytes(b"\x05\x04\x01" + data)


if __name__ == "__main__":
    main(test_one_input)
