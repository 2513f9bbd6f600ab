"""Corpus preprocessing: text files, directories, JSONL and stdin -> one token file, streaming.

The pipeline: documents are enumerated in a fixed order (inputs as given, directories recursively
in sorted order), optionally restricted to a shard; each document is read in blocks and cut by the
C++ `TextChunker` where the encoding's tokens cannot change; chunks are gathered into batches that
the encoder runs on N threads (GIL released) while the next batch is read; each batch comes back
as one block of ids in the file's dtype with the end-of-text ids in place
(`ChunkEncoder.encode_documents`, joined in C++), written in order through `TokenFileWriter`
(temporary file, renamed on success) with one write. Memory is bounded by two
batches, whatever the corpus size (a single pre-token longer than a batch is the only exception:
it must be encoded whole).

Performance notes (53 MB of varied text, 2 threads, shared 2-core machine): the pipeline is
encoder-bound; reading, UTF-8 checking and cutting run at ~2 GB/s on the main thread. With one
batch in flight the encoder idled while each batch was written: 83-95 MB/s; with two queued
(encode k+1 while writing k and reading k+2): ~150 MB/s. 1 MiB chunks left threads idle at the end
of each batch; 256 KiB chunks split batches evenly, and per-chunk overhead stays invisible. Encoding
through `BpeEncoder::encode_batch` from the one executor thread keeps the piece cache warm across
batches (worker threads read the caller's cache); fresh per-batch thread caches were not measurably
slower here, but would be with smaller batches.
"""

from __future__ import annotations

import contextlib
import fnmatch
import itertools
import json
import os
import re
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from llmprep import _core
from llmprep._inputs import format_of_contents, open_input, read_small_plain
from llmprep.encoding.registry import ENCODING_NAMES, native_pattern_of
from llmprep.tokens import TokenFileHeader, TokenFileWriter, check_id_dtype, narrowest_id_dtype

__all__ = [
    "ChunkEncoder",
    "InputPiece",
    "TokenizeStats",
    "check_options",
    "file_dtype",
    "get_chunk_encoder",
    "plan_inputs",
    "plan_units",
    "shard_bounds",
    "tokenize_corpus",
    "tokenize_pieces",
]

STDIN = "-"
# Chunks of 256 KiB: small enough that a batch splits evenly over the threads (the last chunk of a
# batch is the idle tail), large enough that per-chunk overhead (a bytes object, a numpy array,
# one task) is invisible next to encoding.
DEFAULT_CHUNK_BYTES = 1 << 18
# Text per batch (one encoder thread's unit of work): 16 chunks. Small enough that the threads
# finish a corpus together and memory stays low (workers + 2 batches of text and ids), large enough
# that per-batch overhead (a call, a join, a write) is invisible.
DEFAULT_BATCH_BYTES = 16 * DEFAULT_CHUNK_BYTES
_READ_BYTES = 1 << 20
_SURROGATE = re.compile("[\ud800-\udfff]")
# The threads tokenize_pieces hands batches to, kept for the process's life. The C++ piece cache
# belongs to the thread that calls the encoder, so a long-lived thread carries what it learned from
# one call to the next: a Ray worker tokenizing shard after shard started each one cold when every
# call made a new thread. Each thread encodes whole batches on its own (share nothing): a parallel
# call per batch looks every piece up in the caller's frozen table and the call's own and absorbs
# what the call learned at its end; on novel text it took ~12% more CPU than batches spread over
# threads with caches of their own (docs/performance.md). A call made while another one runs gets
# threads of its own.
_encoder_threads_lock = threading.Lock()
_encoder_threads: ThreadPoolExecutor | None = None
_encoder_threads_count = 0


@contextlib.contextmanager
def _encoder_executor(threads: int) -> Iterator[ThreadPoolExecutor]:
    """An executor of ``threads`` threads for a `tokenize_pieces` call (the same one as the last
    call's if it had as many: their caches stay warm). The caller waits for what it submitted."""
    global _encoder_threads, _encoder_threads_count
    if not _encoder_threads_lock.acquire(blocking=False):
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="llmprep-encode") as pool:
            yield pool
        return
    try:
        if _encoder_threads is None or _encoder_threads_count != threads:
            if _encoder_threads is not None:
                _encoder_threads.shutdown(wait=True)
            _encoder_threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="llmprep-encode")
            _encoder_threads_count = threads
        yield _encoder_threads
    finally:
        _encoder_threads_lock.release()


@contextlib.contextmanager
def _finished_on_exit(jobs: deque[tuple[Any, Future[Any]]]) -> Iterator[None]:
    """On the way out, cancels the jobs left in ``jobs`` that have not started and waits for the
    rest: a call that fails half-way leaves no thread writing into its blocks, and nothing queued
    ahead of the next call's batches."""
    try:
        yield
    finally:
        for _, job in jobs:
            job.cancel()
        wait([job for _, job in jobs])


def _forget_encoder_thread() -> None:
    """In a forked child: the parent's threads are not there (and the lock may be held by a thread
    that is not either)."""
    global _encoder_threads, _encoder_threads_lock, _encoder_threads_count
    _encoder_threads = None
    _encoder_threads_count = 0
    _encoder_threads_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_encoder_thread)


class ChunkEncoder(Protocol):
    """What the pipeline needs from an encoding (tiktoken, llmprep's BPE or a SimpleTokenizer)."""

    name: str
    vocab_size: int
    eot_token: int | None
    cut_rule: str  # "gpt2", "cl100k_base", "o200k_base" or "whitespace": where the C++ chunker may cut

    def encode_chunks(self, chunks: list[bytes], num_threads: int) -> list[np.ndarray]:
        """Ids of each chunk (valid UTF-8), as integer arrays; special tokens are ordinary text."""
        ...

    def encode_documents(
        self,
        chunks: list[bytes],
        doc_ends: list[int],
        eot: int | None,
        dtype: str,
        num_threads: int,
        blocks: _core.OutputBlocks | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One block of a token file: the chunks' ids as ``dtype``, ``eot`` (unless None) after each
        document; and each document's end offset in the block. ``doc_ends[d]`` is the number of
        chunks before document ``d`` ends. ``blocks``: where a pipeline run's written blocks come
        back, to be written into again (no fresh pages per batch)."""
        ...

    def decode(self, ids: Sequence[int]) -> str: ...


class _JoinedChunks:
    """`ChunkEncoder.encode_documents` for an encoder that only has `encode_chunks`: its arrays
    joined in C++ (`_core.join_documents`)."""

    def encode_chunks(self, chunks: list[bytes], num_threads: int) -> list[np.ndarray]:
        raise NotImplementedError

    def encode_documents(
        self,
        chunks: list[bytes],
        doc_ends: list[int],
        eot: int | None,
        dtype: str,
        num_threads: int,
        blocks: _core.OutputBlocks | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return _core.join_documents(self.encode_chunks(chunks, num_threads), doc_ends, eot, dtype, blocks)


class _TiktokenEncoder(_JoinedChunks):
    """A named encoding through tiktoken: the reference (``engine="tiktoken"``), for comparisons."""

    def __init__(self, name: str) -> None:
        import tiktoken

        from llmprep.encoding.patterns import native_pattern_name

        self._enc = tiktoken.get_encoding(name)
        self.name = name
        rule = native_pattern_name(self._enc._pat_str)
        if rule is None:
            raise ValueError(f"encoding {name!r} has a pattern the C++ chunker has no safe cuts for")
        self.cut_rule = rule
        self.vocab_size = self._enc.n_vocab
        self.eot_token: int | None = self._enc.eot_token

    def encode_chunks(self, chunks: list[bytes], num_threads: int) -> list[np.ndarray]:
        texts = [c.decode("utf-8") for c in chunks]
        lists = self._enc.encode_ordinary_batch(texts, num_threads=max(num_threads, 1))
        return [np.array(ids, dtype=np.uint32) for ids in lists]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._enc.decode(list(ids)))


class _LlmprepBpeEncoder:
    """A named encoding (gpt2, cl100k_base, o200k_base, ...) through llmprep's own C++ BPE encoder (the default)."""

    def __init__(self, name: str, encoding: Any = None) -> None:
        from llmprep.encoding import get_encoding

        if encoding is not None:  # loaded from local files (--vocab-files, --tiktoken-file)
            self._enc = encoding
        else:
            try:
                self._enc = get_encoding(name)
            except RuntimeError as e:  # the vocabulary could not be loaded (no network and no cache)
                cache = os.environ.get("TIKTOKEN_CACHE_DIR")
                hint = (
                    f" (TIKTOKEN_CACHE_DIR={cache} does not exist: point it at the folder holding the cached files)"
                    if cache and not os.path.isdir(cache)
                    else ""
                )
                raise OSError(f"{e}{hint}") from None
        self.name = self._enc.name
        if not self._enc._native:
            raise ValueError(f"encoding {name!r} has no native pre-tokenizer in this build; use engine='tiktoken'")
        self.cut_rule = self._enc._native  # where the C++ chunker may cut: the pattern's safe cuts
        self.vocab_size = self._enc.n_vocab
        self.eot_token: int | None = self._enc.eot_token

    def encode_chunks(self, chunks: list[bytes], num_threads: int) -> list[np.ndarray]:
        return _core.bpe_encode_chunks(self._enc._core, chunks, num_threads)

    def encode_documents(
        self,
        chunks: list[bytes],
        doc_ends: list[int],
        eot: int | None,
        dtype: str,
        num_threads: int,
        blocks: _core.OutputBlocks | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        # Encoded and joined in C++, the join on the calling thread while the others still encode.
        return _core.bpe_encode_documents(self._enc._core, chunks, doc_ends, eot, dtype, num_threads, blocks)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._enc.decode(list(ids)))


class _SimpleEncoder(_JoinedChunks):
    """A saved `SimpleTokenizer` vocabulary (the chapter's word-level tokenizer)."""

    cut_rule = "whitespace"

    def __init__(self, vocab_path: str | os.PathLike[str]) -> None:
        from llmprep.simple import SimpleTokenizer

        self._tok = SimpleTokenizer.load(vocab_path)
        self._vocab_path = vocab_path
        self.name = "simple"
        ids = self._tok.vocab.values()
        self.vocab_size = max(ids, default=-1) + 1
        if min(ids, default=0) < 0:
            raise ValueError(f"{vocab_path}: token files hold ids from 0 to 2**32 - 1; the vocabulary has {min(ids)}")
        try:
            self._dtype = narrowest_id_dtype(vocab_size=self.vocab_size).name
        except ValueError as e:
            raise ValueError(f"{vocab_path}: {e}") from None
        self.eot_token = self._tok.vocab.get("<|endoftext|>")

    def encode_chunks(self, chunks: list[bytes], num_threads: int) -> list[np.ndarray]:
        try:
            return self._tok._core.encode_chunks(chunks, self._dtype, num_threads)
        except KeyError as e:
            word = e.args[0] if e.args else "?"
            raise ValueError(
                f"word {word!r} is not in the vocabulary {self._vocab_path}, which has no <|unk|> "
                "(a V1 vocabulary); build one with <|unk|> (llmprep vocab keeps it by default)"
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids))


ENCODINGS = (*ENCODING_NAMES, "simple")


def get_chunk_encoder(
    name: str,
    vocab: str | os.PathLike[str] | None = None,
    *,
    engine: str = "llmprep",
    vocab_files: tuple[str | os.PathLike[str], str | os.PathLike[str]] | None = None,
    tiktoken_file: str | os.PathLike[str] | None = None,
) -> ChunkEncoder:
    """The encoder for ``--encoding NAME`` (``simple`` needs ``vocab``, a saved SimpleTokenizer).

    ``engine="tiktoken"`` runs the named encoding through tiktoken instead of llmprep's encoder
    (same ids; for differential tests and benchmarks). ``vocab_files=(encoder_json, vocab_bpe)``
    or ``tiktoken_file`` load a BPE vocabulary from local files instead (no network; the encoding
    is named ``name``).

    Raises:
        ValueError: An unknown name, or ``simple`` without a vocabulary (or a vocabulary with others).
        OSError: The vocabulary cannot be loaded.

    >>> enc = get_chunk_encoder("gpt2")
    >>> [ids.tolist() for ids in enc.encode_chunks([b"hello", b" world"], num_threads=2)]
    [[31373], [995]]
    """
    if vocab_files is not None or tiktoken_file is not None:
        from llmprep.encoding import Encoding

        if vocab_files is not None and tiktoken_file is not None:
            raise ValueError("give --vocab-files or --tiktoken-file, not both")
        if name == "simple" or vocab is not None:
            raise ValueError("--vocab-files / --tiktoken-file load a BPE vocabulary: not for --encoding simple")
        if engine != "llmprep":
            raise ValueError("local vocabulary files are read by llmprep's own encoder only")
        for f in vocab_files or (tiktoken_file,):
            if not os.path.isfile(os.fspath(f)):  # type: ignore[arg-type]
                raise FileNotFoundError(f"vocabulary file {os.fspath(f)} does not exist")  # type: ignore[arg-type]
        if vocab_files is not None:
            enc = Encoding.from_files(vocab_files[0], vocab_files[1], name=name)
        else:
            assert tiktoken_file is not None
            # A rank file carries no pattern: --encoding names it (cl100k_base for Llama-3-style files).
            enc = Encoding.from_tiktoken_file(tiktoken_file, name=name, pattern=native_pattern_of(name))
        return _LlmprepBpeEncoder(name, enc)
    if name == "simple":
        if vocab is None:
            raise ValueError("--encoding simple needs --vocab FILE (a vocabulary saved by llmprep vocab -o FILE)")
        return _SimpleEncoder(vocab)
    if vocab is not None:
        raise ValueError(f"--vocab is only for --encoding simple, not {name}")
    if name in ENCODING_NAMES:
        if engine not in ("llmprep", "tiktoken"):
            raise ValueError(f"engine must be 'llmprep' or 'tiktoken', not {engine!r}")
        return _LlmprepBpeEncoder(name) if engine == "llmprep" else _TiktokenEncoder(name)
    raise ValueError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODINGS)}")


# -- documents ---------------------------------------------------------------------------------


@dataclass
class _Source:
    """One input (a file, or ``-`` for stdin) in a known format: a text file is one document, a JSONL
    file one per non-blank line, a Parquet file one per row."""

    path: str
    # "text", "jsonl" or "parquet"; "auto": a small plain file whose format is decided from its
    # bytes when it is read whole (see _expand_inputs' defer_small; resolve_format).
    format: str
    size: int | None  # bytes on disk, or None for stdin and pipes
    compressed: bool = False
    doc_sizes: list[int] | None = None  # input bytes of each document; counted only for --shard
    mtime_ns: int | None = None  # modification time when listed (regular files)

    @property
    def n_documents(self) -> int:
        return 1 if self.doc_sizes is None else len(self.doc_sizes)

    def resolve_format(self, input_format: str = "auto", note: Callable[[str], None] | None = None) -> None:
        """Sniffs a source whose format was left to its reading ("auto"), as planning would have."""
        if self.format == "auto":
            from llmprep._inputs import sniff_input

            self.format, compressed = sniff_input(self.path, input_format, note, regular_file=True)
            self.compressed = compressed and self.size is not None


def _expand_inputs(
    inputs: Sequence[str],
    glob: str | None,
    output: Path | None = None,
    input_format: str = "auto",
    note: Callable[[str], None] | None = None,
    output_folder: Path | None = None,
    defer_small: int = 0,
) -> list[_Source]:
    """The inputs in document order, with their formats. Inside directories, hidden entries and the
    output file itself (and its raw sidecar), or everything in ``output_folder``, are skipped, so
    re-running into the corpus folder is safe. A missing input is an error here, before any
    vocabulary is loaded. Each listed file costs one stat and one open (sniff_input): a folder of
    20,000 small files took longer to plan than to tokenize when each took several of both.

    ``defer_small``: with ``input_format="auto"``, a regular file of at most this many bytes whose
    name settles nothing (no .jsonl/.parquet or compression suffix) is not opened here: its format
    is "auto", decided from its bytes when `tokenize_pieces` reads it whole (one open per file
    instead of two; planning 20,000 files of 52 KB opened each for ~0.5 s before any encoding)."""
    from llmprep._inputs import format_by_name, sniff_input, strip_compression_suffix

    # The output and its sidecar by (device, inode), to compare each listed file's stat with, and by
    # resolved path, which decides when the inode matches (a hard link of the output is another
    # file name, and listed; a symbolic link to it is the output).
    skip: dict[tuple[int, int], Path] = {}
    if output is not None and os.fspath(output) != "-":
        for out in (output, output.with_name(output.name + ".json")):
            with contextlib.suppress(OSError):
                st = out.stat()
                skip[(st.st_dev, st.st_ino)] = out.resolve()
    inside = _files_in(output_folder) if output_folder is not None else set()
    found: list[tuple[str, os.stat_result | None]] = []
    for item in inputs:
        if item == STDIN:
            found.append((STDIN, None))
            continue
        path = Path(item)
        if path.is_dir():
            listed = _list_folder(path, glob, skip, inside)
            if not listed:
                raise ValueError(f"no input files in directory {item}" + (f" match --glob {glob!r}" if glob else ""))
            found.extend(listed)
        elif path.is_file():
            file_stat = path.stat()
            if (file_stat.st_dev, file_stat.st_ino) in inside:
                raise ValueError(f"input {item} is inside the output folder {output_folder}: choose another folder")
            found.append((item, file_stat))
        elif path.exists():  # a named pipe or process substitution, e.g. <(zcat corpus.txt.gz)
            found.append((item, None))
        else:
            raise FileNotFoundError(f"input {item} does not exist")
    sources = []
    for name, listed_stat in found:
        size, mtime = (None, None) if listed_stat is None else (listed_stat.st_size, listed_stat.st_mtime_ns)
        if (
            defer_small > 0
            and input_format == "auto"
            and size is not None
            and size <= defer_small
            and strip_compression_suffix(name) == name
            and format_by_name(name) is None
        ):
            sources.append(_Source(name, "auto", size, mtime_ns=mtime))
            continue
        # A listed stat is a regular file's (a folder lists only those; a named input passed is_file()).
        fmt, compressed = sniff_input(name, input_format, note, regular_file=True if listed_stat is not None else None)
        sources.append(_Source(name, fmt, size, compressed and size is not None, mtime_ns=mtime))
    return sources


def _files_in(folder: Path) -> set[tuple[int, int]]:
    """(device, inode) of every file in a folder, recursively (none if it does not exist): a listed
    input is inside the folder if its stat says so, whatever path or link led to it. (Resolving
    each of 20,000 listed paths took longer than tokenizing a few of them.)"""
    found = set()
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(root, name))
                found.add((st.st_dev, st.st_ino))
    return found


def _list_folder(
    path: Path, glob: str | None, skip: dict[tuple[int, int], Path], inside: set[tuple[int, int]]
) -> list[tuple[str, os.stat_result]]:
    """A folder's files (recursively, in path order) with their stats: no hidden entries, not the
    files of ``skip`` ((device, inode) -> resolved path), none of ``inside`` (device, inode).

    What ``path.rglob("*")`` lists, filtered: symbolic links to directories are not followed, and a
    subfolder that cannot be read is passed over. Walked with ``os.scandir`` on strings: pathlib's
    rglob, a Path and a parts tuple per file, took ~0.4 s of a 20,000-file folder's planning, about a
    tenth of tokenizing it on two threads.
    """
    fold = os.name == "nt"  # path order by parts, case-folded on Windows as pathlib compares
    match = None if glob is None else re.compile(fnmatch.translate(os.path.normcase(glob))).match
    base = str(path)
    listed: list[tuple[tuple[str, ...], str, os.stat_result]] = []
    folders: list[tuple[str, tuple[str, ...]]] = [(base, ())]
    while folders:
        folder, parts = folders.pop()
        try:
            with os.scandir(folder) as entries:
                found = list(entries)
        except OSError:
            continue  # as rglob: an unreadable (or vanished) subfolder is passed over
        for entry in found:
            if entry.name.startswith("."):
                continue
            name_parts = (*parts, entry.name.lower() if fold else entry.name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append((entry.path, name_parts))
                    continue
            except OSError:
                continue
            if match is not None and not match(os.path.normcase(entry.name)):
                continue
            try:
                st = entry.stat()  # follows a symbolic link: a link to a file is listed
            except OSError:  # a dangling link, or removed meanwhile: not a file (as is_file() says)
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            same = skip.get((st.st_dev, st.st_ino))
            if same is not None and Path(entry.path).resolve() == same:
                continue
            if (st.st_dev, st.st_ino) in inside:
                continue
            listed.append((name_parts, entry.path, st))
    listed.sort(key=lambda item: item[0])
    # Named as pathlib names them: relative to ".", the folder is no part of the name.
    cut = len(os.curdir + os.sep) if base == os.curdir else 0
    return [(name[cut:], st) for _, name, st in listed]


def _document_sizes(source: _Source, jsonl_field: str, text_column: str) -> list[int]:
    """Input bytes of each document of a source (a JSONL record's line, a Parquet row's text)."""
    from llmprep._inputs import open_input, parquet_sizes

    if source.format == "parquet":
        return parquet_sizes(source.path, text_column)
    if source.format == "text":
        if source.compressed:
            with open_input(source.path) as f:
                return [sum(len(b) for b in _read_blocks(f))]
        return [source.size or 0]
    sizes = []
    with open_input(source.path) as f:
        for line in f:
            if line.strip():
                sizes.append(len(line))
    return sizes


def shard_bounds(sizes: Sequence[int], i: int, n: int) -> tuple[int, int]:
    """Documents [first, last) of shard ``i`` of ``n``: contiguous runs cut at the prefix sums of
    ``sizes`` nearest to each k/n of the total, so every shard's bytes differ from total/n by at
    most the largest document (each cut is off by at most half of one).

    >>> [shard_bounds([10, 1, 1, 1, 10, 1], i, 3) for i in range(3)]
    [(0, 1), (1, 4), (4, 6)]
    """
    prefix = np.concatenate(([0], np.cumsum(np.asarray(sizes, dtype=np.int64))))
    total = int(prefix[-1])

    def cut(k: int) -> int:
        if k <= 0:
            return 0
        if k >= n:
            return len(sizes)
        # The prefix sum nearest total*k/n, compared exactly in integers (ties: the earlier cut).
        j = int(np.searchsorted(prefix * n, total * k, side="left"))
        if j > 0 and (j == len(prefix) or total * k - int(prefix[j - 1]) * n <= int(prefix[j]) * n - total * k):
            j -= 1
        return min(j, len(sizes))

    return cut(i), cut(i + 1)


def plan_units(sources: Sequence[_Source], text_column: str, unit_bytes: int) -> list[InputPiece]:
    """The inputs as pieces of about ``unit_bytes`` or less, where they can be cut without reading
    them (for planning a corpus across machines, which `shard_bounds` then groups by bytes).

    A text file (plain or compressed) and a compressed JSONL file are one piece each, of their size
    on disk; a plain JSONL file is cut at the first line start at or after each multiple of
    ``unit_bytes`` (reading a few bytes there); a Parquet file becomes one piece per row group, of
    its text column's uncompressed bytes (from the footer). Pieces are in document order.

    Raises:
        ValueError: An input that is not a regular file (stdin, a pipe), or a Parquet file
            without the text column.
    """
    units: list[InputPiece] = []
    for s in sources:
        if s.size is None:
            name = "stdin" if s.path == STDIN else s.path
            raise ValueError(f"{name} is not a regular file: a corpus is planned from its files' sizes")
        if s.format == "parquet":
            from llmprep._inputs import parquet_row_groups

            row = 0
            for rows, nbytes in parquet_row_groups(s.path, text_column):
                units.append(InputPiece(s, row, row + rows, nbytes=nbytes))
                row += rows
        elif s.format == "jsonl" and not s.compressed and s.size > unit_bytes:
            cuts = [0, *_line_starts(s.path, range(unit_bytes, s.size, unit_bytes)), s.size]
            for begin, end in itertools.pairwise(cuts):
                if end > begin:
                    units.append(InputPiece(s, byte_range=(begin, end), nbytes=end - begin))
        else:
            units.append(InputPiece(s, nbytes=s.size))
    return units


def _line_starts(path: str, offsets: Iterable[int]) -> list[int]:
    """For each offset (increasing), the first line start at or after it (or the file's size)."""
    starts: list[int] = []
    with open(path, "rb") as f:
        for offset in offsets:
            if starts and starts[-1] >= offset:
                starts.append(starts[-1])  # a line longer than the step: the same start again
                continue
            f.seek(offset - 1)  # a line starts at `offset` when the byte before it is a newline
            at = offset - 1
            while block := f.read(1 << 16):
                newline = block.find(b"\n")
                if newline >= 0:
                    at += newline + 1
                    break
                at += len(block)
            starts.append(at)
    return starts


def parse_shard(spec: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not m or not 0 <= int(m.group(1)) < int(m.group(2)):
        raise ValueError(f"--shard must be I/N with 0 <= I < N (e.g. 0/4), not {spec!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass
class TokenizeStats:
    """What a run did: for the summary line and for callers."""

    documents: int = 0
    tokens: int = 0
    bytes: int = 0
    seconds: float = 0.0
    header: TokenFileHeader | None = None

    def summary(self) -> str:
        s = max(self.seconds, 1e-9)
        return (
            f"{self.documents:,} document{'' if self.documents == 1 else 's'}, "
            f"{self.tokens:,} token{'' if self.tokens == 1 else 's'}, "
            f"{self.bytes:,} byte{'' if self.bytes == 1 else 's'} in {self.seconds:.2f} s "
            f"({self.bytes / s / 1e6:.1f} MB/s, {self.tokens / s:,.0f} tokens/s)"
        )


@dataclass
class _Batch:
    """Chunks to encode, and where documents end among them (ends[k] = chunks before doc end k)."""

    chunks: list[bytes] = field(default_factory=list)
    doc_ends: list[int] = field(default_factory=list)
    nbytes: int = 0  # text in the chunks
    input_bytes: int = 0  # what was read for them (for progress)


def _default_threads() -> int:
    """The thread count when none is given: the C++ core's decision (LLMPREP_NUM_THREADS, else the
    core count; an invalid LLMPREP_NUM_THREADS is a ValueError), so both layers agree."""
    return int(_core.default_num_threads())


def _read_blocks(f: BinaryIO, buffer: bytearray | None = None) -> Iterator[memoryview]:
    """The stream's bytes in blocks read into ``buffer`` (each block valid until the next one).

    Pass one buffer for many files: a new 1 MiB bytearray is zero-filled on creation, and for
    20,000 files of 52 KB that memset was ~15% of the pipeline's reading thread."""
    if buffer is None:
        buffer = bytearray(_READ_BYTES)
    view = memoryview(buffer)
    while n := f.readinto(buffer):  # type: ignore[attr-defined]
        yield view[:n]


def tokenize_corpus(
    inputs: Sequence[str],
    output: str | os.PathLike[str],
    encoder: ChunkEncoder,
    *,
    workers: int = 0,
    jsonl_field: str = "text",
    eot: bool = True,
    errors: str = "strict",
    format: str = "llmprep",
    dtype: str = "auto",
    glob: str | None = None,
    shard: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_total: Callable[[int | None], None] | None = None,
    stdin: BinaryIO | None = None,
    overwrite: bool = False,
    input_format: str = "auto",
    text_column: str = "text",
    note: Callable[[str], None] | None = None,
    planned: list[_Source] | None = None,
) -> TokenizeStats:
    """Tokenizes text, JSONL and Parquet files (plain or compressed), directories or stdin into one token file.

    Each text file, JSONL record or Parquet row is a document; with ``eot`` every document is followed by the
    encoding's ``<|endoftext|>`` id. The ids equal encoding each document whole with
    ``encode_ordinary``, for any ``workers``, ``chunk_bytes`` and ``batch_bytes``.

    Args:
        inputs: Paths, directories (recursive, sorted; ``glob`` filters file names) or ``"-"``.
        output: The token file (written to a temporary file, renamed on success; a device or FIFO
            is written in place; ``"-"`` streams ``format="raw"`` ids to standard output). It must
            not be one of the inputs, nor exist unless ``overwrite``.
        encoder: From `get_chunk_encoder`.
        workers: Encoder threads; 0 means all cores (or ``LLMPREP_NUM_THREADS``).
        jsonl_field: The text field of ``.jsonl`` records.
        eot: Append the end-of-text id after each document.
        errors: ``"strict"`` (invalid UTF-8 raises, naming file and byte offset) or ``"replace"``.
        format: ``"llmprep"`` or ``"raw"``.
        dtype: ``"auto"`` (uint16 when the vocabulary fits, else uint32), ``"uint16"`` or ``"uint32"``.
        glob: File-name pattern for directory inputs.
        shard: ``(i, n)``: only shard i of n contiguous runs of documents of about equal input
            bytes (see `shard_bounds`); merging every shard in order gives the unsharded file.
        chunk_bytes: Target chunk size for the cuts (tests use tiny ones).
        batch_bytes: Text per batch, the unit of work of one encoder thread (default: 16 chunks, 4
            MiB). Memory holds about ``workers + 2`` batches of text plus their ids.
        progress: Called with (input bytes, tokens) increments after each batch.
        on_total: Called once, before reading, with the input bytes to expect (None for stdin).
        stdin: The stream read for ``"-"`` (default: ``sys.stdin.buffer``).
        overwrite: Replace an existing output file.
        input_format: ``"auto"`` (by extension, then by content), ``"text"``, ``"jsonl"`` or
            ``"parquet"``; compressed inputs (.gz, .bz2, .xz, .zst) are decompressed in any format.
        text_column: The text column of Parquet inputs.
        note: Called with informational messages (an input read as JSONL because of its content).
        planned: ``plan_inputs``' result for these arguments, when the caller already planned (the CLI
            does, before loading the vocabulary); else the inputs are planned here.

    Returns:
        Counts and timing; ``header`` is the written file's header.

    Raises:
        ValueError: Bad arguments, invalid JSON or a missing field in a JSONL record, ids that do not
            fit a forced uint16, an output that is one of the inputs.
        FileExistsError: The output exists and ``overwrite`` is False.
        llmprep.InvalidUTF8Error: Invalid UTF-8 with ``errors="strict"``.
        OSError: An input cannot be read or the output cannot be written.

    >>> import tempfile, os, llmprep
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "a.txt"), "w") as f:
    ...     _ = f.write("hello world")
    >>> stats = tokenize_corpus([folder], os.path.join(folder, "out.tok"), get_chunk_encoder("gpt2"))
    >>> stats.documents, stats.tokens
    (1, 3)
    >>> llmprep.open_tokens(os.path.join(folder, "out.tok")).tokens.tolist()
    [31373, 995, 50256]
    """
    start_time = time.perf_counter()
    check_options(errors, dtype)
    chosen = file_dtype(encoder, dtype, eot)
    sources = planned
    if sources is None:
        sources = plan_inputs(
            inputs, output, glob=glob, input_format=input_format, overwrite=overwrite, format=format, note=note
        )
    num_threads = workers if workers > 0 else _default_threads()

    first_doc, last_doc = 0, None
    if shard is not None:
        if any(s.size is None for s in sources):
            raise ValueError("--shard needs regular files (their documents are measured first), not stdin or pipes")
        sizes: list[int] = []
        for s in sources:
            s.resolve_format(input_format, note)  # documents are counted by format
            s.doc_sizes = _document_sizes(s, jsonl_field, text_column)
            sizes.extend(s.doc_sizes)
        first_doc, last_doc = shard_bounds(sizes, *shard)
    if on_total is not None:
        expected: int | None = 0
        doc_index = 0
        for s in sources:
            lo = max(first_doc, doc_index)
            hi = min(last_doc if last_doc is not None else 1 << 62, doc_index + s.n_documents)
            if s.size is None or s.compressed or s.format == "parquet":
                expected = None  # only plain files' bytes are known before reading them
            elif expected is not None and hi > lo:
                expected += s.size if s.doc_sizes is None else sum(s.doc_sizes[lo - doc_index : hi - doc_index])
            doc_index += s.n_documents
        on_total(expected)

    pieces = []
    doc_index = 0  # of the first document of `source`, counting every source
    for source in sources:
        if last_doc is None or (doc_index < last_doc and doc_index + source.n_documents > first_doc):
            lo = max(first_doc - doc_index, 0)
            stop = None if last_doc is None else last_doc - doc_index
            pieces.append(InputPiece(source, lo, stop))
        doc_index += source.n_documents
    stats = tokenize_pieces(
        pieces,
        output,
        encoder,
        num_threads=num_threads,
        dtype=chosen,
        jsonl_field=jsonl_field,
        eot=eot,
        errors=errors,
        format=format,
        chunk_bytes=chunk_bytes,
        batch_bytes=batch_bytes,
        progress=None if progress is None else (lambda nbytes, ntokens, ndocs: progress(nbytes, ntokens)),
        stdin=stdin,
        overwrite=overwrite,
        text_column=text_column,
        inputs=[s.path for s in sources],
        note=note,
    )
    stats.seconds = time.perf_counter() - start_time
    return stats


@dataclass
class InputPiece:
    """A contiguous run of one input's documents: what a shard reads.

    Documents ``[first, stop)`` of the source (``stop`` None: to its end), or, for a plain
    (uncompressed) JSONL file, the whole lines in ``byte_range`` (start, end), where start and end
    are line starts: the distributed planner cuts large JSONL files so, without counting records.
    ``nbytes`` is the input the planner expects the piece to read (for balancing and progress).
    """

    source: _Source
    first: int = 0
    stop: int | None = None
    byte_range: tuple[int, int] | None = None
    nbytes: int = 0


def tokenize_pieces(
    pieces: Sequence[InputPiece],
    output: str | os.PathLike[str],
    encoder: ChunkEncoder,
    *,
    num_threads: int,
    dtype: str,
    jsonl_field: str = "text",
    eot: bool = True,
    errors: str = "strict",
    format: str = "llmprep",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    batch_bytes: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    stdin: BinaryIO | None = None,
    overwrite: bool = False,
    text_column: str = "text",
    inputs: Sequence[str] = (),
    note: Callable[[str], None] | None = None,
) -> TokenizeStats:
    """The pipeline of `tokenize_corpus` over pieces already planned: one token file.

    The pieces are read in order and their documents written to ``output`` exactly as
    `tokenize_corpus` would write them (so the files of consecutive pieces, merged, equal the file
    of all of them). ``dtype`` is ``"uint16"`` or ``"uint32"`` (already chosen); ``progress`` gets
    (input bytes, tokens, documents) increments after each batch; ``inputs`` are the files the
    output must not be; ``note`` gets what sniffing a source planned as "auto" finds (a text
    read as JSONL). Arguments are checked by the callers (`tokenize_corpus`,
    `llmprep.distributed.tokenize`).
    """
    start_time = time.perf_counter()
    replace = errors == "replace"
    if batch_bytes is None:
        batch_bytes = DEFAULT_BATCH_BYTES
    stats = TokenizeStats()
    # Batches handed to the encoder threads, oldest first: num_threads of them encode (a thread
    # each) while this thread reads the next, and one more may wait behind them, so no thread idles
    # while this one writes the oldest.
    in_flight: deque[tuple[_Batch, Future[tuple[np.ndarray, np.ndarray]]]] = deque()
    with (
        TokenFileWriter(
            output,
            dtype=dtype,
            encoding=encoder.name,
            vocab_size=encoder.vocab_size,
            eot_token=encoder.eot_token if eot else None,
            format=format,
            overwrite=overwrite,
            inputs=inputs,
        ) as writer,
        _encoder_executor(num_threads) as pool,
        _finished_on_exit(in_flight),
    ):

        def drain_one() -> None:
            done, future = in_flight.popleft()
            ids, ends = future.result()  # one block: the batch's ids, EOTs included, in the file's dtype
            tokens_before = writer.n_tokens
            writer.write(ids)
            writer.add_document_ends(ends + np.uint64(tokens_before))
            if progress is not None:
                progress(done.input_bytes, writer.n_tokens - tokens_before, len(done.doc_ends))

        batch = _Batch()
        # Each batch's block comes back here once written and the next batch joins into it: a
        # fresh block's pages were zeroed by the kernel as the encoder thread touched them.
        blocks = _core.OutputBlocks()
        read_buffer = bytearray(_READ_BYTES)  # the chunker copies what it keeps: one buffer serves every file

        def submit(last: bool = False) -> None:
            nonlocal batch
            eot_id = writer.eot_token
            # A batch is encoded on one thread; the last one on every thread the others left idle
            # too (so an input of one batch still uses them all).
            threads = max(1, num_threads - sum(not job.done() for _, job in in_flight)) if last else 1
            job = pool.submit(encoder.encode_documents, batch.chunks, batch.doc_ends, eot_id, dtype, threads, blocks)
            in_flight.append((batch, job))
            batch = _Batch()
            while len(in_flight) > num_threads:
                drain_one()

        def add(chunks: list[bytes], input_bytes: int) -> None:
            for c in chunks:
                batch.chunks.append(c)
                batch.nbytes += len(c)
            batch.input_bytes += input_bytes
            stats.bytes += input_bytes
            if batch.nbytes >= batch_bytes:
                submit()

        def end_document() -> None:
            batch.doc_ends.append(len(batch.chunks))
            stats.documents += 1

        def add_text_document(text: str, name: str, input_bytes: int) -> None:
            chunker = _core.TextChunker(encoder.cut_rule, chunk_bytes, replace, name)
            add(chunker.push(text.encode("utf-8")), input_bytes)
            add(chunker.finish(), 0)
            end_document()

        for piece in pieces:
            source, lo, stop = piece.source, piece.first, piece.stop
            # A small plain file is read whole: one chunk, the bytes object read (no other copy),
            # unless it is compressed or grew since planning. Asking for the planned size, not
            # chunk_bytes: a 256 KiB request is an mmap'd buffer per file, ~15% slower on 20,000
            # files of 52 KB. One planned as "auto" is sniffed here, from those bytes.
            whole = None
            size = source.size
            if source.format in ("text", "auto") and not source.compressed and size is not None and size <= chunk_bytes:
                whole = read_small_plain(source.path, size)
            if source.format == "auto":
                if whole is None:
                    source.resolve_format("auto", note)  # compressed, grown, or larger than a chunk
                else:
                    source.format = format_of_contents(source.path, whole, note)
            if source.format == "parquet":
                from llmprep._inputs import iter_parquet_texts

                for row, text in iter_parquet_texts(source.path, text_column, lo, stop):
                    text = _check_text(text, f"{source.path} row {row}", f"column {text_column!r}", replace)
                    add_text_document(text, f"{source.path} row {row}", len(text.encode("utf-8")))
                continue
            if piece.byte_range is not None:
                begin, end = piece.byte_range
                name = f"{source.path} (from byte {begin})"
                lines = _lines_between(source.path, begin, end)
                for text, where, line_bytes in _jsonl_records(lines, name, jsonl_field, replace, base=begin):
                    add_text_document(text, where, line_bytes)
                continue
            name = "<stdin>" if source.path == STDIN else source.path
            if whole is not None and source.format == "text":
                add(_core.TextChunker(encoder.cut_rule, chunk_bytes, replace, name).whole(whole), len(whole))
                end_document()
                continue
            with open_input(source.path, stdin) as stream:  # (a small file found to be JSONL: read again)
                if source.format == "jsonl":
                    for text, where, line_bytes in _jsonl_records(stream, name, jsonl_field, replace, lo, stop):
                        add_text_document(text, where, line_bytes)
                else:
                    chunker = _core.TextChunker(encoder.cut_rule, chunk_bytes, replace, name)
                    for block in _read_blocks(stream, read_buffer):
                        add(chunker.push(block), len(block))
                    add(chunker.finish(), 0)
                    end_document()
        if batch.chunks or batch.doc_ends:
            submit(last=True)
        while in_flight:
            drain_one()
        stats.tokens = writer.n_tokens
    stats.header = writer.header
    stats.seconds = time.perf_counter() - start_time
    return stats


def _lines_between(path: str, begin: int, end: int) -> Iterator[bytes]:
    """The lines of a plain file in bytes [begin, end), both line starts."""
    with open(path, "rb", buffering=1 << 20) as f:
        f.seek(begin)
        at = begin
        for line in f:
            if at >= end:
                return
            yield line
            at += len(line)


def check_options(errors: str, dtype: str) -> None:
    """Checks the options every way of tokenizing a corpus shares (before any work).

    Raises:
        ValueError: ``errors`` is not strict/replace, or ``dtype`` not auto/uint16/uint32.
    """
    if errors not in ("strict", "replace"):
        raise ValueError(f"errors must be 'strict' or 'replace', not {errors!r}")
    if dtype != "auto":
        check_id_dtype(dtype)


def file_dtype(encoder: ChunkEncoder, dtype: str, eot: bool) -> str:
    """The token file's dtype for ``dtype`` (``"auto"`` or a forced one); checks that ``eot`` has an id.

    Raises:
        ValueError: ``eot`` with a vocabulary that has no ``<|endoftext|>``; a forced dtype other than
            uint16/uint32.
    """
    if eot and encoder.eot_token is None:
        raise ValueError(f"the {encoder.name} vocabulary has no <|endoftext|> token: add it, or pass --no-eot")
    chosen = narrowest_id_dtype(vocab_size=encoder.vocab_size) if dtype == "auto" else check_id_dtype(dtype)
    name: str = chosen.name  # numpy's stubs type it Any for Python 3.10
    return name


def plan_inputs(
    inputs: Sequence[str],
    output: str | os.PathLike[str],
    *,
    glob: str | None = None,
    input_format: str = "auto",
    overwrite: bool = False,
    format: str = "llmprep",
    note: Callable[[str], None] | None = None,
) -> list[_Source]:
    """Expands and checks the inputs and checks the output, before any vocabulary is loaded.

    Raises:
        FileNotFoundError: An input does not exist.
        ValueError: Stdin given twice, an output that is one of the inputs, or ``"-"`` (standard
            output) with the llmprep format, which needs a seekable file.
        FileExistsError: The output exists and ``overwrite`` is False.
    """
    from llmprep._outputs import check_output

    if format not in ("llmprep", "raw"):
        raise ValueError(f"format must be 'llmprep' or 'raw', not {format!r}")
    if os.fspath(output) == "-" and format != "raw":
        raise ValueError(
            "-o - streams ids to standard output only with --format raw: the llmprep format needs a seekable file"
        )
    # Small files are sniffed when read (tokenize_pieces), or by tokenize_corpus for --shard.
    sources = _expand_inputs(inputs, glob, Path(output), input_format, note, defer_small=DEFAULT_CHUNK_BYTES)
    if sum(1 for s in sources if s.path == STDIN) > 1:
        raise ValueError("stdin ('-') can be given only once")
    if any(s.path == STDIN and s.format == "parquet" for s in sources):
        raise ValueError("Parquet cannot be read from standard input (it needs a seekable file)")
    paths = [s.path for s in sources]
    check_output(output, inputs=paths, overwrite=overwrite, allow_stdout=format == "raw")
    if format == "raw" and os.fspath(output) != "-" and not _in_place(output):
        check_output(Path(os.fspath(output) + ".json"), inputs=paths, overwrite=overwrite)
    return sources


def _in_place(output: str | os.PathLike[str]) -> bool:
    from llmprep._outputs import is_in_place

    return is_in_place(output)


def _check_text(text: str, where: str, what: str, replace: bool) -> str:
    if _SURROGATE.search(text):
        if not replace:
            raise ValueError(
                f"{where}: {what} holds a lone surrogate escape (not valid Unicode); fix the input, "
                "or replace it with U+FFFD via --errors replace"
            )
        text = _SURROGATE.sub("\ufffd", text)  # as tiktoken does
    return text


def _jsonl_records(
    stream: Iterable[bytes],
    path: str,
    text_field: str,
    replace: bool,
    first: int = 0,
    last: int | None = None,
    base: int = 0,
) -> Iterator[tuple[str, str, int]]:
    """(text, name for messages, line bytes) of records [first, last) of a JSONL stream (a record is
    a non-blank line); records before `first` are counted, not parsed. ``base``: the file offset of
    the stream's first byte (for the byte offsets of invalid UTF-8)."""
    offset = base
    record_index = -1
    for line_no, line in enumerate(stream, start=1):
        line_start, offset = offset, offset + len(line)
        if not line.strip():
            continue
        record_index += 1
        if record_index < first:
            continue
        if last is not None and record_index >= last:
            return
        try:
            decoded = line.decode("utf-8", "replace" if replace else "strict")
        except UnicodeDecodeError as e:
            error = _core.InvalidUTF8Error(
                f"'{path}' is not valid UTF-8: {e.reason} 0x{line[e.start]:02x} at byte offset "
                f"{line_start + e.start} (line {line_no}); fix the input, or substitute U+FFFD with "
                "errors='replace' (--errors replace)"
            )
            error.offset, error.reason = line_start + e.start, e.reason
            raise error from None
        try:
            record: Any = json.loads(decoded)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {line_no} is not valid JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise ValueError(f"{path} line {line_no} is not valid JSON: it is nested too deeply") from None
        if not isinstance(record, dict) or text_field not in record:
            keys = f"; its keys are {sorted(record)[:10]}" if isinstance(record, dict) else ""
            raise ValueError(
                f"{path} line {line_no} has no field {text_field!r}{keys}; choose the field with --jsonl-field"
            )
        text = record[text_field]
        if not isinstance(text, str):
            raise ValueError(f"{path} line {line_no}: field {text_field!r} is {type(text).__name__}, not a string")
        text = _check_text(text, f"{path} line {line_no}", f"field {text_field!r}", replace)
        yield text, f"{path} line {line_no}", len(line)
