"""Token-file integrity: CRC-32C (both code paths, against a bitwise reference), format version 2
with a checksum per block of ids and of the index, a bit flip in every region found and named,
version 1 files still read, the raw sidecar authoritative, `llmprep verify` and `inspect`."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmprep import _core
from llmprep._core import _testing
from llmprep.tokens import (
    CHECKSUM_BLOCK_BYTES,
    HEADER_SIZE,
    TokenFileError,
    TokenFileHeader,
    TokenFileWriter,
    merge_token_files,
    open_tokens,
    read_header,
    verify_tokens,
)


def crc32c_reference(data: bytes, crc: int = 0) -> int:
    """Bit-by-bit CRC-32C (reflected polynomial 0x82F63B78): the definition."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_known_values() -> None:
    assert _core.crc32c(b"123456789") == 0xE3069283  # the standard check value (RFC 3720)
    assert _core.crc32c(b"") == 0
    assert _core.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert _core.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert _core.crc32c(bytes(range(32))) == 0x46DD794E


@given(st.binary(max_size=300), st.integers(0, 2**32 - 1), st.integers(0, 299))
def test_crc32c_paths_equal_the_definition(data: bytes, seed: int, cut: int) -> None:
    expected = crc32c_reference(data, seed)
    assert _core.crc32c(data, seed) == expected
    assert _core.crc32c(data, seed, portable=True) == expected
    cut = min(cut, len(data))
    assert _core.crc32c(data[cut:], _core.crc32c(data[:cut], seed)) == expected  # continuation


def test_crc32c_large_and_unaligned_buffers() -> None:
    rng = np.random.default_rng(7)
    data = rng.integers(0, 256, size=3 * 1024 * 1024 + 13, dtype=np.uint8)
    whole = _core.crc32c(data)
    assert _core.crc32c(data, portable=True) == whole
    for offset in range(1, 9):
        view = data[offset:]
        assert _core.crc32c(view) == _core.crc32c(view, portable=True)
    assert isinstance(_testing.crc32c_hardware(), bool)


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_crc32c_blocks_equal_blockwise_crcs(threads: int) -> None:
    data = np.random.default_rng(1).integers(0, 256, size=100_003, dtype=np.uint8)
    for block in (1, 7, 4096, 100_003, 200_000):
        got = _core.crc32c_blocks(data, block, threads)
        expected = [_core.crc32c(data[i : i + block]) for i in range(0, data.size, block)]
        assert got.dtype == np.uint32 and got.tolist() == expected
    with pytest.raises(ValueError, match="block_bytes"):
        _core.crc32c_blocks(data, 0)
    with pytest.raises(ValueError, match="contiguous"):
        _core.crc32c(np.arange(10, dtype=np.uint8)[::2])


# -- version 2 files -----------------------------------------------------------------------------

N_TOKENS = 700_001  # uint16: 1.4 MB of ids = two checksum blocks; odd, so 6 bytes of padding follow


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    path = tmp_path / "v2.tok"
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50256, size=N_TOKENS - 3, dtype=np.uint16)
    with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256) as w:
        for part in np.array_split(ids, 3):
            w.write(part)
            w.end_document()
    return path


def _flip(path: Path, offset: int, bit: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))


def test_v2_layout_and_clean_verify(v2: Path) -> None:
    h = read_header(v2)
    assert h.version == 2 and h.block_bytes == CHECKSUM_BLOCK_BYTES
    assert h.n_tokens == N_TOKENS and h.n_documents == 3
    assert h.n_id_blocks == 2 and h.n_index_blocks == 1
    assert v2.stat().st_size == h.file_size == h.checksum_offset + 4 * 3
    tf = verify_tokens(v2)
    assert tf.has_checksums
    table = np.frombuffer(v2.read_bytes()[h.checksum_offset :], dtype="<u4")
    ids_bytes = v2.read_bytes()[HEADER_SIZE : HEADER_SIZE + 2 * N_TOKENS]
    assert table[0] == _core.crc32c(ids_bytes[:CHECKSUM_BLOCK_BYTES])
    assert table[1] == _core.crc32c(ids_bytes[CHECKSUM_BLOCK_BYTES:])
    assert h.checksum_crc == _core.crc32c(table.tobytes())


def _regions(h: TokenFileHeader) -> dict[str, tuple[int, str]]:
    """An offset inside every region of a v2 file, and what the error must say about it."""
    ids_end = h.data_offset + h.n_tokens * h.dtype.itemsize
    return {
        "magic": (0, "not an llmprep token file"),
        "header fields": (20, "corrupted header"),
        "header checksum fields": (140, "corrupted header"),
        "header padding": (200, "corrupted header"),
        "header crc": (HEADER_SIZE - 2, "corrupted header"),
        "ids block 0": (HEADER_SIZE + 5, r"block 0 of its ids \(bytes 256\.\."),
        "ids block 1": (HEADER_SIZE + CHECKSUM_BLOCK_BYTES + 1, "block 1 of its ids"),
        "last id": (ids_end - 1, "block 1 of its ids"),
        "padding": (ids_end + 1, "padding"),
        "index": (h.index_offset + 8 + 3, "document index"),
        "checksum table": (h.checksum_offset + 1, "checksum table"),
        "last byte": (h.file_size - 1, "checksum table"),
    }


@pytest.mark.parametrize(
    "region",
    [
        "magic",
        "header fields",
        "header checksum fields",
        "header padding",
        "header crc",
        "ids block 0",
        "ids block 1",
        "last id",
        "padding",
        "index",
        "checksum table",
        "last byte",
    ],
)
def test_a_bit_flip_anywhere_is_found(v2: Path, tmp_path: Path, region: str) -> None:
    offset, message = _regions(read_header(v2))[region]
    _flip(v2, offset, bit=3)
    with pytest.raises(TokenFileError, match=message):
        open_tokens(v2, verify=True)
    with pytest.raises(TokenFileError):
        merge_token_files([v2], tmp_path / "m.tok")
    assert not (tmp_path / "m.tok").exists()
    out = subprocess.run([sys.executable, "-m", "llmprep", "verify", str(v2)], capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("llmprep: error: ")


def test_flipped_ids_pass_the_cheap_open_but_not_verify(v2: Path) -> None:
    _flip(v2, HEADER_SIZE + 10)
    assert open_tokens(v2).n_tokens == N_TOKENS  # the ids are not read by a plain open
    with pytest.raises(TokenFileError, match="block 0 of its ids .* fails its CRC-32C check"):
        verify_tokens(v2, num_threads=2)


def test_verify_cli_checks_every_file_and_names_the_bad_one(v2: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.tok"
    good.write_bytes(v2.read_bytes())
    _flip(v2, HEADER_SIZE + CHECKSUM_BLOCK_BYTES + 100)
    command = [sys.executable, "-m", "llmprep", "verify", str(good), str(v2), "--workers", "2"]
    out = subprocess.run(command, capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{good}: ok, checksums match (llmprep v2, 700,001 tokens, 3 documents)" in out.stdout
    assert f"{v2} is corrupted: block 1 of its ids" in out.stderr
    ok = subprocess.run([sys.executable, "-m", "llmprep", "verify", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_empty_v2_file_verifies(tmp_path: Path) -> None:
    path = tmp_path / "empty.tok"
    with TokenFileWriter(path, dtype="uint32", encoding="gpt2", vocab_size=50257, eot_token=None):
        pass
    h = read_header(path)
    assert (h.n_id_blocks, h.n_index_blocks) == (0, 1)
    assert verify_tokens(path).n_tokens == 0


def test_unended_document_is_an_error(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="after the last end_document"),
        TokenFileWriter(tmp_path / "x.tok", dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=None) as w,
    ):
        w.write(np.arange(3))
    assert list(tmp_path.iterdir()) == []


# -- version 1 files -----------------------------------------------------------------------------


def _as_v1(v2_path: Path, v1_path: Path) -> None:
    """The same ids and index in format version 1 (as llmprep 0.1 wrote them: no checksum table)."""
    h = read_header(v2_path)
    data = v2_path.read_bytes()
    v1 = TokenFileHeader(h.dtype, h.n_tokens, h.n_documents, h.vocab_size, h.eot_token, h.encoding, version=1)
    v1_path.write_bytes(v1.pack() + data[HEADER_SIZE : h.checksum_offset])


def test_version_1_files_stay_readable(v2: Path, tmp_path: Path) -> None:
    v1 = tmp_path / "v1.tok"
    _as_v1(v2, v1)
    raw = v1.read_bytes()
    assert struct.unpack_from("<I", raw, 8)[0] == 1 and raw[128:252] == bytes(124)  # v1: nothing after the name
    tf = open_tokens(v1, verify=True)
    assert not tf.has_checksums and tf.header.version == 1
    assert np.array_equal(tf.tokens, open_tokens(v2).tokens)
    assert tf.document_offsets is not None and tf.document_offsets.tolist() == open_tokens(v2).document_offsets.tolist()
    out = subprocess.run([sys.executable, "-m", "llmprep", "verify", str(v1)], capture_output=True, text=True)
    assert out.returncode == 0 and "no checksums to check" in out.stdout
    merged = tmp_path / "m.tok"
    merge_token_files([v1, v2], merged)  # v1 inputs merge into a v2 file with checksums
    assert verify_tokens(merged).n_tokens == 2 * N_TOKENS


# -- raw files -----------------------------------------------------------------------------------


def test_raw_sidecar_holds_checksums_and_is_authoritative(tmp_path: Path) -> None:
    path = tmp_path / "r.bin"
    with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256, format="raw") as w:
        w.write(np.arange(1000))
        w.end_document()
    meta = json.loads((tmp_path / "r.bin.json").read_text())
    assert meta["version"] == 2 and meta["crc32c"] == [_core.crc32c(path.read_bytes())]
    assert verify_tokens(path).has_checksums
    with pytest.raises(ValueError, match="holds uint16 ids .its sidecar says so., not uint32"):
        open_tokens(path, dtype=np.uint32)
    assert open_tokens(path, dtype=np.uint16).n_tokens == 1001
    _flip(path, 7)
    with pytest.raises(TokenFileError, match="block 0 of its ids"):
        open_tokens(path, verify=True)
    # A sidecar of version 1 (no checksums) still opens.
    del meta["crc32c"], meta["checksum_block_bytes"]
    meta["version"] = 1
    (tmp_path / "r.bin.json").write_text(json.dumps(meta))
    assert not open_tokens(path, verify=True).has_checksums


def test_llmprep_file_dtype_contradiction(v2: Path) -> None:
    with pytest.raises(ValueError, match="holds uint16 ids .its header says so."):
        open_tokens(v2, dtype="uint32")


def test_inspect_warns_about_ids_outside_the_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "bad.tok"
    with TokenFileWriter(path, dtype="uint16", encoding="simple", vocab_size=10, eot_token=None) as w:
        w.write(np.array([1, 2, 3, 40]))
        w.end_document()
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", "inspect", str(path), "--show", "0"],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert out.returncode == 0, out.stderr
    assert "holds id 40, outside its simple vocabulary of 10 ids" in out.stderr
    assert "ids:        min 1, max 40" in out.stdout
    assert "CRC-32C per block" in out.stdout
