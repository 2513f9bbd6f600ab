"""Fuzz the token-file reader (`llmprep.open_tokens`): llmprep files and raw ``.bin`` + sidecar.

Input: one mode byte, then the file. Mode bit 0: a raw file, the input being the ids,
`SEPARATOR`, then the ``.json`` sidecar. Mode bit 1: recompute the header's CRC-32 after
mutating (where the format has one at the end of the header), so mutations get past the checksum
to the checks behind it. `open_tokens` must raise `llmprep.TokenFileError` (a ValueError), or
return a file whose ids and document index are exactly the bytes at the offsets its header gives,
with offsets from 0 to ``n_tokens`` that never decrease; never crash (a memory map past the end
of the file would be a SIGBUS).

Seeds come from the installed llmprep's own `TokenFileWriter` (`write_seeds`, also run on the
fuzzing corpus when a harness starts), so they follow the format version being tested.
"""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
from _harness import Mismatch, check, check_equal, error_feature, feature, main
from llmprep import TokenFileError, open_tokens, tokens

SEPARATOR = b"\n\x00=====\x00\n"
_DIR = Path(tempfile.mkdtemp(prefix="llmprep-fuzz-tok-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
atexit.register(shutil.rmtree, _DIR, True)
_COUNTER = itertools.count()


def _fix_crc(data: bytearray) -> None:
    """Re-seals a version-1 style header (CRC-32 of the bytes before it, in its last 4 bytes)."""
    crc_at = getattr(tokens, "_CRC_AT", None)
    if crc_at is not None and len(data) >= crc_at + 4:
        data[crc_at : crc_at + 4] = zlib.crc32(bytes(data[:crc_at])).to_bytes(4, "little")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0], data[1:]
    path = _DIR / f"t{next(_COUNTER)}.bin"
    sidecar = path.with_name(path.name + ".json")
    raw = bool(mode & 1)
    if raw:
        ids, _, meta = body.partition(SEPARATOR)
        path.write_bytes(ids)
        sidecar.write_bytes(meta)
        content = ids
    else:
        content = bytearray(body)
        if mode & 2:
            _fix_crc(content)
        content = bytes(content)
        path.write_bytes(content)
    try:
        try:
            tf = open_tokens(path)
        except TokenFileError as e:
            error_feature("open_tokens", e)
            check(str(path) in str(e), f"the error names the file: {e}")
            return
        feature("ok", raw, tf.dtype.itemsize, min(tf.n_documents, 8), min(tf.n_tokens, 8))
        # Raw ids that happen to be a whole valid token file (magic, header, CRC) open as that token
        # file: the header wins over the sidecar. Only then may `raw` differ from the mode bit.
        _check_file(tf, content, raw if not content.startswith(tokens.MAGIC) else tf.raw)
        del tf
    finally:
        path.unlink()
        sidecar.unlink(missing_ok=True)


def _check_file(tf: tokens.TokenFile, content: bytes, raw: bool) -> None:
    check_equal(tf.raw, raw, "raw")
    check(tf.dtype in (np.dtype("<u2"), np.dtype("<u4")), f"dtype {tf.dtype}")
    n = tf.n_tokens
    check_equal(len(tf), n, "len")
    expected = np.frombuffer(content, dtype=tf.dtype, count=n, offset=tf.data_offset) if n else np.zeros(0, tf.dtype)
    check(np.array_equal(np.asarray(tf.tokens), expected), "the ids are the bytes at the data offset")
    check(tf.eot_token is None or tf.eot_token >= 0, f"eot_token {tf.eot_token}")
    if raw:
        check_equal(tf.document_offsets, None, "a raw file's document index")
        check_equal(len(content), n * tf.dtype.itemsize, "raw file size")
        return
    offsets = np.asarray(tf.document_offsets)
    check_equal(len(offsets), tf.n_documents + 1, "document offsets")
    index_at = tf.header.index_offset
    check(
        np.array_equal(offsets, np.frombuffer(content, dtype="<u8", count=len(offsets), offset=index_at)),
        "the document offsets are the bytes at the index offset",
    )
    check(offsets[0] == 0 and offsets[-1] == n and bool(np.all(np.diff(offsets.astype(np.int64)) >= 0)), "offsets")
    for i in range(min(tf.n_documents, 64)):
        check(np.array_equal(tf.document(i), expected[offsets[i] : offsets[i + 1]]), f"document {i}")
    if tf.n_documents:
        check(np.array_equal(tf.document(-1), expected[offsets[-2] :]), "the last document")
    try:
        tf.document(tf.n_documents)
    except IndexError:
        pass
    else:
        raise Mismatch("document(n_documents) did not raise IndexError")


def write_seeds(folder: Path) -> None:
    """Valid files written by the installed `TokenFileWriter`, as harness inputs."""
    documents = [[31373, 995], [], [1, 2, 3, 4, 5]]
    cases = [
        ("u16-eot", "uint16", 50256, "llmprep", documents),
        ("u32-noeot", "uint32", None, "llmprep", documents),
        ("u16-empty", "uint16", 50256, "llmprep", []),
        ("u32-big", "uint32", 100257, "llmprep", [[70000, 100000], [65535]]),
        ("raw-u16", "uint16", 50256, "raw", documents),
        ("raw-u32", "uint32", None, "raw", [[1, 70000]]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, dtype, eot, fmt, docs in cases:
            path = Path(tmp) / f"{name}.tok"
            with tokens.TokenFileWriter(
                path, dtype=dtype, encoding="gpt2", vocab_size=200_000, eot_token=eot, format=fmt
            ) as writer:
                for doc in docs:
                    writer.write(np.array(doc, dtype=np.uint32))
                    writer.end_document()
            if fmt == "raw":
                seed = b"\x01" + path.read_bytes() + SEPARATOR + path.with_name(path.name + ".json").read_bytes()
                (folder / name).write_bytes(seed)
            else:
                (folder / name).write_bytes(b"\x00" + path.read_bytes())
                (folder / f"{name}-sealed").write_bytes(b"\x02" + path.read_bytes())


if __name__ == "__main__":
    main(test_one_input, prepare_corpus=write_seeds)
