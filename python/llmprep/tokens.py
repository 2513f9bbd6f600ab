"""Token files: the llmprep format (header, ids, document index) and nanoGPT-style raw ``.bin``.

Layout of an llmprep token file (all integers little-endian; see the README, "Format, version 2")::

    [0, 256)                 header: magic, version, dtype, counts, vocabulary size, EOT id,
                             offsets of the ids and of the index, encoding name, checksum block
                             size, offset and CRC-32C of the checksum table, CRC-32 of the header
    [256, 256 + n*itemsize)  the token ids, uint16 or uint32
    (zero padding to 8 bytes)
    [index_offset, ...)      n_documents + 1 uint64 token offsets: document i is
                             ids[offsets[i]:offsets[i+1]] (its trailing <|endoftext|> included)
    [checksum_offset, end)   version 2: uint32 CRC-32C of each block_bytes block of the ids, then
                             of each block of the index

Version 1 files (no checksum table) stay readable. Files are written through `_outputs.Output`
(a hidden temporary file renamed into place only when complete, or a device written in place), so
an interrupted run never leaves a file that `open_tokens` accepts.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import os
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from llmprep import _core
from llmprep._outputs import Output

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "VERSION",
    "TokenFile",
    "TokenFileError",
    "TokenFileHeader",
    "TokenFileWriter",
    "check_id_dtype",
    "merge_token_files",
    "narrowest_id_dtype",
    "open_tokens",
    "read_header",
    "verify_tokens",
]

MAGIC = b"LLMPTOK\x00"
VERSION = 2
_READABLE_VERSIONS = (1, 2)
HEADER_SIZE = 256
_NAME_BYTES = 64
# magic, version, itemsize, n_tokens, n_documents, vocab_size, eot, data_offset, index_offset, name,
# then (version 2; zero in version 1) block_bytes, checksum_offset, CRC-32C of the checksum table
_HEADER = struct.Struct("<8sIIQQQqQQ64sQQI")
#: Bytes per checksummed block in version 2: a flipped bit is located to 1 MiB, and the table
#: costs 4 bytes per MiB.
CHECKSUM_BLOCK_BYTES = 1 << 20
_CRC_AT = HEADER_SIZE - 4
_DTYPES: dict[int, np.dtype] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}  # by itemsize
#: The largest id any token file (and any tiktoken rank) holds: uint32's.
MAX_TOKEN_ID = 2**32 - 1
_COPY_TOKENS = 1 << 22  # ids per block when copying (merge): bounded memory, large sequential I/O
RAW_SIDECAR_SUFFIX = ".json"


class TokenFileError(ValueError):
    """A token file that is not one, is truncated, or whose header, ids or index are corrupted."""


@dataclass(frozen=True)
class TokenFileHeader:
    """The fixed-size header of an llmprep token file.

    ``eot_token`` is the id that ends every document, or -1 when documents were written without
    one (``--no-eot``). ``data_offset`` and ``index_offset`` are byte offsets in the file.
    ``block_bytes`` (version 2; 0 in version 1 and raw files) is the size of each checksummed
    block; ``checksum_crc`` is the CRC-32C of the checksum table.
    """

    dtype: np.dtype
    n_tokens: int
    n_documents: int
    vocab_size: int
    eot_token: int
    encoding: str
    data_offset: int = HEADER_SIZE
    version: int = VERSION
    block_bytes: int = 0
    checksum_crc: int = 0

    @property
    def index_offset(self) -> int:
        return _align8(self.data_offset + self.n_tokens * self.dtype.itemsize)

    @property
    def index_bytes(self) -> int:
        return 8 * (self.n_documents + 1)

    @property
    def checksum_offset(self) -> int:
        """Where the checksum table starts (version 2), right after the index."""
        return self.index_offset + self.index_bytes

    @property
    def n_id_blocks(self) -> int:
        return _blocks_of(self.n_tokens * self.dtype.itemsize, self.block_bytes)

    @property
    def n_index_blocks(self) -> int:
        return _blocks_of(self.index_bytes, self.block_bytes)

    @property
    def file_size(self) -> int:
        return self.checksum_offset + 4 * (self.n_id_blocks + self.n_index_blocks)

    def pack(self) -> bytes:
        name = self.encoding.encode("utf-8")
        v2 = self.version >= 2
        fields = _HEADER.pack(
            MAGIC,
            self.version,
            self.dtype.itemsize,
            self.n_tokens,
            self.n_documents,
            self.vocab_size,
            self.eot_token,
            self.data_offset,
            self.index_offset,
            name,
            self.block_bytes if v2 else 0,
            self.checksum_offset if v2 else 0,
            self.checksum_crc if v2 else 0,
        )
        body = fields.ljust(_CRC_AT, b"\x00")
        return body + struct.pack("<I", zlib.crc32(body))


def _align8(n: int) -> int:
    return (n + 7) & ~7


def _blocks_of(nbytes: int, block_bytes: int) -> int:
    return 0 if block_bytes <= 0 else (nbytes + block_bytes - 1) // block_bytes


def narrowest_id_dtype(*, vocab_size: int | None = None, max_id: int | None = None) -> np.dtype[Any]:
    """The dtype token ids are stored in: uint16 when every id is below 65,536, else uint32.

    The one place this policy lives (token files, `llmprep tokenize --dtype auto`, arrays of encoded
    text, `SimpleTokenizer.encode_to_numpy`). Give exactly one of the two bounds.

    Args:
        vocab_size: The ids are 0 .. vocab_size - 1 (0: there are none, and uint16 holds them).
        max_id: The largest id; the caller has checked that none is negative.

    Returns:
        ``dtype('<u2')`` or ``dtype('<u4')`` (little-endian, as token files store ids).

    Raises:
        TypeError: Not exactly one of ``vocab_size`` and ``max_id``, or not an integer.
        ValueError: A negative bound, or an id above 2**32 - 1 (the message names it).

    >>> narrowest_id_dtype(vocab_size=50257).name, narrowest_id_dtype(max_id=65536).name
    ('uint16', 'uint32')
    """
    if vocab_size is not None and max_id is None:
        count = operator.index(vocab_size)
        if count < 0:
            raise ValueError(f"vocab_size must be >= 0, not {count}")
        largest, what = count - 1, "the vocabulary has"
    elif max_id is not None and vocab_size is None:
        largest, what = operator.index(max_id), "got id"
        if largest < 0:
            raise ValueError(f"token ids must be >= 0; got id {largest}")
    else:
        raise TypeError("narrowest_id_dtype takes exactly one of vocab_size= and max_id=")
    if largest > MAX_TOKEN_ID:
        raise ValueError(f"token files hold ids from 0 to 2**32 - 1; {what} {largest}")
    # uint16 when every id fits (GPT-2's largest, 50,256, does): half of uint32's memory and I/O.
    return _DTYPES[2] if largest < 1 << 16 else _DTYPES[4]


def check_id_dtype(dtype: Any) -> np.dtype[Any]:
    """Checks a dtype asked for token ids on disk: uint16 or uint32 (made little-endian, as files store them).

    Args:
        dtype: Anything numpy reads as a dtype (``"uint16"``, ``np.uint32``, ...).

    Returns:
        ``dtype('<u2')`` or ``dtype('<u4')``.

    Raises:
        ValueError: Any other dtype, or something that is not one.

    >>> check_id_dtype("uint16").name
    'uint16'
    """
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except (TypeError, ValueError, SyntaxError):  # a comma string goes through ast.literal_eval
        resolved = None
    if resolved is None or resolved.kind != "u" or resolved.itemsize not in _DTYPES:
        raise ValueError(f"token files hold uint16 or uint32 ids, not {dtype if resolved is None else resolved}")
    return _DTYPES[resolved.itemsize]


def _check_encoding_name(name: str) -> str:
    if len(name.encode("utf-8")) > _NAME_BYTES or "\x00" in name:
        raise ValueError(f"encoding name {name!r} must be at most {_NAME_BYTES} UTF-8 bytes without NUL")
    return name


def read_header(path: str | os.PathLike[str]) -> TokenFileHeader:
    """Reads and checks the header of an llmprep token file (not its ids).

    Args:
        path: The token file.

    Returns:
        The header, after checking magic, version, checksum and that the file has exactly the size
        the header implies.

    Raises:
        TokenFileError: Not an llmprep token file, an unsupported version, a corrupted header, or a
            truncated (or over-long) file; the message says which.
        OSError: The file cannot be opened.
    """
    path = Path(path)
    # Unbuffered: one read of the header's bytes, not a 4-8 KiB buffer (a shard set opens
    # thousands of files for their headers alone).
    with open(path, "rb", buffering=0) as f:
        raw = f.read(HEADER_SIZE)
        size = os.fstat(f.fileno()).st_size
    if raw[:8] != MAGIC:
        hint = " (a raw .bin file? open it with its .json sidecar next to it)" if _sidecar(path).is_file() else ""
        if len(raw) < 8:
            raise TokenFileError(f"{path} is not an llmprep token file: it has only {size} bytes{hint}")
        raise TokenFileError(f"{path} is not an llmprep token file: wrong magic {raw[:8]!r}{hint}")
    if len(raw) < HEADER_SIZE:
        raise TokenFileError(f"{path} is truncated: {size} bytes, shorter than the {HEADER_SIZE}-byte header")
    (crc,) = struct.unpack_from("<I", raw, _CRC_AT)
    header_ok = crc == zlib.crc32(raw[:_CRC_AT])
    (
        _magic,
        version,
        itemsize,
        n_tokens,
        n_docs,
        vocab,
        eot,
        data_offset,
        index_offset,
        name,
        block_bytes,
        checksum_offset,
        checksum_crc,
    ) = _HEADER.unpack_from(raw)
    if version not in _READABLE_VERSIONS:  # before the checksum: another version may place it elsewhere
        raise TokenFileError(
            f"{path} is token-file format version {version}; this llmprep reads versions "
            f"{', '.join(map(str, _READABLE_VERSIONS))}: upgrade llmprep"
        )
    if not header_ok:
        raise TokenFileError(f"{path} has a corrupted header (checksum mismatch); re-create it with llmprep tokenize")
    if itemsize not in _DTYPES or data_offset != HEADER_SIZE:
        raise TokenFileError(f"{path} has a corrupted header (itemsize {itemsize}, data offset {data_offset})")
    if version >= 2 and block_bytes <= 0:
        raise TokenFileError(f"{path} has a corrupted header (checksum block size {block_bytes})")
    try:
        encoding = name.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} has a corrupted header (encoding name is not UTF-8)") from None
    header = TokenFileHeader(
        _DTYPES[itemsize],
        n_tokens,
        n_docs,
        vocab,
        eot,
        encoding,
        data_offset,
        version,
        block_bytes if version >= 2 else 0,
        checksum_crc if version >= 2 else 0,
    )
    if header.index_offset != index_offset:
        raise TokenFileError(f"{path} has a corrupted header (index offset {index_offset} != {header.index_offset})")
    if version >= 2 and checksum_offset != header.checksum_offset:
        raise TokenFileError(
            f"{path} has a corrupted header (checksum offset {checksum_offset} != {header.checksum_offset})"
        )
    if size < header.file_size:
        raise TokenFileError(
            f"{path} is truncated: {size:,} bytes, but its header says {n_tokens:,} tokens and {n_docs:,} documents "
            f"need {header.file_size:,}; re-create it"
        )
    if size > header.file_size:
        raise TokenFileError(
            f"{path} has {size - header.file_size:,} bytes more than its header accounts for "
            f"({header.file_size:,}); it is corrupted"
        )
    return header


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + RAW_SIDECAR_SUFFIX)


class TokenFile:
    """An opened token file: read-only memory maps of its ids and document offsets.

    Nothing is read into memory: ``tokens`` and ``document_offsets`` are ``np.memmap`` views of the
    file (views, not copies). ``document_offsets`` is None for a raw file.
    """

    def __init__(self, path: Path, header: TokenFileHeader, raw: bool, checksums: np.ndarray | None = None) -> None:
        self.path = path
        self.header = header
        self.raw = raw
        self.tokens: np.ndarray = _map(path, header.dtype, header.data_offset, header.n_tokens)
        self.document_offsets: np.ndarray | None = None
        # CRC-32C of each block of the ids (raw files: from the sidecar, when it has them).
        self._raw_checksums = checksums
        if not raw:
            self.document_offsets = _map(path, np.dtype("<u8"), header.index_offset, header.n_documents + 1)

    dtype = property(lambda self: self.header.dtype, doc="The ids' dtype (uint16 or uint32).")
    encoding = property(lambda self: self.header.encoding, doc="The encoding's name, e.g. 'gpt2'.")
    vocab_size = property(lambda self: self.header.vocab_size, doc="Ids are < vocab_size.")
    n_tokens = property(lambda self: self.header.n_tokens, doc="Number of ids.")
    n_documents = property(lambda self: self.header.n_documents, doc="Number of documents.")
    data_offset = property(lambda self: self.header.data_offset, doc="Byte offset of the ids in the file.")

    @property
    def eot_token(self) -> int | None:
        """The id that ends each document, or None (written with ``--no-eot``)."""
        return None if self.header.eot_token < 0 else self.header.eot_token

    @property
    def has_checksums(self) -> bool:
        """Whether the ids carry checksums (version 2 files; raw files whose sidecar lists them)."""
        return (self.header.version >= 2 and not self.raw) or self._raw_checksums is not None

    def verify(self, num_threads: int = 0) -> None:
        """Checks every checksum of the file (ids, index, checksum table), in parallel.

        Raises:
            TokenFileError: Naming the first block whose CRC-32C does not match, or the region
                that is corrupted; a file without checksums (version 1, raw without them in its
                sidecar) passes with only the structural checks `open_tokens` made.
        """
        if self.raw:
            if self._raw_checksums is not None:
                block = self.header.block_bytes
                _compare_blocks(self.path, "ids", self.tokens, 0, block, self._raw_checksums, num_threads)
            return
        h = self.header
        if h.version < 2:
            return
        with open(self.path, "rb") as f:
            ids_end = h.data_offset + h.n_tokens * h.dtype.itemsize
            f.seek(ids_end)
            padding = f.read(h.index_offset - ids_end)
            f.seek(h.checksum_offset)
            table_bytes = f.read(4 * (h.n_id_blocks + h.n_index_blocks))
        if _core.crc32c(table_bytes) != h.checksum_crc:
            raise TokenFileError(
                f"{self.path} has a corrupted checksum table (bytes {h.checksum_offset:,}..{h.file_size:,}); "
                "re-create the file"
            )
        table = np.frombuffer(table_bytes, dtype="<u4")
        ids_table = table[: h.n_id_blocks]
        _compare_blocks(self.path, "ids", self.tokens, h.data_offset, h.block_bytes, ids_table, num_threads)
        if padding.strip(b"\x00"):
            raise TokenFileError(f"{self.path} has corrupted padding after the ids (it must be zero bytes)")
        assert self.document_offsets is not None
        _compare_blocks(
            self.path,
            "document index",
            self.document_offsets,
            h.index_offset,
            h.block_bytes,
            table[h.n_id_blocks :],
            num_threads,
        )

    def __len__(self) -> int:
        return self.header.n_tokens

    def document(self, i: int) -> np.ndarray:
        """The ids of document ``i`` (with its trailing EOT, if any): a view of the memory map."""
        if self.document_offsets is None:
            raise ValueError(f"{self.path} is a raw token file: it has no document index")
        if not -self.n_documents <= i < self.n_documents:
            raise IndexError(f"document {i} out of range: the file has {self.n_documents} documents")
        i %= self.n_documents
        return self.tokens[int(self.document_offsets[i]) : int(self.document_offsets[i + 1])]

    def __repr__(self) -> str:
        return (
            f"TokenFile({str(self.path)!r}, encoding={self.encoding!r}, dtype={self.dtype.name}, "
            f"n_tokens={self.n_tokens}, n_documents={self.n_documents})"
        )


def _compare_blocks(
    path: Path, region: str, values: np.ndarray, offset: int, block: int, expected: np.ndarray, num_threads: int
) -> None:
    data = np.ascontiguousarray(values).view(np.uint8) if values.size else np.zeros(0, np.uint8)
    got = _core.crc32c_blocks(data, block, num_threads) if data.size else np.zeros(0, np.uint32)
    if got.shape != expected.shape:
        raise TokenFileError(f"{path} has {expected.size} checksums for its {region}, which has {got.size} blocks")
    bad = np.flatnonzero(got != expected)
    if bad.size:
        k = int(bad[0])
        start, end = offset + k * block, offset + min((k + 1) * block, data.size)
        raise TokenFileError(
            f"{path} is corrupted: block {k} of its {region} (bytes {start:,}..{end:,}) fails its CRC-32C check"
            + (f" ({bad.size} bad blocks in all)" if bad.size > 1 else "")
            + "; re-create the file"
        )


def _map(path: Path, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
    if count == 0:  # np.memmap cannot map zero bytes
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))


def open_tokens(path: str | os.PathLike[str], *, verify: bool = False, dtype: Any = None) -> TokenFile:
    """Opens a token file written by ``llmprep tokenize`` (or ``merge``) without reading its ids.

    Both formats are accepted: the llmprep format (header + ids + document index, versions 1 and
    2), and raw ids (``--format raw``) with their ``.json`` sidecar next to them. The header or the
    sidecar is authoritative: a ``dtype`` that contradicts it is an error.

    Args:
        path: The token file.
        verify: Also check every checksum (reads the whole file once, in parallel): see
            `TokenFile.verify`.
        dtype: The dtype the caller expects, or None; a contradiction is a ValueError.

    Returns:
        A `TokenFile`: ``.tokens`` (read-only ``np.memmap`` of the ids, a view), ``.document_offsets``
        (read-only ``np.memmap`` of ``n_documents + 1`` uint64 offsets), ``.encoding``, ``.dtype``,
        ``.vocab_size``, ``.eot_token``, ``.n_tokens``, ``.n_documents``.

    Raises:
        TokenFileError: The file is not a token file, is truncated, or its header or index (with
            ``verify``, also its ids) are corrupted (the message says which).
        ValueError: ``dtype`` contradicts the header or sidecar.
        OSError: The file cannot be opened.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.tok")
    >>> with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256) as w:
    ...     w.write(np.array([31373, 995], dtype=np.uint32)); w.end_document()
    >>> tf = open_tokens(path, verify=True)
    >>> tf.tokens.tolist(), tf.document_offsets.tolist(), tf.encoding
    ([31373, 995, 50256], [0, 3], 'gpt2')
    """
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic != MAGIC and _sidecar(path).is_file():
        header, checksums = _read_raw_sidecar(path)
        tf = TokenFile(path, header, raw=True, checksums=checksums)
    else:
        header = read_header(path)
        tf = TokenFile(path, header, raw=False)
        offsets = tf.document_offsets
        assert offsets is not None
        if int(offsets[0]) != 0 or int(offsets[-1]) != header.n_tokens:
            raise TokenFileError(
                f"{path} has a corrupted document index (it runs from {int(offsets[0])} to {int(offsets[-1])}, "
                f"not 0 to {header.n_tokens})"
            )
        for start in range(0, len(offsets), _COPY_TOKENS):  # blockwise: bounded memory for huge indexes
            block = np.asarray(offsets[max(start - 1, 0) : start + _COPY_TOKENS])
            if block.size > 1 and bool(np.any(block[1:] < block[:-1])):
                raise TokenFileError(f"{path} has a corrupted document index (offsets decrease)")
    if dtype is not None and np.dtype(dtype) != header.dtype:
        source = "its sidecar" if tf.raw else "its header"
        raise ValueError(
            f"{path} holds {header.dtype.name} ids ({source} says so), not {np.dtype(dtype).name}; drop dtype="
        )
    if verify:
        tf.verify()
    return tf


def verify_tokens(path: str | os.PathLike[str], num_threads: int = 0) -> TokenFile:
    """Opens a token file and checks all of its checksums (``llmprep verify``).

    Raises:
        TokenFileError: Naming the first corrupted region or block.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.tok")
    >>> with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=None) as w:
    ...     w.write(np.arange(5)); w.end_document()
    >>> verify_tokens(path).has_checksums
    True
    """
    tf = open_tokens(path)
    tf.verify(num_threads)
    return tf


def _read_raw_sidecar(path: Path) -> tuple[TokenFileHeader, np.ndarray | None]:
    sidecar = _sidecar(path)
    checksums = None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        dtype = check_id_dtype(meta["dtype"])
        n_tokens = int(meta["n_tokens"])
        block_bytes = int(meta.get("checksum_block_bytes", 0))
        header = TokenFileHeader(
            dtype,
            n_tokens,
            int(meta["n_documents"]),
            int(meta["vocab_size"]),
            int(meta["eot_token"]),
            str(meta["encoding"]),
            data_offset=0,
            block_bytes=block_bytes,
        )
        if "crc32c" in meta:
            checksums = np.array([int(c) for c in meta["crc32c"]], dtype=np.uint32)
            if block_bytes <= 0 or checksums.size != _blocks_of(n_tokens * dtype.itemsize, block_bytes):
                raise ValueError(f"{checksums.size} checksums of {block_bytes}-byte blocks for {n_tokens} ids")
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as e:
        raise TokenFileError(f"{sidecar} is not a valid llmprep raw-format sidecar: {e}") from None
    size = path.stat().st_size
    if size != n_tokens * dtype.itemsize:
        raise TokenFileError(
            f"{path} has {size:,} bytes, but its sidecar says {n_tokens:,} {dtype.name} ids "
            f"({n_tokens * dtype.itemsize:,} bytes): it is truncated or corrupted"
        )
    return header, checksums


class _BlockCrcs:
    """CRC-32C of consecutive ``block`` -byte blocks of a stream fed in pieces of any size."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.crcs = array("I")
        self._crc = 0
        self._fill = 0

    def update(self, data: memoryview) -> None:
        pos, n = 0, len(data)
        while pos < n:
            take = min(self.block - self._fill, n - pos)
            self._crc = _core.crc32c(data[pos : pos + take], self._crc)
            self._fill += take
            pos += take
            if self._fill == self.block:
                self.crcs.append(self._crc)
                self._crc, self._fill = 0, 0

    def finish(self) -> array[int]:
        if self._fill:
            self.crcs.append(self._crc)
            self._crc, self._fill = 0, 0
        return self.crcs


class TokenFileWriter:
    """Writes a token file through `_outputs.Output`: a temporary file renamed into place by `commit`.

    Use it as a context manager: leaving the block normally commits, an exception discards the
    temporary files. Memory stays bounded: ids go straight to disk and the document offsets are
    spilled to a second temporary file. The output policy (checked here, before anything is
    written): an existing file is an error unless ``overwrite``; an output that is one of
    ``inputs`` is an error; a character device or FIFO (and ``"-"``, standard output) is written
    in place, and gets no raw sidecar (`sidecar` is then None).

    Args:
        path: The destination (``"-"``: standard output, raw format only).
        dtype: ``"uint16"`` or ``"uint32"``; ids that do not fit raise ValueError (never a wrap).
        encoding: The encoding's name (at most 64 UTF-8 bytes).
        vocab_size: Every id is below it.
        eot_token: The id `end_document` appends, or None to append nothing.
        format: ``"llmprep"`` (version 2, with checksums) or ``"raw"`` (bare ids plus a ``.json``
            sidecar holding the metadata and the ids' checksums).
        overwrite: Replace an existing file.
        inputs: Files the caller reads; writing over one of them is refused.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dtype: Any,
        encoding: str,
        vocab_size: int,
        eot_token: int | None,
        format: str = "llmprep",
        overwrite: bool = False,
        inputs: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        if format not in ("llmprep", "raw"):
            raise ValueError(f"format must be 'llmprep' or 'raw', not {format!r}")
        self.path = Path(path)
        self.dtype = check_id_dtype(dtype)
        self.encoding = _check_encoding_name(encoding)
        self.vocab_size = int(vocab_size)
        self.eot_token = eot_token
        self.format = format
        self.n_tokens = 0
        self.n_documents = 0
        self._limit = np.iinfo(self.dtype).max
        if eot_token is not None and not 0 <= eot_token <= self._limit:
            raise ValueError(f"the end-of-text id {eot_token} does not fit in {self.dtype.name}; use uint32")
        self._eot = None if eot_token is None else np.array([eot_token], dtype=self.dtype)
        inputs = list(inputs)
        self._done = False
        # The ids are written once, front to back: past the page cache where the file system allows.
        self._out = Output(
            path,
            inputs=inputs,
            overwrite=overwrite,
            allow_stdout=format == "raw",
            seekable=format == "llmprep",
            direct=True,
        )
        self.in_place = self._out.in_place
        self._sidecar_out: Output | None = None
        self._index: BinaryIO | None = None
        try:
            if format == "raw" and not self.in_place:
                self._sidecar_out = Output(_sidecar(self.path), inputs=inputs, overwrite=overwrite)
            self._data = self._out.file
            self._index = self._out.scratch() if format == "llmprep" else None
            if format == "llmprep":
                # A zero header (no magic) until commit: a half-written file never looks complete.
                self._data.write(bytes(HEADER_SIZE))
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise self._out.error(e) from None
            raise
        #: The raw sidecar's path, or None (llmprep format, or an output written in place).
        self.sidecar = None if self._sidecar_out is None else _sidecar(self.path)
        self._offsets = array("Q", [0])
        self._last_end = 0
        self._crcs = _BlockCrcs(CHECKSUM_BLOCK_BYTES)
        self._final: TokenFileHeader | None = None

    def write(self, ids: np.ndarray) -> None:
        """Appends token ids (any integer array; checked to fit the file's dtype)."""
        if ids.size == 0:
            return
        if ids.dtype != self.dtype:
            high = int(ids.max())
            if high > self._limit or (ids.dtype.kind == "i" and int(ids.min()) < 0):
                bad = high if high > self._limit else int(ids.min())
                raise ValueError(
                    f"token id {bad} does not fit in {self.dtype.name} (max {self._limit}); "
                    "write uint32 ids (--dtype uint32 or auto)"
                )
            ids = ids.astype(self.dtype)
        data = np.ascontiguousarray(ids).data.cast("B")
        self._crcs.update(data)
        try:
            self._data.write(data)
        except OSError as e:
            raise self._out.error(e) from None
        self.n_tokens += int(ids.size)

    def end_document(self) -> None:
        """Ends the current document (appending the EOT id if there is one)."""
        if self._eot is not None:
            self.write(self._eot)
        self.n_documents += 1
        if self._index is not None:
            self._offsets.append(self.n_tokens)
            if len(self._offsets) >= 1 << 16:
                self._flush_offsets()

    def add_document_ends(self, ends: np.ndarray) -> None:
        """Records documents ending at the given token offsets (non-decreasing, <= n_tokens),
        appending nothing: for copying an index that already includes its EOT ids (merge)."""
        ends = np.asarray(ends, dtype=np.uint64)
        if ends.size == 0:
            return
        last = self._offsets[-1] if len(self._offsets) else self._last_end
        if int(ends[0]) < last or int(ends[-1]) > self.n_tokens or bool(np.any(ends[1:] < ends[:-1])):
            raise ValueError("document ends must be non-decreasing and within the tokens written")
        self.n_documents += int(ends.size)
        if self._index is not None:
            self._flush_offsets()
            try:
                self._index.write(np.ascontiguousarray(ends, dtype="<u8").data.cast("B"))
            except OSError as e:
                raise self._out.error(e) from None
            self._last_end = int(ends[-1])

    def _flush_offsets(self) -> None:
        if len(self._offsets):
            self._last_end = self._offsets[-1]
            assert self._index is not None
            try:
                self._index.write(self._offsets.tobytes())
            except OSError as e:
                raise self._out.error(e) from None
            self._offsets = array("Q")

    @property
    def header(self) -> TokenFileHeader:
        """The file's header: as it stands so far, or as written once committed."""
        if self._final is not None:
            return self._final
        return TokenFileHeader(
            self.dtype,
            self.n_tokens,
            self.n_documents,
            self.vocab_size,
            -1 if self.eot_token is None else self.eot_token,
            self.encoding,
            data_offset=HEADER_SIZE if self.format == "llmprep" else 0,
            block_bytes=CHECKSUM_BLOCK_BYTES,
        )

    def commit(self) -> None:
        """Finishes the file and renames it into place (atomically, on POSIX file systems)."""
        if self._done:
            return
        try:
            self._finish()
        except BaseException as e:
            self.abort()
            if isinstance(e, OSError):
                raise self._out.error(e) from None
            raise
        self._done = True

    def _finish(self) -> None:
        id_crcs = self._crcs.finish()
        if self._index is not None:
            self._flush_offsets()
            if self._last_end != self.n_tokens:
                raise ValueError(
                    f"{self.n_tokens - self._last_end} ids were written after the last end_document(): "
                    "end every document, or they would belong to none"
                )
            header = self.header
            self._data.write(bytes(header.index_offset - header.data_offset - self.n_tokens * self.dtype.itemsize))
            index_crcs = _BlockCrcs(CHECKSUM_BLOCK_BYTES)
            self._index.flush()
            self._index.seek(0)
            while block := self._index.read(1 << 20):
                index_crcs.update(memoryview(block))
                self._data.write(block)
            table = (id_crcs + index_crcs.finish()).tobytes()
            self._data.write(table)
            header = dataclasses.replace(header, checksum_crc=_core.crc32c(table))
            self._final = header
            self._data.seek(0)
            self._data.write(header.pack())
        else:
            self._final = self.header
        if self._sidecar_out is not None:
            meta = {
                "format": "llmprep-raw",
                "version": VERSION,
                "dtype": self.dtype.name,
                "encoding": self.encoding,
                "vocab_size": self.vocab_size,
                "eot_token": self.header.eot_token,
                "n_tokens": self.n_tokens,
                "n_documents": self.n_documents,
                "checksum_block_bytes": CHECKSUM_BLOCK_BYTES,
                "crc32c": list(id_crcs),
            }
            self._sidecar_out.file.write((json.dumps(meta, indent=1) + "\n").encode("utf-8"))
        # Both files are complete on disk before either is renamed: an ENOSPC leaves neither.
        self._out.flush()
        if self._sidecar_out is not None:
            self._sidecar_out.commit()
        self._out.commit()

    def abort(self) -> None:
        """Discards everything written (no file appears at ``path``)."""
        if self._done:
            return
        self._done = True
        for out in (self._sidecar_out, self._out):
            if out is not None:
                out.abort()

    def __enter__(self) -> TokenFileWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _blocks(tokens: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(tokens), _COPY_TOKENS):
        yield np.asarray(tokens[start : start + _COPY_TOKENS])


def merge_token_files(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    format: str = "llmprep",
    overwrite: bool = False,
) -> TokenFileHeader:
    """Concatenates llmprep token files and their document indexes, without re-tokenizing.

    Memory stays bounded (ids are copied in blocks of 4M). Every input is verified against its
    checksums first (version 2). The inputs must share encoding, vocabulary size and EOT id; the
    output's dtype is the widest of theirs. Merging the shards of a run (``--shard i/N``, in
    order) gives the unsharded run's file byte for byte.

    Args:
        inputs: Token files, in order.
        output: The merged file (written through a temporary file, renamed on success; see
            `TokenFileWriter` for the output policy).
        format: ``"llmprep"`` or ``"raw"``.
        overwrite: Replace an existing output file.

    Returns:
        The merged file's header.

    Raises:
        TokenFileError: An input is not a valid llmprep token file, or fails its checksums.
        ValueError: No inputs, inputs with different encodings, vocabularies or EOT ids, or an
            output that is one of the inputs.
        FileExistsError: The output exists and ``overwrite`` is False.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> for name, docs in (("a.tok", [[1, 2]]), ("b.tok", [[3], [4, 5]])):
    ...     with TokenFileWriter(os.path.join(folder, name), dtype="uint16", encoding="gpt2",
    ...                          vocab_size=50257, eot_token=50256) as w:
    ...         for doc in docs:
    ...             w.write(np.array(doc)); w.end_document()
    >>> merge_token_files([os.path.join(folder, "a.tok"), os.path.join(folder, "b.tok")],
    ...                   os.path.join(folder, "ab.tok")).n_documents
    3
    >>> open_tokens(os.path.join(folder, "ab.tok")).tokens.tolist()
    [1, 2, 50256, 3, 50256, 4, 5, 50256]
    """
    if not inputs:
        raise ValueError("merge needs at least one input token file")
    from llmprep._outputs import check_output

    check_output(output, inputs=inputs, overwrite=overwrite, allow_stdout=format == "raw")
    files = []
    for p in inputs:
        tf = open_tokens(p)
        if tf.raw:
            raise ValueError(f"{p} is a raw token file (no document index): merge needs llmprep-format files")
        files.append(tf)
    first = files[0]
    for tf in files[1:]:
        for what in ("encoding", "vocab_size", "eot_token"):
            if getattr(tf, what) != getattr(first, what):
                raise ValueError(
                    f"cannot merge {tf.path} into {first.path}: {what} differs "
                    f"({getattr(tf, what)!r} vs {getattr(first, what)!r})"
                )
    for tf in files:
        tf.verify()
    dtype = max((tf.dtype for tf in files), key=lambda d: d.itemsize)
    with TokenFileWriter(
        output,
        dtype=dtype,
        encoding=first.encoding,
        vocab_size=first.vocab_size,
        eot_token=first.eot_token,
        format=format,
        overwrite=overwrite,
        inputs=inputs,
    ) as writer:
        for tf in files:
            base = writer.n_tokens
            for block in _blocks(tf.tokens):
                writer.write(block)
            offsets = tf.document_offsets
            assert offsets is not None
            for block in _blocks(offsets[1:]):
                writer.add_document_ends(block + np.uint64(base))
        return writer.header
