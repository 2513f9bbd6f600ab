"""Input formats for ``llmprep tokenize``: what a file holds, and reading it as plain bytes.

Compression (gzip, bzip2, xz from the standard library; zstandard through the optional
``zstandard`` package, ``pip install llmprep[zstd]``) is recognised by extension and by magic
bytes, and decompressed as a stream. Formats: plain text (one document per file), JSONL (one
document per non-blank line: ``.jsonl``, ``.ndjson``, ``.json``, or found by content) and Parquet
(one document per row, streamed by row group through the optional ``pyarrow`` package,
``pip install llmprep[parquet]``).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import json
import lzma
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

__all__ = [
    "FORMATS",
    "detect_format",
    "format_by_name",
    "format_of_contents",
    "iter_parquet_texts",
    "open_input",
    "parquet_row_groups",
    "parquet_sizes",
    "sniff_input",
    "strip_compression_suffix",
]

FORMATS = ("auto", "text", "jsonl", "parquet")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd"}
# Magic bytes, long enough that no plain text starts with them: "BZh" alone would claim a text file
# beginning with those letters, so bzip2 also needs its block-size digit and first block's (or the
# empty stream's end) magic. The others cannot begin valid UTF-8.
_MAGIC = (
    (re.compile(rb"\x1f\x8b"), "gzip"),
    (re.compile(rb"BZh[1-9](?:1AY&SY|\x17rE8P\x90)"), "bzip2"),
    (re.compile(rb"\xfd7zXZ\x00"), "xz"),
    (re.compile(rb"\x28\xb5\x2f\xfd"), "zstd"),
)
_PARQUET_MAGIC = b"PAR1"
_SNIFF_BYTES = 1 << 16


def _missing_extra(package: str, extra: str, what: str) -> ImportError:
    return ImportError(f"{what} needs the {package} package: pip install 'llmprep[{extra}]' (or pip install {package})")


def strip_compression_suffix(name: str) -> str:
    """The name without a compression suffix (``a.jsonl.gz`` -> ``a.jsonl``)."""
    root, ext = os.path.splitext(name)
    return root if ext.lower() in _COMPRESSION_SUFFIXES else name


def _compression_of(name: str, head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if magic.match(head):
            return kind
    ext = os.path.splitext(name)[1].lower()
    if ext in _COMPRESSION_SUFFIXES and head:
        raise ValueError(
            f"{name} is named like a {_COMPRESSION_SUFFIXES[ext]} file but does not start with its magic bytes; "
            "rename it or check the file"
        )
    return None


def _decompressor(raw: BinaryIO, kind: str, name: str) -> BinaryIO:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(raw, "rb")  # type: ignore[return-value]
    try:
        import zstandard
    except ImportError:
        raise _missing_extra("zstandard", "zstd", f"{name} (zstd-compressed)") from None
    reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return io.BufferedReader(reader, buffer_size=1 << 20)


class _Reader(io.RawIOBase):
    """Turns decompression errors into ValueErrors naming the input."""

    def __init__(self, inner: BinaryIO, name: str, kind: str) -> None:
        self._inner, self._name, self._kind = inner, name, kind

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            return self._inner.readinto(buffer)  # type: ignore[attr-defined, no-any-return]
        except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
            if isinstance(e, OSError) and e.errno is not None:
                raise
            raise ValueError(f"{self._name} is not valid {self._kind} data: {e}") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._inner.close()
        super().close()


@contextlib.contextmanager
def open_input(path: str, stdin: BinaryIO | None = None) -> Iterator[BinaryIO]:
    """Opens an input (``"-"``: standard input) for streaming reads, decompressed if it is compressed.

    Raises:
        OSError: The file cannot be opened.
        ValueError: A compression suffix without its magic bytes, or corrupt compressed data.
        ImportError: A zstd file without the ``zstandard`` package (names the extra to install).
    """
    if path == "-":
        raw: Any = stdin if stdin is not None else sys.stdin.buffer
        owned = False
    else:
        raw = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 (closed below)
        owned = True
    try:
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw, buffer_size=1 << 20)
        name = "<stdin>" if path == "-" else path
        kind = _compression_of(name, raw.peek(16)[:16])  # the longest magic is 10 bytes
        if kind is None:
            yield raw
        else:
            inner = _decompressor(raw, kind, name)
            reader = io.BufferedReader(_Reader(inner, name, kind), buffer_size=1 << 20)
            try:
                yield reader
            finally:
                reader.close()
    finally:
        if owned:
            raw.close()


def read_small_plain(path: str, size: int) -> bytes | None:
    """A whole plain (uncompressed) file of at most ``size`` bytes, read with one open and one read;
    None when it is compressed or now larger (then read it through `open_input`). For a folder of
    small files: `open_input`'s buffered reader filled a fresh 1 MiB buffer for each file and copied
    out of it.

    Raises:
        OSError: The file cannot be read.
        ValueError: A compression suffix without its magic bytes (as `open_input`).
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        data = os.read(fd, size + 1)
        while 0 < len(data) <= size:  # a short read (rare for a regular file): read on to the end
            more = os.read(fd, size + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    if len(data) > size or _compression_of(path, data[:16]) is not None:
        return None
    return data


def _first_line_is_json_object(head: bytes) -> bool:
    stripped = head.lstrip()
    if not stripped.startswith(b"{"):
        return False
    line = stripped.split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def format_by_name(path: str) -> str | None:
    """The format a file's name settles ("jsonl" or "parquet", a compression suffix aside), or None."""
    ext = os.path.splitext(strip_compression_suffix(path))[1].lower()
    return "jsonl" if ext in _JSONL_SUFFIXES else "parquet" if ext == ".parquet" else None


def _jsonl_by_content(path: str, head: bytes, note: Callable[[str], None] | None) -> bool:
    """Whether a text's head (its first 512 bytes, or 64 KiB more when no line ends in them) makes
    it JSONL: a first line that parses as a JSON object. Reported through ``note``."""
    if not _first_line_is_json_object(head):
        return False
    if note is not None:
        note(f"{path}: its first line is a JSON object, so it is read as JSONL (--input-format text to override)")
    return True


def format_of_contents(path: str, data: bytes, note: Callable[[str], None] | None = None) -> str:
    """`sniff_input`'s answer by content for a plain (uncompressed) file read whole: ``data`` is all
    of it. "parquet", "jsonl" or "text", by the same rules on the same bytes, with the same note:
    `llmprep tokenize` reads a small file once and decides here, instead of opening it at planning
    as well."""
    if data[:4] == _PARQUET_MAGIC and len(data) >= 12 and data[-4:] == _PARQUET_MAGIC:
        return "parquet"
    head = data[:512]
    if head.lstrip().startswith(b"{") and b"\n" not in head.lstrip():
        head = data[: 512 + _SNIFF_BYTES]
    return "jsonl" if _jsonl_by_content(path, head, note) else "text"


def detect_format(path: str, requested: str, note: Callable[[str], None] | None = None) -> str:
    """The format of an input: ``requested`` unless it is ``"auto"``; then by extension (after any
    compression suffix), then by content (Parquet magic; a first non-blank byte ``{`` on a first
    line that parses as a JSON object means JSONL, reported through ``note``).

    Raises:
        ValueError: An unknown ``requested`` format, or a Parquet file given as standard input.
    """
    return sniff_input(path, requested, note)[0]


def sniff_input(
    path: str, requested: str, note: Callable[[str], None] | None = None, *, regular_file: bool | None = None
) -> tuple[str, bool]:
    """`detect_format`'s answer and whether the input is a compressed file, opening a plain file once
    (a folder of 20,000 small files spent more time here, at three opens per file, than in BPE).
    ``regular_file``: whether ``path`` is a regular file, when the caller already knows (a stat
    saved per file); None: looked up."""
    if requested not in FORMATS:
        raise ValueError(f"input format must be one of {', '.join(FORMATS)}, not {requested!r}")
    if requested == "parquet" and path == "-":
        raise ValueError("Parquet cannot be read from standard input (it needs a seekable file)")
    if path == "-":
        return (requested if requested != "auto" else "text"), False  # stdin is read once: JSONL needs the flag
    by_name = format_by_name(path) if requested == "auto" else requested
    if not (os.path.isfile(path) if regular_file is None else regular_file):
        return by_name or "text", False  # a pipe can be read only once; name the format with --input-format
    # A bare descriptor: a Python file object costs an fstat and two objects per file, which for a
    # folder of small files was half of this function.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        head = os.read(fd, 512)  # a regular file reads whole up to its end
        compressed = _compression_of(path, head[:16]) is not None  # the longest magic is 10 bytes
        if by_name is not None:
            return by_name, compressed
        # A Parquet file starts and ends with its magic: both, so a text beginning "PAR1" stays text.
        if head[:4] == _PARQUET_MAGIC and os.lseek(fd, 0, os.SEEK_END) >= 12:
            os.lseek(fd, -4, os.SEEK_END)
            if os.read(fd, 4) == _PARQUET_MAGIC:
                return "parquet", compressed
        if not compressed and head.lstrip().startswith(b"{") and b"\n" not in head.lstrip():
            os.lseek(fd, len(head), os.SEEK_SET)
            head += os.read(fd, _SNIFF_BYTES)
    finally:
        os.close(fd)
    if compressed:
        with open_input(path) as stream:  # the JSON sniff reads the decompressed head
            head = stream.read(512)
            if head.lstrip().startswith(b"{") and b"\n" not in head.lstrip():
                head += stream.read(_SNIFF_BYTES)
    # Most inputs are text whose first non-blank byte is not "{": the first 512 bytes settle it.
    return ("jsonl" if _jsonl_by_content(path, head, note) else "text"), compressed


def _parquet_file(path: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise _missing_extra("pyarrow", "parquet", f"{path} (Parquet)") from None
    try:
        return pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises its own ArrowInvalid for damaged files
        raise ValueError(f"{path} is not a readable Parquet file: {e}") from None


def _text_column(pf: Any, path: str, column: str) -> None:
    names = pf.schema_arrow.names
    if column not in names:
        raise ValueError(
            f"{path} has no column {column!r}; its columns are {names[:20]}; choose one with --text-column"
        )
    import pyarrow as pa

    kind = pf.schema_arrow.field(column).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise ValueError(f"{path}: column {column!r} holds {kind}, not strings; choose one with --text-column")


def parquet_sizes(path: str, column: str) -> list[int]:
    """UTF-8 bytes of each row's text (null: 0), read one row group at a time."""
    import pyarrow.compute as pc

    pf = _parquet_file(path)
    _text_column(pf, path, column)
    sizes: list[int] = []
    for g in range(pf.num_row_groups):
        lengths = pc.binary_length(pf.read_row_group(g, columns=[column]).column(0))
        sizes.extend(0 if v is None else int(v) for v in lengths.to_pylist())
    return sizes


def parquet_row_groups(path: str, column: str) -> list[tuple[int, int]]:
    """(rows, uncompressed bytes of the text column) of each row group, read from the footer only.

    Raises:
        ValueError: A missing or non-string column, or a file that is not Parquet.
    """
    pf = _parquet_file(path)
    _text_column(pf, path, column)
    groups = []
    for g in range(pf.metadata.num_row_groups):
        meta = pf.metadata.row_group(g)
        chunks = (meta.column(c) for c in range(meta.num_columns))
        nbytes = sum(c.total_uncompressed_size for c in chunks if c.path_in_schema == column)
        groups.append((int(meta.num_rows), int(nbytes)))
    return groups


def iter_parquet_texts(path: str, column: str, first: int = 0, last: int | None = None) -> Iterator[tuple[int, str]]:
    """(row, text) for rows [first, last) of a Parquet file, one row group in memory at a time.

    Raises:
        ValueError: A missing or non-string column, or a null text (named by its row).
    """
    pf = _parquet_file(path)
    _text_column(pf, path, column)
    row = 0
    for g in range(pf.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        if row + n <= first:
            row += n
            continue
        if last is not None and row >= last:
            return
        values = pf.read_row_group(g, columns=[column]).column(0).to_pylist()
        for k, text in enumerate(values):
            r = row + k
            if r < first or (last is not None and r >= last):
                continue
            if text is None:
                raise ValueError(f"{path} row {r}: column {column!r} is null; fill or drop such rows")
            yield r, text
        row += n
