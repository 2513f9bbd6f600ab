"""The token-file format: round trips, dtype checks, and every way a file can be damaged."""

from __future__ import annotations

import json
import struct

import llmprep
import numpy as np
import pytest
from llmprep.tokens import HEADER_SIZE, TokenFileWriter, merge_token_files, open_tokens, read_header


def write(path, docs, *, dtype="uint16", eot=50256, fmt="llmprep", encoding="gpt2", vocab=50257):
    with TokenFileWriter(path, dtype=dtype, encoding=encoding, vocab_size=vocab, eot_token=eot, format=fmt) as w:
        for doc in docs:
            w.write(np.asarray(doc, dtype=np.uint32))
            w.end_document()
    return path


def test_round_trip_with_index(tmp_path) -> None:
    docs = [[1, 2, 3], [], [65535 - 300, 7]]
    path = write(tmp_path / "a.tok", docs)
    tf = llmprep.open_tokens(path)
    assert tf.tokens.dtype == np.uint16 and isinstance(tf.tokens, np.memmap)
    assert not tf.tokens.flags.writeable
    assert tf.tokens.tolist() == [1, 2, 3, 50256, 50256, 65235, 7, 50256]
    assert tf.document_offsets.tolist() == [0, 4, 5, 8]
    assert [tf.document(i).tolist() for i in range(3)] == [d + [50256] for d in docs]
    assert (tf.encoding, tf.vocab_size, tf.eot_token, tf.n_documents, len(tf)) == ("gpt2", 50257, 50256, 3, 8)
    assert tf.data_offset == HEADER_SIZE
    assert path.stat().st_size == read_header(path).file_size


def test_no_eot_and_uint32(tmp_path) -> None:
    path = write(tmp_path / "b.tok", [[70000, 1], [2]], dtype="uint32", eot=None, vocab=70001, encoding="simple")
    tf = open_tokens(path)
    assert tf.tokens.dtype == np.uint32 and tf.tokens.tolist() == [70000, 1, 2]
    assert tf.eot_token is None and tf.document_offsets.tolist() == [0, 2, 3]


def test_empty_file(tmp_path) -> None:
    tf = open_tokens(write(tmp_path / "e.tok", []))
    assert len(tf) == 0 and tf.document_offsets.tolist() == [0]


def test_forced_uint16_never_wraps(tmp_path) -> None:
    with pytest.raises(ValueError, match="token id 70000 does not fit in uint16"):
        write(tmp_path / "c.tok", [[1, 70000]], eot=None, vocab=70001)
    assert list(tmp_path.iterdir()) == []  # the failed run left nothing, not even a temp file


def test_raw_format_and_sidecar(tmp_path) -> None:
    path = write(tmp_path / "r.bin", [[5, 6], [7]], fmt="raw")
    assert np.fromfile(path, dtype=np.uint16).tolist() == [5, 6, 50256, 7, 50256]
    meta = json.loads((tmp_path / "r.bin.json").read_text())
    assert meta["dtype"] == "uint16" and meta["encoding"] == "gpt2" and meta["n_tokens"] == 5
    tf = open_tokens(path)
    assert tf.raw and tf.document_offsets is None and tf.tokens.tolist() == [5, 6, 50256, 7, 50256]
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(llmprep.TokenFileError, match="truncated or corrupted"):
        open_tokens(path)


@pytest.fixture
def good(tmp_path):
    return write(tmp_path / "g.tok", [[1, 2, 3], [4, 5]])


def test_truncated_file(good) -> None:
    data = good.read_bytes()
    good.write_bytes(data[:-3])
    with pytest.raises(llmprep.TokenFileError, match="is truncated: .* need"):
        open_tokens(good)
    good.write_bytes(data[:100])
    with pytest.raises(llmprep.TokenFileError, match="shorter than the 256-byte header"):
        open_tokens(good)
    good.write_bytes(data + b"\0" * 8)
    with pytest.raises(llmprep.TokenFileError, match="more than its header accounts for"):
        open_tokens(good)


def test_corrupted_header(good) -> None:
    data = bytearray(good.read_bytes())
    data[17] ^= 0x01  # inside n_tokens
    good.write_bytes(bytes(data))
    with pytest.raises(llmprep.TokenFileError, match="corrupted header .checksum"):
        open_tokens(good)


def test_not_a_token_file_and_other_versions(good, tmp_path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hello world, this is text and not token ids")
    with pytest.raises(llmprep.TokenFileError, match="not an llmprep token file: wrong magic"):
        open_tokens(text)
    data = bytearray(good.read_bytes())
    struct.pack_into("<I", data, 8, 99)
    good.write_bytes(bytes(data))
    with pytest.raises(llmprep.TokenFileError, match="version 99"):
        open_tokens(good)


def test_corrupted_index(good) -> None:
    header = read_header(good)
    data = bytearray(good.read_bytes())
    struct.pack_into("<Q", data, header.index_offset + 8, 99)  # the first document's end
    good.write_bytes(bytes(data))
    with pytest.raises(llmprep.TokenFileError, match="corrupted document index"):
        open_tokens(good)


def test_merge_concatenates_and_checks(tmp_path) -> None:
    a = write(tmp_path / "a.tok", [[1], [2, 3]])
    b = write(tmp_path / "b.tok", [[4, 5, 6]])
    merged = merge_token_files([a, b], tmp_path / "m.tok")
    assert merged.n_documents == 3
    tf = open_tokens(tmp_path / "m.tok")
    assert tf.tokens.tolist() == [1, 50256, 2, 3, 50256, 4, 5, 6, 50256]
    assert tf.document_offsets.tolist() == [0, 2, 5, 9]
    assert (tmp_path / "m.tok").read_bytes() == write(tmp_path / "w.tok", [[1], [2, 3], [4, 5, 6]]).read_bytes()
    other = write(tmp_path / "o.tok", [[1]], encoding="r50k_base")
    with pytest.raises(ValueError, match="encoding differs"):
        merge_token_files([a, other], tmp_path / "x.tok")
    assert not (tmp_path / "x.tok").exists()


def test_writer_failure_leaves_nothing(tmp_path) -> None:
    with (
        pytest.raises(RuntimeError),
        TokenFileWriter(tmp_path / "z.tok", dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=None) as w,
    ):
        w.write(np.arange(10, dtype=np.uint32))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_rejects_missing_folder_and_bad_dtype(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TokenFileWriter(tmp_path / "no" / "x.tok", dtype="uint16", encoding="gpt2", vocab_size=1, eot_token=None)
    with pytest.raises(ValueError, match="uint16 or uint32"):
        TokenFileWriter(tmp_path / "x.tok", dtype="int64", encoding="gpt2", vocab_size=1, eot_token=None)
