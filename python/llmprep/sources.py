"""Token sources: where a dataset's token ids live, opened in one place. Imports no torch.

A token source is one of

- `ArraySource`: ids already in memory (a numpy array or a memmap the caller opened), used as they
  are, no copy;
- `FileSource`: one token file (llmprep format, raw ids with their ``.json`` sidecar, or raw ids with
  a ``dtype=``), memory-mapped on first use in each process and pickled as its path;
- `ShardSet`: token files read as one sequence, exactly the file ``llmprep merge`` would write from
  them, with no shard read until a window needs it.

`open_source` turns anything a user may pass (text, array, tensor, list, path, list of paths, folder)
into one of them; it is the only place that does. Every source knows its ``dtype``, its length, its
``document_offsets`` (None when it has no document index) and how to copy windows out of itself
(``gather``); pickling sends paths, never ids.

A folder of shards is read in the order of its ``manifest.json`` when it has one::

    {"format": "llmprep-shards", "version": 1, "shards": ["part-00000.tok", "part-00001.tok"]}

(names relative to the folder; `write_shard_manifest` writes it), else its token files in name order.

The argument checks every data module uses live here too: `positive_int` (sizes), `check_num_threads`
(thread counts) and `token_dtype` (dtypes the kernels read); the narrowest dtype for ids is
`llmprep.tokens.narrowest_id_dtype`, next to the token files that store them.
"""

from __future__ import annotations

import inspect
import json
import operator
import os
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmprep import _core
from llmprep import tokens as token_files

__all__ = [
    "MANIFEST_NAME",
    "SUPPORTED_TOKEN_DTYPES",
    "ArraySource",
    "FileSource",
    "ShardSet",
    "TokenSource",
    "check_num_threads",
    "default_tokenizer",
    "encode_text",
    "open_shards",
    "open_source",
    "positive_int",
    "token_dtype",
    "write_shard_manifest",
]

# Token storage dtypes the C++ kernels read. uint16 holds every GPT-2 id (the largest is 50,256);
# uint32 any larger vocabulary; int32/int64 are accepted because that is what other tools write.
SUPPORTED_TOKEN_DTYPES = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.int32), np.dtype(np.int64))
MANIFEST_NAME = "manifest.json"
_MANIFEST_FORMAT = "llmprep-shards"
_MANIFEST_VERSION = 1
_TEXT_SUFFIXES = {".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".html", ".xml"}
# A str this long, or with a line break, is text; shorter ones are checked for being a file's name.
_PATH_LIKE_MAX = 4096


# --------------------------------------------------------------------------------------------------
# The checks: one helper per question, one exception type per kind of mistake (TypeError for the
# wrong kind of value, ValueError for a value out of range).


def positive_int(name: str, value: Any) -> int:
    """Checks a size argument (batch_size, max_length, stride, world_size, ...).

    Raises:
        TypeError: ``value`` is not an int (bools are not sizes).
        ValueError: ``value`` is 0 or negative.

    >>> positive_int("stride", 4)
    4
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {number}")
    return number


def check_num_threads(num_threads: Any) -> int:
    """Checks a thread count: None means the default (``LLMPREP_NUM_THREADS`` or all cores), passed on as 0.

    Raises:
        TypeError: not an int or None.
        ValueError: 0 or negative.

    >>> check_num_threads(None), check_num_threads(2)
    (0, 2)
    """
    if num_threads is None:
        return 0
    return positive_int("num_threads", num_threads)


def token_dtype(dtype: Any) -> np.dtype[Any]:
    """Checks a token storage dtype: uint16, uint32, int32 or int64 in native byte order.

    Raises:
        TypeError: not a numpy dtype, or not one of those.

    >>> token_dtype("uint16")
    dtype('uint16')
    """
    try:
        resolved: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):  # a comma string goes through ast.literal_eval
        raise TypeError(
            f"dtype {dtype!r} is not a numpy dtype; use np.uint16, np.uint32, np.int32 or np.int64"
        ) from None
    if resolved not in SUPPORTED_TOKEN_DTYPES:
        raise TypeError(
            f"token dtype {resolved} is not supported: use uint16 (ids < 65,536, e.g. GPT-2), uint32, int32 or "
            "int64 in native byte order; convert with tokens.astype(np.uint32)"
        )
    return resolved


def _narrow_ids(ids: np.ndarray, what: str) -> np.ndarray:
    """Integer ids from a tokenizer, checked and stored in the narrowest id dtype (a copy unless already narrow)."""
    if ids.size == 0:
        return np.zeros(0, dtype=token_files.narrowest_id_dtype(vocab_size=0))
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what} returned {ids.dtype} values; token ids must be integers")
    if ids.dtype.kind == "i" and int(ids.min()) < 0:
        raise ValueError(f"{what} returned a negative token id; ids must be >= 0")
    return ids.astype(token_files.narrowest_id_dtype(max_id=int(ids.max())), copy=False)


def _check_token_array(tokens: np.ndarray, what: str) -> np.ndarray:
    if tokens.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {tokens.shape}; flatten it with .reshape(-1)")
    token_dtype(tokens.dtype)
    if not tokens.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous; pass np.ascontiguousarray(tokens) (a copy)")
    # Signed ids are checked here for arrays in memory (one vectorized pass). A memory-mapped file is
    # not read up front; the C++ gather checks every window it copies instead.
    if tokens.dtype.kind == "i" and tokens.size and not isinstance(tokens, np.memmap):
        lowest = tokens.min()
        if lowest < 0:
            position = int(np.argmax(tokens < 0))
            raise ValueError(
                f"{what} holds a negative token id ({int(lowest)}; the first is at position {position}); "
                "ids must be >= 0"
            )
    return tokens


# --------------------------------------------------------------------------------------------------
# Text: encoding it with a tokenizer, into the narrowest dtype.


def default_tokenizer() -> Any:
    """The GPT-2 tokenizer used when none is given: llmprep's own encoder.

    Returns:
        ``llmprep.get_encoding("gpt2")``.

    >>> default_tokenizer().encode("Hello, world")
    [15496, 11, 995]
    """
    from llmprep.encoding import get_encoding

    return get_encoding("gpt2")


def _takes_allowed_special(method: Any) -> bool:
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume tiktoken's interface
        return True
    return "allowed_special" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def encode_text(text: str, tokenizer: Any = None) -> np.ndarray:
    """Encodes text as the chapter does (``<|endoftext|>`` allowed), into the narrowest id dtype.

    A tokenizer with ``encode_to_numpy`` (llmprep's `Encoding` and `SimpleTokenizer`, tiktoken's
    ``Encoding``) is used through it: no Python int per token. Error messages never quote the text.

    Args:
        text: The text.
        tokenizer: An encoding name (``"gpt2"``, for ``llmprep.get_encoding``), an object with
            ``encode_to_numpy`` or ``encode``, or None for GPT-2.

    Returns:
        A new 1-D uint16 array (uint32 when an id is 65,536 or more).

    Raises:
        TypeError: the tokenizer has no ``encode``, or returned something other than integers.
        ValueError: an unknown encoding name, or a negative id.

    >>> encode_text("Hello, world", "gpt2")
    array([15496,    11,   995], dtype=uint16)
    """
    if tokenizer is None:
        tokenizer = default_tokenizer()
    elif isinstance(tokenizer, str):
        from llmprep.encoding import get_encoding

        tokenizer = get_encoding(tokenizer)
    special = {"allowed_special": {"<|endoftext|>"}}
    to_numpy = getattr(tokenizer, "encode_to_numpy", None)
    if to_numpy is not None:
        ids = to_numpy(text, **special) if _takes_allowed_special(to_numpy) else to_numpy(text)
        what = f"{type(tokenizer).__name__}.encode_to_numpy"
    else:
        encode = getattr(tokenizer, "encode", None)
        if encode is None:
            raise TypeError(
                f"tokenizer must be an encoding name or have an encode() method, not {type(tokenizer).__name__}"
            )
        ids = encode(text, **special) if _takes_allowed_special(encode) else encode(text)
        what = f"{type(tokenizer).__name__}.encode"
    return _narrow_ids(np.asarray(ids), what)


# --------------------------------------------------------------------------------------------------
# The sources.


class TokenSource:
    """What every source offers: its ids' ``dtype``, ``len()`` (tokens), ``document_offsets``, and
    ``gather`` (windows copied into caller buffers)."""

    dtype: np.dtype[Any]
    n_tokens: int

    def __len__(self) -> int:
        return self.n_tokens

    @property
    def document_offsets(self) -> np.ndarray | None:
        """``n_documents + 1`` token offsets (document i is ids[offsets[i]:offsets[i+1]]), or None."""
        return None

    def array(self) -> np.ndarray:
        """All ids as one array (a view: the caller's array or this process's memory map)."""
        raise NotImplementedError

    def read(self, start: int, stop: int) -> np.ndarray:
        """Ids ``[start, stop)`` (a view for one array or file, a copy for a shard set)."""
        return self.array()[start:stop]

    def describe(self) -> str:
        raise NotImplementedError

    def gather(
        self, max_length: int, stride: int, windows: np.ndarray | Sequence[int], inputs: np.ndarray, targets: np.ndarray
    ) -> None:
        """Writes window ``windows[r]`` (tokens from ``windows[r] * stride``) into row ``r`` of inputs and,
        shifted by one token, targets (each ``[len(windows), max_length]``, int64 or int32)."""
        _core.gather_windows(self.array(), max_length, stride, windows, inputs, targets)

    def materialize(self, max_length: int, stride: int, int32: bool, num_threads: int) -> tuple[np.ndarray, np.ndarray]:
        """All windows as two new ``[n_windows, max_length]`` arrays (a copy)."""
        return _core.materialize_windows(self.array(), max_length, stride, int32=int32, num_threads=num_threads)


class ArraySource(TokenSource):
    """Token ids already in memory, or a memmap the caller opened: used as they are, no copy.

    Pickling sends the ids (an array has no path); for large corpora use a token file.
    """

    def __init__(self, tokens: np.ndarray, what: str = "the token array") -> None:
        self._tokens = _check_token_array(tokens, what)
        self.dtype = tokens.dtype
        self.n_tokens = int(tokens.shape[0])
        self._what = what

    def array(self) -> np.ndarray:
        return self._tokens

    def describe(self) -> str:
        return self._what


class FileSource(TokenSource):
    """One token file, memory-mapped on first access in each process.

    Pickling (DataLoader workers under spawn/forkserver) sends the path, not the ids; a forked worker
    sees a different pid and maps the file itself instead of using the parent's mapping. An llmprep
    or sidecar-described file is mapped through ``llmprep.open_tokens``; a bare raw file directly.
    """

    def __init__(
        self,
        path: Path,
        header: token_files.TokenFileHeader | None,
        dtype: np.dtype[Any],
        count: int,
        *,
        raw: bool = False,
    ) -> None:
        self.path = path
        self.header = header  # None: a raw file without sidecar
        self.raw = raw or header is None  # raw ids (with or without sidecar): no document index
        self.dtype = dtype
        self.n_tokens = count
        self._array: np.ndarray | None = None
        self._file: token_files.TokenFile | None = None
        self._pid = -1

    def _open(self) -> None:
        if self.header is not None:
            self._file = token_files.open_tokens(self.path)
            self._array = self._file.tokens
        elif self.n_tokens == 0:  # np.memmap cannot map zero bytes
            self._array = np.zeros(0, dtype=self.dtype)
        else:
            self._array = np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.n_tokens,))
        self._pid = os.getpid()

    def array(self) -> np.ndarray:
        if self._array is None or self._pid != os.getpid():
            self._open()
        assert self._array is not None
        return self._array

    @property
    def document_offsets(self) -> np.ndarray | None:
        if self._array is None or self._pid != os.getpid():
            self._open()
        return None if self._file is None else self._file.document_offsets

    @property
    def data_offset(self) -> int:
        """Byte offset of the ids in the file (0 for raw files)."""
        return 0 if self.raw or self.header is None else self.header.data_offset

    def read_document_offsets(self) -> np.ndarray | None:
        """The document index as a new array (read with one call, no memory map or descriptor kept),
        checked as `open_tokens` checks it; None for a raw file."""
        if self.raw or self.header is None:
            return None
        header = self.header
        offsets = np.fromfile(self.path, dtype="<u8", count=header.n_documents + 1, offset=header.index_offset)
        if (
            offsets.size != header.n_documents + 1
            or int(offsets[0]) != 0
            or int(offsets[-1]) != header.n_tokens
            or bool(np.any(offsets[1:] < offsets[:-1]))
        ):
            raise token_files.TokenFileError(
                f"{self.path} has a corrupted document index (not {header.n_documents + 1} non-decreasing offsets "
                f"from 0 to {header.n_tokens}); re-create it"
            )
        return offsets

    def describe(self) -> str:
        return f"token file {self.path}"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_array=None, _file=None, _pid=-1)
        return state


def _open_file(path: Path, dtype: Any) -> FileSource:
    """Opens a token file lazily: reads its header (or sidecar, or size), not its ids.

    An llmprep token file (``llmprep tokenize``) describes itself; so does a raw ``.bin`` with the
    ``.json`` sidecar ``llmprep tokenize --format raw`` writes. Other raw files need ``dtype=``.
    """
    header: token_files.TokenFileHeader | None = None
    raw = False
    try:
        header = token_files.read_header(path)  # checks magic, version, checksum and size; the ids stay unread
    except FileNotFoundError:
        raise FileNotFoundError(
            f"token file {path} does not exist (pass text as a str, token files as a Path)"
        ) from None
    except token_files.TokenFileError:
        with open(path, "rb") as f:
            if f.read(len(token_files.MAGIC)) == token_files.MAGIC:
                raise  # an llmprep token file, but truncated or corrupted: the message says how
        sidecar = path.with_name(path.name + token_files.RAW_SIDECAR_SUFFIX)
        if sidecar.is_file():
            # The sidecar is authoritative: open_tokens checks it against the file's size and refuses a
            # contradicting dtype=.
            header = token_files.open_tokens(path, dtype=dtype).header
            raw = True
    if header is not None:
        if dtype is not None and token_dtype(dtype) != header.dtype:
            raise ValueError(
                f"{path} holds {header.dtype.name} ids (its header says so), not {np.dtype(dtype).name}; drop dtype="
            )
        return FileSource(path, header, np.dtype(header.dtype.name), header.n_tokens, raw=raw)
    if path.suffix.lower() in _TEXT_SUFFIXES:
        raise ValueError(
            f"{path} looks like a text file, not a token file: read it and pass the text, "
            f"e.g. GPTDataset(Path({str(path)!r}).read_text(encoding='utf-8'))"
        )
    if dtype is None:
        raise ValueError(
            f"{path}: a raw token file has no header, so pass its dtype, e.g. dtype=np.uint16 "
            "(what nanoGPT's prepare.py writes for GPT-2 ids)"
        )
    resolved = token_dtype(dtype)
    size = path.stat().st_size
    if size % resolved.itemsize:
        raise ValueError(
            f"{path} has {size} bytes, not a multiple of {resolved.itemsize} ({resolved}): it is not a raw "
            f"{resolved} token file; check dtype= or the file"
        )
    return FileSource(path, None, resolved, size // resolved.itemsize)


class ShardSet(TokenSource):
    """Token files read as one sequence: exactly the file ``llmprep merge`` would write from them.

    Same length, same ids at every position, same document offsets; a window may span shards (its
    pieces are copied from each). Opening reads each shard's header only; a shard is mapped the
    first time a window (or `read`) needs it, in each process, and stays mapped. Pickling sends
    the paths.

    A batch is one C++ call (``_core.TokenParts.gather``): it looks up each window's shard in the
    table of shard ends, maps the shards not mapped yet (the file descriptor is closed at once, so
    a set may hold more shards than the open-file limit), and copies each window straight from its
    shard's memory, or assembles it from its pieces when it spans shards. Error positions count in
    the whole sequence, as in the merged file.
    """

    def __init__(self, parts: Sequence[FileSource]) -> None:
        if not parts:
            raise ValueError("a shard set needs at least one token file")
        dtypes = {part.dtype for part in parts}
        if len(dtypes) > 1:
            by_dtype = {d.name: next(str(p.path) for p in parts if p.dtype == d) for d in dtypes}
            listing = ", ".join(f"{path} holds {name}" for name, path in sorted(by_dtype.items()))
            raise ValueError(
                f"the shards hold ids of different dtypes ({listing}); re-create them with one dtype "
                "(llmprep tokenize --dtype uint32) or merge them (llmprep merge widens to the widest)"
            )
        headers = [p.header for p in parts if p.header is not None]
        for what in ("encoding", "vocab_size", "eot_token"):
            values = {getattr(h, what) for h in headers}
            if len(values) > 1:
                first = next(p for p in parts if p.header is not None)
                other = next(
                    p for p in parts if p.header is not None and getattr(p.header, what) != getattr(first.header, what)
                )
                raise ValueError(
                    f"{other.path} and {first.path} have different {what} ({getattr(other.header, what)!r} vs "
                    f"{getattr(first.header, what)!r}): they are not shards of one corpus"
                )
        self.parts = list(parts)
        self.dtype = parts[0].dtype
        lengths = np.array([p.n_tokens for p in parts], dtype=np.int64)
        self._ends = np.cumsum(lengths)
        self._begins = self._ends - lengths
        self.n_tokens = int(self._ends[-1])
        self._offsets: np.ndarray | None = None
        self._parts_table: _core.TokenParts | None = None

    @property
    def paths(self) -> list[Path]:
        return [p.path for p in self.parts]

    @property
    def n_documents(self) -> int:
        """Documents in all shards (from their headers; 0 for raw shards without sidecar)."""
        return sum(p.header.n_documents for p in self.parts if p.header is not None)

    @property
    def n_mapped(self) -> int:
        """Shards mapped in this process so far (0 until a window or `read` needs one)."""
        table = self._parts_table
        return 0 if table is None else table.n_mapped

    @property
    def document_offsets(self) -> np.ndarray | None:
        """The merged file's document offsets (a copy, built on first use: reads every shard's index),
        or None when a shard has no document index."""
        if self._offsets is None:
            pieces = [np.zeros(1, dtype=np.uint64)]
            for part, begin in zip(self.parts, self._begins.tolist()):
                offsets = part.read_document_offsets()
                if offsets is None:
                    return None
                pieces.append(offsets[1:].astype(np.uint64) + np.uint64(begin))
            self._offsets = np.concatenate(pieces)
        return self._offsets

    def array(self) -> np.ndarray:
        raise ValueError(
            f"{self.describe()} has no single token array: read a range with .read(start, stop) "
            "(dataset.source.read for a GPTDataset), or merge the shards into one file (llmprep merge)"
        )

    def describe(self) -> str:
        return f"the {len(self.parts)} token files from {self.parts[0].path} on"

    def read(self, start: int, stop: int) -> np.ndarray:
        """Ids ``[start, stop)`` of the merged sequence (clamped to it): a new array, copied from each shard."""
        return self._table().read(start, stop)

    def _table(self) -> _core.TokenParts:
        """This process's table of the shards' files (built anew after a fork; maps nothing yet)."""
        table = self._parts_table
        if table is None:
            offsets = np.array([p.data_offset for p in self.parts], dtype=np.int64)
            paths = [os.fsencode(p.path) for p in self.parts]
            table = self._parts_table = _core.TokenParts(paths, offsets, self._ends, self.dtype)
            _SETS_WITH_TABLES.add(self)
        return table

    def gather(
        self, max_length: int, stride: int, windows: np.ndarray | Sequence[int], inputs: np.ndarray, targets: np.ndarray
    ) -> None:
        self._table().gather(max_length, stride, windows, inputs, targets)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_parts_table=None)
        return state

    def materialize(self, max_length: int, stride: int, int32: bool, num_threads: int) -> tuple[np.ndarray, np.ndarray]:
        n = _core.window_count(self.n_tokens, max_length, stride)
        out_dtype = np.int32 if int32 else np.int64
        inputs = np.empty((n, max_length), dtype=out_dtype)
        targets = np.empty((n, max_length), dtype=out_dtype)
        self._table().gather(max_length, stride, np.arange(n, dtype=np.int64), inputs, targets, num_threads)
        return inputs, targets


#: Shard sets whose table of mapped files this process built. A forked child drops them (os.fork's
#: hook, before any of its code runs): a table's lock may have been held by a parent thread that does
#: not exist there, and the child maps what it needs itself. Checking os.getpid() in every batch
#: instead cost a system call per batch (a tenth of a small batch's time).
_SETS_WITH_TABLES: weakref.WeakSet[ShardSet] = weakref.WeakSet()


def _drop_tables_after_fork() -> None:
    for shard_set in list(_SETS_WITH_TABLES):
        shard_set._parts_table = None
    _SETS_WITH_TABLES.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_drop_tables_after_fork)


# --------------------------------------------------------------------------------------------------
# Opening.


def _shard_paths(folder: Path) -> list[Path]:
    """A folder's shards: the order of its manifest, else its token files in name order."""
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            if meta.get("format") != _MANIFEST_FORMAT or meta.get("version") != _MANIFEST_VERSION:
                raise ValueError(f"format must be {_MANIFEST_FORMAT!r} version {_MANIFEST_VERSION}")
            names = meta["shards"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError("'shards' must be a list of file names")
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"{manifest} is not a valid shard manifest: {e}") from None
        if len(set(names)) != len(names):
            raise ValueError(f"{manifest} names a shard twice")
        paths = []
        for name in names:
            if Path(name).is_absolute() or ".." in Path(name).parts:
                raise ValueError(f"{manifest}: shard {name!r} must be a path inside {folder}")
            path = folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{manifest} lists {name!r}, but {path} does not exist")
            paths.append(path)
        return paths
    # Hidden files are skipped (a writer's temporary files start with '.'), and so are sidecars.
    paths = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix != ".json" and p.is_file()),
        key=lambda p: p.name,
    )
    if not paths:
        raise ValueError(f"folder {folder} holds no token files")
    return paths


def open_shards(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], dtype: Any = None) -> ShardSet:
    """Opens token files (or a folder of them) as one sequence, as if ``llmprep merge`` had joined them.

    Args:
        paths: Token files in order, or a folder: its ``manifest.json`` order, else its token files
            (every non-hidden file but ``.json`` ones) in name order.
        dtype: For raw shards without a sidecar only.

    Returns:
        A `ShardSet`: ``len()``, ``dtype``, ``read(start, stop)``, ``document_offsets``, ``paths``.

    Raises:
        ValueError: no files, shards of different dtypes or encodings, a bad manifest.
        TokenFileError: a shard is not a valid token file.
        FileNotFoundError: a shard does not exist.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name, ids in (("a.tok", [1, 2]), ("b.tok", [3, 4, 5])):
    ...     with token_files.TokenFileWriter(folder / name, dtype="uint16", encoding="gpt2",
    ...                                      vocab_size=50257, eot_token=None) as w:
    ...         w.write(np.array(ids)); w.end_document()
    >>> shards = open_shards(folder)
    >>> len(shards), shards.read(1, 4).tolist(), shards.document_offsets.tolist()
    (5, [2, 3, 4], [0, 2, 5])
    """
    if isinstance(paths, (str, os.PathLike)):
        folder = Path(paths)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder; pass a list of token files")
        listed = _shard_paths(folder)
    else:
        listed = [Path(p) for p in paths]
    return ShardSet([_open_file(p, dtype) for p in listed])


def write_shard_manifest(
    folder: str | os.PathLike[str], shards: Sequence[str], extra: dict[str, Any] | None = None
) -> Path:
    """Writes ``folder/manifest.json``: the order in which `open_shards` reads the folder's shards.

    Args:
        folder: The folder holding the shards.
        shards: Their file names (relative to ``folder``), in corpus order.
        extra: More keys for the manifest (how the shards were made: ``llmprep tokenize --ray``
            records its inputs, arguments and each shard's counts); readers ignore them.

    Returns:
        The manifest's path (written to a temporary file first, then renamed into place).

    >>> import tempfile
    >>> write_shard_manifest(tempfile.mkdtemp(), ["b.tok", "a.tok"]).name
    'manifest.json'
    """
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    body = {**(extra or {}), "format": _MANIFEST_FORMAT, "version": _MANIFEST_VERSION, "shards": list(shards)}
    write_record(path, body)
    return path


def write_record(path: Path, body: dict[str, Any]) -> None:
    """Writes a JSON record (a manifest, a run record) through a hidden temporary file renamed into
    place. One line per key, and per item of a list of objects: readable, and every line encoded by
    json's C encoder (an indented dump runs in Python: ~0.5 s for the record of a 20,000-file run)."""

    def lines(value: Any) -> str:
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return "[\n  " + ",\n  ".join(json.dumps(v) for v in value) + "\n ]"
        return json.dumps(value)

    text = "{\n" + ",\n".join(f" {json.dumps(key)}: {lines(value)}" for key, value in body.items()) + "\n}\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _looks_like_a_path(text: str) -> bool:
    return len(text) < _PATH_LIKE_MAX and "\n" not in text and os.path.isfile(text)


def open_source(source: Any, tokenizer: Any = None, dtype: Any = None) -> TokenSource:
    """Turns what a user passes to ``GPTDataset`` into a token source: the one place that does.

    Args:
        source: text (``str``; encoded with ``tokenizer``); token ids (a 1-D numpy array or memmap of
            uint16/uint32/int32/int64, a CPU torch tensor, a list of ints); one token file
            (``pathlib.Path``); several (a list of ``Path``) or a folder of them (a ``Path``).
        tokenizer: For text only; see `encode_text`.
        dtype: For raw token files without a sidecar only (and, if given, checked against an array).

    Returns:
        An `ArraySource`, `FileSource` or `ShardSet`.

    Raises:
        TypeError: an unsupported source, token dtype or tokenizer, or a file name given as a str.
        ValueError: an argument that does not apply to the source, negative ids, bad files.

    >>> open_source(np.arange(10, dtype=np.uint16)).n_tokens
    10
    """
    if isinstance(source, str):
        if dtype is not None:
            raise ValueError("dtype= is for token arrays and token files; text is encoded by the tokenizer")
        if _looks_like_a_path(source):
            raise TypeError(
                f"source is a str naming the file {source!r}; a str is always text. Pass a token file as "
                f"Path({source!r}), or the file's text as Path({source!r}).read_text(encoding='utf-8')"
            )
        return ArraySource(encode_text(source, tokenizer), "the text")
    if tokenizer is not None:
        raise ValueError("tokenizer= is only used when source is text (a str)")
    if isinstance(source, os.PathLike):
        path = Path(source)
        if path.is_dir():
            return open_shards(path, dtype)
        return _open_file(path, dtype)
    if isinstance(source, (bytes, bytearray)):
        raise TypeError("source is bytes: decode text to str first, or pass a token file as a pathlib.Path")
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is imported
    if torch is not None and isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    if isinstance(source, (list, tuple)):
        if source and all(isinstance(p, os.PathLike) for p in source):
            return open_shards(source, dtype)
        if any(isinstance(p, (str, os.PathLike)) for p in source):
            raise TypeError(
                "a list source must hold token ids (ints) or token files (pathlib.Path, all of them), "
                "not str: pass [Path(name), ...]"
            )
        array = np.asarray(source)
        if array.size == 0:
            array = array.astype(np.int64)
        elif array.dtype.kind not in "iu":
            raise TypeError(f"a token list must hold ints, got {array.dtype} values")
        source = array.astype(np.int64, copy=False)
    if isinstance(source, np.ndarray):
        if dtype is not None and np.dtype(dtype) != source.dtype:
            raise ValueError(f"dtype={np.dtype(dtype)} does not match the array's dtype {source.dtype}")
        return ArraySource(source)
    raise TypeError(
        f"source must be text (str), token ids (numpy array, torch tensor or list of ints), a token file "
        f"(pathlib.Path), a list of token files or a folder of them, not {type(source).__name__}"
    )
