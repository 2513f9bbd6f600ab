"""Token files: the llmprep format (header, ids, document index) and nanoGPT-style raw ``.bin``.

Layout of an llmprep token file (all integers little-endian; see the README, "Format, version 1")::

    [0, 256)                 header: magic, version, dtype, counts, vocabulary size, EOT id,
                             offsets of the ids and of the index, encoding name, CRC-32
    [256, 256 + n*itemsize)  the token ids, uint16 or uint32
    (padding to 8 bytes)
    [index_offset, end)      n_documents + 1 uint64 token offsets: document i is
                             ids[offsets[i]:offsets[i+1]] (its trailing <|endoftext|> included)

Files are written to a hidden temporary file in the destination folder and renamed into place
only when complete, so an interrupted run never leaves a file that `open_tokens` accepts.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import zlib
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "VERSION",
    "TokenFile",
    "TokenFileError",
    "TokenFileHeader",
    "TokenFileWriter",
    "merge_token_files",
    "open_tokens",
    "read_header",
]

MAGIC = b"LLMPTOK\x00"
VERSION = 1
HEADER_SIZE = 256
_NAME_BYTES = 64
# magic, version, itemsize, n_tokens, n_documents, vocab_size, eot, data_offset, index_offset, name
_HEADER = struct.Struct("<8sIIQQQqQQ64s")
_CRC_AT = HEADER_SIZE - 4
_DTYPES = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
_COPY_TOKENS = 1 << 22  # ids per block when copying (merge): bounded memory, large sequential I/O
RAW_SIDECAR_SUFFIX = ".json"


class TokenFileError(ValueError):
    """A token file that is not one, is truncated, or whose header or index is corrupted."""


@dataclass(frozen=True)
class TokenFileHeader:
    """The fixed-size header of an llmprep token file.

    ``eot_token`` is the id that ends every document, or -1 when documents were written without
    one (``--no-eot``). ``data_offset`` and ``index_offset`` are byte offsets in the file.
    """

    dtype: np.dtype
    n_tokens: int
    n_documents: int
    vocab_size: int
    eot_token: int
    encoding: str
    data_offset: int = HEADER_SIZE
    version: int = VERSION

    @property
    def index_offset(self) -> int:
        return _align8(self.data_offset + self.n_tokens * self.dtype.itemsize)

    @property
    def file_size(self) -> int:
        return self.index_offset + 8 * (self.n_documents + 1)

    def pack(self) -> bytes:
        name = self.encoding.encode("utf-8")
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
        )
        body = fields.ljust(_CRC_AT, b"\x00")
        return body + struct.pack("<I", zlib.crc32(body))


def _align8(n: int) -> int:
    return (n + 7) & ~7


def _token_dtype(dtype: Any) -> np.dtype:
    resolved = np.dtype(dtype)
    if resolved not in (np.dtype(np.uint16), np.dtype(np.uint32)):
        raise ValueError(f"token files hold uint16 or uint32 ids, not {resolved}")
    return resolved.newbyteorder("<")


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
    with open(path, "rb") as f:
        raw = f.read(HEADER_SIZE)
        size = os.fstat(f.fileno()).st_size
    if raw[:8] != MAGIC:
        hint = " (a raw .bin file? open it with its .json sidecar next to it)" if _sidecar(path).is_file() else ""
        if len(raw) < 8:
            raise TokenFileError(f"{path} is not an llmprep token file: it has only {size} bytes{hint}")
        raise TokenFileError(f"{path} is not an llmprep token file: wrong magic {raw[:8]!r}{hint}")
    if len(raw) < HEADER_SIZE:
        raise TokenFileError(f"{path} is truncated: {size} bytes, shorter than the {HEADER_SIZE}-byte header")
    _magic, version, itemsize, n_tokens, n_docs, vocab, eot, data_offset, index_offset, name = _HEADER.unpack_from(raw)
    if version != VERSION:
        raise TokenFileError(
            f"{path} is token-file format version {version}; this llmprep reads version {VERSION}: upgrade llmprep"
        )
    (crc,) = struct.unpack_from("<I", raw, _CRC_AT)
    if crc != zlib.crc32(raw[:_CRC_AT]):
        raise TokenFileError(f"{path} has a corrupted header (checksum mismatch); re-create it with llmprep tokenize")
    if itemsize not in _DTYPES or data_offset != HEADER_SIZE:
        raise TokenFileError(f"{path} has a corrupted header (itemsize {itemsize}, data offset {data_offset})")
    try:
        encoding = name.rstrip(b"\x00").decode("utf-8")
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} has a corrupted header (encoding name is not UTF-8)") from None
    header = TokenFileHeader(_DTYPES[itemsize], n_tokens, n_docs, vocab, eot, encoding, data_offset, version)
    if header.index_offset != index_offset:
        raise TokenFileError(f"{path} has a corrupted header (index offset {index_offset} != {header.index_offset})")
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

    def __init__(self, path: Path, header: TokenFileHeader, raw: bool) -> None:
        self.path = path
        self.header = header
        self.raw = raw
        self.tokens: np.ndarray = _map(path, header.dtype, header.data_offset, header.n_tokens)
        self.document_offsets: np.ndarray | None = None
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


def _map(path: Path, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
    if count == 0:  # np.memmap cannot map zero bytes
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))


def open_tokens(path: str | os.PathLike[str]) -> TokenFile:
    """Opens a token file written by ``llmprep tokenize`` (or ``merge``) without reading its ids.

    Both formats are accepted: the llmprep format (header + ids + document index), and raw ids
    (``--format raw``) with their ``.json`` sidecar next to them.

    Args:
        path: The token file.

    Returns:
        A `TokenFile`: ``.tokens`` (read-only ``np.memmap`` of the ids, a view), ``.document_offsets``
        (read-only ``np.memmap`` of ``n_documents + 1`` uint64 offsets), ``.encoding``, ``.dtype``,
        ``.vocab_size``, ``.eot_token``, ``.n_tokens``, ``.n_documents``.

    Raises:
        TokenFileError: The file is not a token file, is truncated, or its header or index is
            corrupted (the message says which).
        OSError: The file cannot be opened.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.tok")
    >>> with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256) as w:
    ...     w.write(np.array([31373, 995], dtype=np.uint32)); w.end_document()
    >>> tf = open_tokens(path)
    >>> tf.tokens.tolist(), tf.document_offsets.tolist(), tf.encoding
    ([31373, 995, 50256], [0, 3], 'gpt2')
    """
    path = Path(path)
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic != MAGIC and _sidecar(path).is_file():
        return TokenFile(path, _read_raw_sidecar(path), raw=True)
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
    return tf


def _read_raw_sidecar(path: Path) -> TokenFileHeader:
    sidecar = _sidecar(path)
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        dtype = _token_dtype(meta["dtype"])
        n_tokens = int(meta["n_tokens"])
        header = TokenFileHeader(
            dtype,
            n_tokens,
            int(meta["n_documents"]),
            int(meta["vocab_size"]),
            int(meta["eot_token"]),
            str(meta["encoding"]),
            data_offset=0,
        )
    except (ValueError, KeyError, TypeError) as e:
        raise TokenFileError(f"{sidecar} is not a valid llmprep raw-format sidecar: {e}") from None
    size = path.stat().st_size
    if size != n_tokens * dtype.itemsize:
        raise TokenFileError(
            f"{path} has {size:,} bytes, but its sidecar says {n_tokens:,} {dtype.name} ids "
            f"({n_tokens * dtype.itemsize:,} bytes): it is truncated or corrupted"
        )
    return header


class TokenFileWriter:
    """Writes a token file through a temporary file that is renamed into place by `commit`.

    Use it as a context manager: leaving the block normally commits, an exception discards the
    temporary files. Memory stays bounded: ids go straight to disk and the document offsets are
    spilled to a second temporary file.

    Args:
        path: The destination.
        dtype: ``"uint16"`` or ``"uint32"``; ids that do not fit raise ValueError (never a wrap).
        encoding: The encoding's name (at most 64 UTF-8 bytes).
        vocab_size: Every id is below it.
        eot_token: The id `end_document` appends, or None to append nothing.
        format: ``"llmprep"`` or ``"raw"`` (bare ids plus a ``.json`` sidecar).
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
    ) -> None:
        if format not in ("llmprep", "raw"):
            raise ValueError(f"format must be 'llmprep' or 'raw', not {format!r}")
        self.path = Path(path)
        self.dtype = _token_dtype(dtype)
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
        folder = self.path.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"cannot write {self.path}: folder {folder} does not exist")
        self._tmp_paths: list[Path] = []
        self._data = self._temp_file()
        self._index = self._temp_file() if format == "llmprep" else None
        self._offsets = array("Q", [0])
        self._last_end = 0
        self._done = False
        if format == "llmprep":
            # A zero header (no magic) until commit: a half-written file never looks complete.
            self._data.write(bytes(HEADER_SIZE))

    def _temp_file(self) -> BinaryIO:
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self._tmp_paths.append(Path(name))
        return os.fdopen(fd, "wb", buffering=1 << 20)

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
        self._data.write(memoryview(np.ascontiguousarray(ids)).cast("B"))
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
            self._index.write(memoryview(np.ascontiguousarray(ends, dtype="<u8")).cast("B"))
            self._last_end = int(ends[-1])

    def _flush_offsets(self) -> None:
        if len(self._offsets):
            self._last_end = self._offsets[-1]
            assert self._index is not None
            self._index.write(self._offsets.tobytes())
            self._offsets = array("Q")

    @property
    def header(self) -> TokenFileHeader:
        return TokenFileHeader(
            self.dtype,
            self.n_tokens,
            self.n_documents,
            self.vocab_size,
            -1 if self.eot_token is None else self.eot_token,
            self.encoding,
            data_offset=HEADER_SIZE if self.format == "llmprep" else 0,
        )

    def commit(self) -> None:
        """Finishes the file and renames it into place (atomically, on POSIX file systems)."""
        if self._done:
            return
        header = self.header
        if self._index is not None:
            self._flush_offsets()
            self._index.close()
            self._data.write(bytes(header.index_offset - header.data_offset - self.n_tokens * self.dtype.itemsize))
            with open(self._tmp_paths[1], "rb") as index:
                while block := index.read(1 << 20):
                    self._data.write(block)
            self._data.seek(0)
            self._data.write(header.pack())
        self._data.flush()
        os.fsync(self._data.fileno())
        self._data.close()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(self._tmp_paths[0], 0o666 & ~mask)  # mkstemp makes 0600; give what open() would
        if self.format == "raw":
            meta = {
                "format": "llmprep-raw",
                "version": VERSION,
                "dtype": self.dtype.name,
                "encoding": self.encoding,
                "vocab_size": self.vocab_size,
                "eot_token": header.eot_token,
                "n_tokens": self.n_tokens,
                "n_documents": self.n_documents,
            }
            sidecar_tmp = self._tmp_paths[0].with_name(self._tmp_paths[0].name + ".json")
            self._tmp_paths.append(sidecar_tmp)
            sidecar_tmp.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            os.replace(sidecar_tmp, _sidecar(self.path))
        os.replace(self._tmp_paths[0], self.path)
        self._done = True
        self._remove_temps()

    def abort(self) -> None:
        """Discards everything written (no file appears at ``path``)."""
        if self._done:
            return
        self._done = True
        for f in (self._data, self._index):
            if f is not None and not f.closed:
                with contextlib.suppress(OSError):
                    f.close()
        self._remove_temps()

    def _remove_temps(self) -> None:
        for p in self._tmp_paths:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

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
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *, format: str = "llmprep"
) -> TokenFileHeader:
    """Concatenates llmprep token files and their document indexes, without re-tokenizing.

    Memory stays bounded (ids are copied in blocks of 4M). The inputs must share encoding,
    vocabulary size and EOT id; the output's dtype is the widest of theirs. Merging the shards of
    a run (``--shard i/N``, in order) gives the unsharded run's file byte for byte.

    Args:
        inputs: Token files, in order.
        output: The merged file (written through a temporary file, renamed on success).
        format: ``"llmprep"`` or ``"raw"``.

    Returns:
        The merged file's header.

    Raises:
        TokenFileError: An input is not a valid llmprep token file.
        ValueError: No inputs, or inputs with different encodings, vocabularies or EOT ids.

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
    dtype = max((tf.dtype for tf in files), key=lambda d: d.itemsize)
    with TokenFileWriter(
        output,
        dtype=dtype,
        encoding=first.encoding,
        vocab_size=first.vocab_size,
        eot_token=first.eot_token,
        format=format,
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
