"""The token files' O_DIRECT writer (python/llmprep/_direct_file.py): the same bytes as a plain
buffered file for every write pattern, with the staging buffer shrunk so that every path (full
stages, an unaligned tail, seeking back for a header) runs; and the fallbacks: a file system or
device that refuses O_DIRECT, a short write, and errors that must surface (ENOSPC)."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import numpy as np
import pytest
from llmprep import _direct_file
from llmprep._direct_file import DirectFile, open_direct
from llmprep.tokens import TokenFileWriter, verify_tokens

HAS_DIRECT = bool(getattr(os, "O_DIRECT", 0))


@pytest.fixture(autouse=True)
def small_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DirectFile, "STAGE_BYTES", 3 * DirectFile.ALIGN)


def _open(path: Path):  # type: ignore[no-untyped-def]
    return open_direct(os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600))


def _writes(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [0, 1, 255, DirectFile.ALIGN - 1, DirectFile.ALIGN, DirectFile.ALIGN + 1, 3 * DirectFile.ALIGN]
    sizes += [rng.randrange(1, 5 * DirectFile.ALIGN) for _ in range(40)]
    rng.shuffle(sizes)
    return [rng.randbytes(n) for n in sizes]


def _direct_file_or_skip(path: Path):  # type: ignore[no-untyped-def]
    f = _open(path)
    if not isinstance(f, DirectFile):
        f.close()
        pytest.skip("this file system refuses O_DIRECT (the plain-file fallback is tested below)")
    return f


@pytest.mark.parametrize("seed", range(4))
def test_same_bytes_as_a_plain_file(tmp_path: Path, seed: int) -> None:
    parts = _writes(seed)
    f = _direct_file_or_skip(tmp_path / "out.bin")
    for part in parts:
        assert f.write(part) == len(part)
    expected = bytearray(b"".join(parts))
    assert f.tell() == len(expected)
    # Seeking back ends the direct phase; what follows is an ordinary buffered file.
    f.seek(0)
    f.write(b"HEADER")
    expected[:6] = b"HEADER"
    f.seek(0, os.SEEK_END)
    f.write(b"tail")
    expected += b"tail"
    f.flush()
    os.fsync(f.fileno())
    f.close()
    assert f.closed
    assert (tmp_path / "out.bin").read_bytes() == bytes(expected)


def test_typed_arrays_and_close_without_flush(tmp_path: Path) -> None:
    ids = np.arange(20_000, dtype=np.uint16)
    f = _direct_file_or_skip(tmp_path / "ids.bin")
    f.write(ids.data)  # a uint16 buffer, cast to bytes
    f.write(memoryview(ids.astype(np.uint32)).cast("B"))
    f.close()  # writes what is staged, like any buffered file
    data = (tmp_path / "ids.bin").read_bytes()
    assert data == ids.tobytes() + ids.astype(np.uint32).tobytes()


def test_a_refused_direct_write_falls_back_to_buffered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Some file systems and devices accept the flag but refuse the write (EINVAL): those bytes
    # and the rest are then written through the page cache.
    f = _direct_file_or_skip(tmp_path / "out.bin")
    real = os.write
    calls = {"refused": 0}

    def refuse_direct(fd: int, data: memoryview) -> int:
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            calls["refused"] += 1
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data)

    monkeypatch.setattr(_direct_file, "_write", refuse_direct)
    parts = _writes(7)
    for part in parts:
        f.write(part)
    f.flush()
    f.close()
    assert calls["refused"] == 1
    assert (tmp_path / "out.bin").read_bytes() == b"".join(parts)


def test_a_short_direct_write_finishes_buffered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _direct_file_or_skip(tmp_path / "out.bin")
    real = os.write
    shortened = []

    def short_once(fd: int, data: memoryview) -> int:
        if not shortened:
            shortened.append(True)
            return real(fd, data[:100])  # not a multiple of the alignment (no O_DIRECT write is)
        return real(fd, data)

    parts = _writes(8)
    monkeypatch.setattr(_direct_file, "_write", short_once)
    for part in parts:
        f.write(part)
    f.close()
    assert shortened
    assert (tmp_path / "out.bin").read_bytes() == b"".join(parts)


def test_enospc_surfaces_and_the_token_file_is_not_left_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "t.tok"
    writer = TokenFileWriter(out, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256)
    if not isinstance(writer._out.file, DirectFile):
        writer.abort()
        pytest.skip("this file system refuses O_DIRECT")
    monkeypatch.setattr(_direct_file, "_write", full)
    with pytest.raises(OSError, match=rf"cannot write {out}: No space left on device") as info, writer:
        for _ in range(10):
            writer.write(np.arange(5_000, dtype=np.uint16))
            writer.end_document()
    assert info.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


@pytest.mark.parametrize("fmt", ["llmprep", "raw"])
@pytest.mark.parametrize("direct", [True, False])
def test_token_files_are_the_same_direct_or_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, direct: bool
) -> None:
    if not direct:
        monkeypatch.setattr(_direct_file, "_O_DIRECT", 0)  # as on a platform without it
    rng = np.random.default_rng(3)
    docs = [rng.integers(0, 50256, size=n, dtype=np.uint16) for n in (0, 1, 2047, 2048, 2049, 10_000, 7)]
    out = tmp_path / f"t.{fmt}"
    with TokenFileWriter(out, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256, format=fmt) as w:
        assert isinstance(w._out.file, DirectFile) == (direct and HAS_DIRECT and _probe_direct(tmp_path))
        for d in docs:
            w.write(d)
            w.end_document()
    expected = np.concatenate([np.append(d, np.uint16(50256)) for d in docs])
    # Checksums verified: the bytes on disk are the ones written.
    tokens = verify_tokens(out)
    assert np.array_equal(np.asarray(tokens.tokens), expected)
    if fmt == "llmprep":
        assert tokens.document_offsets is not None and tokens.document_offsets.tolist()[-1] == expected.size
    else:
        assert out.read_bytes() == expected.tobytes()
    assert len(list(tmp_path.iterdir())) == (2 if fmt == "raw" else 1)  # no temporary file left


def _probe_direct(folder: Path) -> bool:
    f = _open(folder / ".probe")
    try:
        return isinstance(f, DirectFile)
    finally:
        f.close()
        (folder / ".probe").unlink()
