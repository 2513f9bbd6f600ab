"""Training batches from token ids: ``GPTDataset`` and ``create_dataloader`` (section 2.6 of the chapter).

This is the one module of llmprep that imports torch. ``GPTDataset`` keeps only the token array (or a
path to a token file, memory-mapped on first use in each process) and cuts windows on demand in C++;
``create_dataloader`` yields exactly the batches of the chapter's ``create_dataloader_v1`` under the
same ``torch.manual_seed``, and adds data-parallel sharding and exact mid-epoch resume.

How ``max_length`` and ``stride`` cut a token sequence (``0 1 2 ... 12`` stand for 13 token ids)::

    max_length=4, stride=4 (windows touch, no overlap; NOT max_length + 1):
        inputs  [0 1 2 3]    [4 5 6 7]    [8 9 10 11]
        targets [1 2 3 4]    [5 6 7 8]    [9 10 11 12]
    max_length=4, stride=2 (each window overlaps the previous one by 2 tokens):
        inputs  [0 1 2 3]  [2 3 4 5]  [4 5 6 7]  [6 7 8 9]  [8 9 10 11]
    max_length=4, stride=1: every start position, the chapter's first example.

A target row is its input row shifted by one token, so a window reads ``max_length + 1`` tokens. With
``stride = max_length`` the *inputs* of consecutive windows tile the text and every token is predicted
exactly once; ``stride = max_length + 1`` would skip one token between windows. The number of windows
is ``len(range(0, n_tokens - max_length, stride))``, exactly as the chapter's loop counts them.
"""

from __future__ import annotations

import inspect
import operator
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from llmprep import _core

__all__ = ["GPTDataLoader", "GPTDataset", "create_dataloader", "default_tokenizer"]

# Token storage dtypes the C++ kernels read. uint16 holds every GPT-2 id (the largest is 50,256);
# uint32 any larger vocabulary; int32/int64 are accepted because that is what other tools write.
SUPPORTED_TOKEN_DTYPES = (np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.int32), np.dtype(np.int64))
_OUTPUT_DTYPES = (torch.int64, torch.int32)
# Allocates a CPU storage in shared memory (what default_collate uses in workers); private, so optional.
_NEW_SHARED = getattr(torch.UntypedStorage, "_new_shared", None)
_TEXT_SUFFIXES = {".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".html", ".xml"}


def default_tokenizer() -> Any:
    """The GPT-2 tokenizer used when none is given: llmprep's own encoder once it exists, else tiktoken's.

    Returns:
        An object with ``encode(text, allowed_special={"<|endoftext|>"})``.

    >>> default_tokenizer().encode("Hello, world")
    [15496, 11, 995]
    """
    import llmprep

    get_encoding = getattr(llmprep, "get_encoding", None)
    if get_encoding is not None:
        return get_encoding("gpt2")
    import tiktoken

    return tiktoken.get_encoding("gpt2")


# --------------------------------------------------------------------------------------------------
# Argument checks: the messages users see.


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}") from None
    if number <= 0:
        raise ValueError(f"{name} must be a positive integer, got {number}")
    return number


def _token_dtype(dtype: Any) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype {dtype!r} is not a numpy dtype; use np.uint16, np.uint32, np.int32 or np.int64"
        ) from None
    if resolved not in SUPPORTED_TOKEN_DTYPES:
        raise TypeError(
            f"token dtype {resolved} is not supported: use uint16 (ids < 65,536, e.g. GPT-2), uint32, int32 or "
            "int64 in native byte order; convert with tokens.astype(np.uint32)"
        )
    return resolved


def _check_token_array(tokens: np.ndarray, what: str) -> np.ndarray:
    if tokens.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {tokens.shape}; flatten it with .reshape(-1)")
    _token_dtype(tokens.dtype)
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
# Token sources: where the ids live. Each has .array() (opened lazily in each process) and len().


class _ArrayTokens:
    """Token ids already in memory (or a memmap the caller opened): used as they are, no copy."""

    def __init__(self, tokens: np.ndarray) -> None:
        self._tokens = tokens

    def array(self) -> np.ndarray:
        return self._tokens

    def __len__(self) -> int:
        return int(self._tokens.shape[0])

    def describe(self) -> str:
        return "the token array"


class _FileTokens:
    """Token ids in a file, memory-mapped on first access in each process.

    Pickling (DataLoader workers under spawn/forkserver) sends the path, not the ids; a forked worker
    sees a different pid and maps the file itself instead of using the parent's mapping.
    """

    def __init__(self, path: Path, dtype: np.dtype, offset: int, count: int) -> None:
        self.path = path
        self.dtype = dtype
        self.offset = offset
        self.count = count
        self._array: np.ndarray | None = None
        self._pid = -1

    def array(self) -> np.ndarray:
        if self._array is None or self._pid != os.getpid():
            self._array = np.memmap(self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=(self.count,))
            self._pid = os.getpid()
        return self._array

    def __len__(self) -> int:
        return self.count

    def describe(self) -> str:
        return f"token file {self.path}"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_array"] = None
        state["_pid"] = -1
        return state


def _open_path(path: Path, dtype: Any) -> _FileTokens:
    """Opens a token file lazily: reads its header (or size), not its ids.

    An llmprep token file (``llmprep tokenize``) describes itself; so does a raw ``.bin`` with the
    ``.json`` sidecar ``llmprep tokenize --format raw`` writes. Other raw ``.bin`` files need ``dtype=``.
    """
    if not path.is_file():
        raise FileNotFoundError(f"token file {path} does not exist (pass text as a str, token files as a Path)")
    from llmprep import tokens as token_files

    with open(path, "rb") as f:
        magic = f.read(len(token_files.MAGIC))
    sidecar = path.with_name(path.name + token_files.RAW_SIDECAR_SUFFIX)
    if magic == token_files.MAGIC or (dtype is None and sidecar.is_file()):
        header = token_files.open_tokens(path).header  # checks magic, version, sizes and index
        if dtype is not None and _token_dtype(dtype) != header.dtype:
            raise ValueError(
                f"{path} holds {header.dtype.name} ids (its header says so), not {np.dtype(dtype).name}; drop dtype="
            )
        return _FileTokens(path, header.dtype, header.data_offset, header.n_tokens)
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
    resolved = _token_dtype(dtype)
    size = path.stat().st_size
    if size % resolved.itemsize:
        raise ValueError(
            f"{path} has {size} bytes, not a multiple of {resolved.itemsize} ({resolved}): it is not a raw "
            f"{resolved} token file; check dtype= or the file"
        )
    return _FileTokens(path, resolved, 0, size // resolved.itemsize)


def _encode(text: str, tokenizer: Any) -> np.ndarray:
    """Encodes as the chapter does (``<|endoftext|>`` allowed), into the narrowest supported dtype."""
    encode = tokenizer.encode
    try:
        parameters = inspect.signature(encode).parameters
        takes_special = "allowed_special" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
        )
    except (TypeError, ValueError):  # a builtin without a signature: assume tiktoken's interface
        takes_special = True
    ids = encode(text, allowed_special={"<|endoftext|>"}) if takes_special else encode(text)
    tokens = np.asarray(ids)
    if tokens.size == 0:
        return np.zeros(0, dtype=np.uint16)
    if tokens.dtype.kind not in "iu":
        raise TypeError(f"tokenizer.encode returned {tokens.dtype} values; token ids must be integers")
    if tokens.min() < 0:
        raise ValueError("tokenizer.encode returned a negative token id; ids must be >= 0")
    # uint16 when every id fits (all of GPT-2's do): a quarter of int64's memory.
    return tokens.astype(np.uint16 if tokens.max() < 2**16 else np.uint32)


def _open_source(source: Any, tokenizer: Any, dtype: Any) -> tuple[_ArrayTokens | _FileTokens, str]:
    if isinstance(source, str):
        if dtype is not None:
            raise ValueError("dtype= is for token arrays and token files; text is encoded by the tokenizer")
        return _ArrayTokens(_encode(source, tokenizer if tokenizer is not None else default_tokenizer())), "the text"
    if tokenizer is not None:
        raise ValueError("tokenizer= is only used when source is text (a str)")
    if isinstance(source, os.PathLike):
        opened = _open_path(Path(source), dtype)
        return opened, opened.describe()
    if isinstance(source, (bytes, bytearray)):
        raise TypeError("source is bytes: decode text to str first, or pass a token file as a pathlib.Path")
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
    if isinstance(source, (list, tuple)):
        source = np.asarray(source)
        if source.size == 0:
            source = source.astype(np.int64)
        elif source.dtype.kind not in "iu":
            raise TypeError(f"a token list must hold ints, got {source.dtype} values")
        source = source.astype(np.int64, copy=False)
    if isinstance(source, np.ndarray):
        if dtype is not None and np.dtype(dtype) != source.dtype:
            raise ValueError(f"dtype={np.dtype(dtype)} does not match the array's dtype {source.dtype}")
        return _ArrayTokens(_check_token_array(source, "the token array")), "the token array"
    raise TypeError(
        f"source must be text (str), token ids (numpy array, torch tensor or list of ints) or a token file "
        f"(pathlib.Path), not {type(source).__name__}"
    )


# --------------------------------------------------------------------------------------------------
# The dataset.


class _BatchBuffers:
    """Reuses the numpy buffers of batches that nobody holds any more.

    Why: a batch of 32 x 1024 int64 ids is 256 KiB a tensor. glibc serves blocks that size by mmap, or
    trims them off the heap when freed, so a fresh buffer per batch page-faults all of its memory
    again: measured 175 us per (32, 1024) batch with fresh buffers against 11 us reusing two (the
    gather itself). A buffer is reused only when its reference count shows that the pool alone holds
    it: a returned tensor (or any view of it) keeps its numpy array referenced through the tensor's
    storage, so a batch the caller still holds is never overwritten.
    """

    _KEEP = 4  # pairs kept: enough for a batch in use, one being built and the DataLoader's prefetch
    # Below this size per tensor malloc serves from the heap without faulting, and np.empty is
    # cheaper than the reference-count scan (measured at batch 8 x 256: pooling was slower).
    _MIN_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._pairs: list[tuple[np.ndarray, np.ndarray]] = []

    def take(self, shape: tuple[int, int], dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        if shape[0] * shape[1] * np.dtype(dtype).itemsize < self._MIN_BYTES:
            return np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype)
        for pair in self._pairs:
            first, second = pair
            # References to an unused array: its pair tuple, the local name, getrefcount's argument.
            if (
                first.shape == shape
                and first.dtype == dtype
                and sys.getrefcount(first) == 3
                and sys.getrefcount(second) == 3
            ):
                return pair
        pair = (np.empty(shape, dtype=dtype), np.empty(shape, dtype=dtype))
        self._pairs.append(pair)
        if len(self._pairs) > self._KEEP:
            del self._pairs[0]
        return pair


class GPTDataset(Dataset):
    """Input/target windows over token ids, cut on demand in C++: the chapter's ``GPTDatasetV1``, faster.

    Holds only the token ids (uint16 for GPT-2 text: 2 bytes a token) or a path to a token file that
    each process memory-maps on first use; no per-window Python objects. Window ``i`` is tokens
    ``[i * stride, i * stride + max_length)`` and its target the same span shifted one token right, so
    ``dataset[i]`` equals ``GPTDatasetV1(...)[i]`` for the same text and arguments.

    Args:
        source: text (``str``, encoded with ``tokenizer``); token ids (a 1-D C-contiguous numpy array
            of uint16, uint32, int32 or int64, including ``np.memmap``; a CPU tensor; a list of ints);
            or a ``pathlib.Path`` to a raw token file (pass ``dtype``). A ``str`` is always text.
        tokenizer: for text only; anything with ``encode(text, allowed_special=...)`` or ``encode(text)``.
            Default: GPT-2 (``default_tokenizer()``), ``<|endoftext|>`` allowed, as in the chapter.
        max_length: tokens per input row (the context length).
        stride: tokens between the starts of consecutive windows. ``stride = max_length`` tiles the
            text without overlap; smaller strides overlap, larger ones skip tokens.
        dtype: the token dtype of a raw token file (``np.uint16`` for nanoGPT's ``.bin`` files).
        output_dtype: ``torch.int64`` (default; what ``nn.Embedding`` wants) or ``torch.int32``.

    Raises:
        ValueError: max_length or stride not positive; fewer than ``max_length + 1`` tokens (the chapter
            would silently yield nothing); negative ids in an in-memory signed array; a file whose size
            does not fit its dtype, or a text file given as a token file.
        TypeError: an unsupported source type or token dtype.

    >>> ds = GPTDataset(raw_text, max_length=4, stride=4)   # raw_text: the-verdict.txt
    >>> len(ds)
    1286
    >>> ds[0]
    (tensor([  40,  367, 2885, 1464]), tensor([ 367, 2885, 1464, 1807]))
    >>> inputs, targets = ds.__getitems__([0, 1])  # one C++ gather for a whole batch (a copy)
    >>> inputs.shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        source: str | np.ndarray | torch.Tensor | Sequence[int] | os.PathLike[str],
        tokenizer: Any = None,
        max_length: int = 256,
        stride: int = 128,
        *,
        dtype: Any = None,
        output_dtype: torch.dtype = torch.int64,
    ) -> None:
        self.max_length = _positive_int("max_length", max_length)
        self.stride = _positive_int("stride", stride)
        if output_dtype not in _OUTPUT_DTYPES:
            raise TypeError(f"output_dtype must be torch.int64 or torch.int32, not {output_dtype}")
        self.output_dtype = output_dtype
        self._numpy_output_dtype = np.int64 if output_dtype == torch.int64 else np.int32
        self._itemsize = 8 if output_dtype == torch.int64 else 4
        self._source, self._what = _open_source(source, tokenizer, dtype)
        what = self._what
        self.n_tokens = len(self._source)
        self._len = _core.window_count(self.n_tokens, self.max_length, self.stride)
        if self._len == 0:
            raise ValueError(
                f"{what} has {self.n_tokens} tokens, but one window of max_length={self.max_length} needs "
                f"{self.max_length + 1} (inputs plus the one-token-shifted targets); use more text or a "
                "smaller max_length"
            )
        # Set by create_dataloader: allocate batches in pinned memory (a loader without workers on a
        # machine with an accelerator), so the DataLoader's pinning step has nothing left to copy.
        self.pin_memory = False
        self._spare = _BatchBuffers()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_spare"] = _BatchBuffers()  # buffers are per process; never pickle them
        return state

    @property
    def tokens(self) -> np.ndarray:
        """The token ids (a view: the caller's array, or this process's memmap of the file)."""
        return self._source.array()

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Window ``index`` as ``(input, target)``, two new 1-D tensors; negative indices count from the end."""
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"window index must be an int, not {type(index).__name__}") from None
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError(f"window index {index} is out of range: the dataset has {self._len} windows")
        inputs = torch.empty(self.max_length, dtype=self.output_dtype)
        targets = torch.empty(self.max_length, dtype=self.output_dtype)
        _core.gather_windows(
            self.tokens,
            self.max_length,
            self.stride,
            [i],
            inputs.numpy().reshape(1, -1),
            targets.numpy().reshape(1, -1),
        )
        return inputs, targets

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        """A whole batch, ``[inputs, targets]``, each ``[len(indices), max_length]``: one C++ gather (a copy).

        PyTorch's DataLoader calls this instead of ``__getitem__`` once per batch. Indices must be in
        ``[0, len(self))``.
        """
        return self._gather(indices)

    def windows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All windows as two new ``[len(self), max_length]`` tensors (a copy; large corpora need a lot of memory)."""
        inputs, targets = _core.materialize_windows(
            self.tokens, self.max_length, self.stride, int32=self.output_dtype == torch.int32
        )
        return torch.from_numpy(inputs), torch.from_numpy(targets)

    def _gather(self, indices: Sequence[int] | np.ndarray) -> list[torch.Tensor]:
        rows = len(indices)
        shape = (rows, self.max_length)
        if self.pin_memory:
            inputs = torch.empty(shape, dtype=self.output_dtype, pin_memory=True)
            targets = torch.empty(shape, dtype=self.output_dtype, pin_memory=True)
            out_inputs, out_targets = inputs.numpy(), targets.numpy()
        elif get_worker_info() is not None and _NEW_SHARED is not None:
            # In a worker process the batch travels to the main process through shared memory; allocate
            # it there directly (as default_collate does) rather than have the queue copy it over.
            storage = _NEW_SHARED(2 * rows * self.max_length * self._itemsize)
            both = torch.empty(0, dtype=self.output_dtype).set_(storage, 0, (2, *shape))
            inputs, targets = both[0], both[1]
            out_inputs, out_targets = inputs.numpy(), targets.numpy()
        else:
            # numpy buffers wrapped by torch.from_numpy (a third of the cost of torch.empty + .numpy()),
            # recycled once nothing else holds them (see _BatchBuffers).
            out_inputs, out_targets = self._spare.take(shape, self._numpy_output_dtype)
            inputs, targets = torch.from_numpy(out_inputs), torch.from_numpy(out_targets)
        _core.gather_windows(self.tokens, self.max_length, self.stride, indices, out_inputs, out_targets)
        return [inputs, targets]

    def __repr__(self) -> str:
        return (
            f"GPTDataset({self._what}: {self.n_tokens} tokens, max_length={self.max_length}, "
            f"stride={self.stride}, {self._len} windows)"
        )


def _batch_passthrough(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    """collate_fn for GPTDataset: ``__getitems__`` already returns the finished batch."""
    return batch


# --------------------------------------------------------------------------------------------------
# Sampling: the chapter's order, sharding, epochs, resume.


def _accelerator_available() -> bool:
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return bool(torch.cuda.is_available())


class _WindowSampler(Sampler[int]):
    """Window indices for one rank, one epoch at a time.

    With one rank and no seed/generator it draws from the global torch RNG exactly as
    ``RandomSampler`` does (one int64 at the first index, then ``randperm`` with a private generator),
    so under the same ``torch.manual_seed`` the order equals the chapter's. With a ``generator`` it
    consumes that generator as ``RandomSampler`` does, including the extra ``randperm`` when an
    epoch is read to its end. With a ``seed``, epoch ``e`` uses ``randperm`` seeded with ``seed + e``
    (as ``DistributedSampler``): every rank computes the same permutation and takes every
    ``world_size``-th window from position ``rank``.
    """

    def __init__(
        self,
        n_windows: int,
        *,
        shuffle: bool,
        seed: int | None,
        generator: torch.Generator | None,
        rank: int,
        world_size: int,
        drop_last: bool,
        batch_size: int,
    ) -> None:
        self.n_windows = n_windows
        self.shuffle = shuffle
        self.seed = seed
        self.generator = generator
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.next_epoch = 0
        self.pending: tuple[dict[str, Any] | None, int] | None = None  # (order record, batches to skip)
        self.current: tuple[int, dict[str, Any] | None] | None = None  # (epoch, order record) in progress
        self.read_to_end = False  # the current epoch's iterator has been read past its last index

    @property
    def mode(self) -> str:
        if not self.shuffle:
            return "sequential"
        if self.generator is not None:
            return "generator"
        return "seed" if self.seed is not None else "global"

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n_windows
        if self.drop_last:  # equal shards, so every rank runs the same number of steps
            return self.n_windows // self.world_size
        return len(range(self.rank, self.n_windows, self.world_size))

    def _new_record(self, epoch: int) -> dict[str, Any] | None:
        mode = self.mode
        if mode == "sequential":
            return None
        if mode == "generator":
            assert self.generator is not None
            return {"generator_state": self.generator.get_state()}
        if mode == "seed":
            assert self.seed is not None
            return {"seed": self.seed + epoch}
        # RandomSampler's draw, byte for byte: the chapter's order under torch.manual_seed.
        return {"seed": int(torch.empty((), dtype=torch.int64).random_().item())}

    def _order(self, record: dict[str, Any] | None) -> np.ndarray:
        if record is None:
            return np.arange(self.n_windows, dtype=np.int64)
        if "generator_state" in record:
            assert self.generator is not None
            self.generator.set_state(record["generator_state"])
            generator = self.generator
        else:
            generator = torch.Generator()
            generator.manual_seed(record["seed"])
        return torch.randperm(self.n_windows, generator=generator).numpy()

    def _start_epoch(self) -> tuple[np.ndarray, int]:
        """Begins the next epoch: (this rank's window indices, int64 contiguous; how many to skip)."""
        epoch = self.next_epoch
        self.next_epoch += 1
        if self.pending is not None:
            record, skip_batches = self.pending
            self.pending = None
        else:
            record, skip_batches = self._new_record(epoch), 0
        self.current = (epoch, record)
        self.read_to_end = False
        order = self._order(record)
        if self.world_size > 1:
            if self.drop_last:
                order = order[: len(self) * self.world_size]
            order = np.ascontiguousarray(order[self.rank :: self.world_size])
        return order, skip_batches * self.batch_size

    def _end_epoch(self) -> None:
        """The epoch's indices were read past the end."""
        if self.mode == "generator":
            # RandomSampler draws one more permutation when its iterator is read past the end.
            torch.randperm(self.n_windows, generator=self.generator)
        self.read_to_end = True

    def __iter__(self) -> Iterator[int]:
        # Index by index, for DataLoader's worker processes. A generator: nothing is drawn until the
        # first index is asked for, as in RandomSampler.
        order, skip = self._start_epoch()
        yield from order[skip:].tolist()
        self._end_epoch()

    def batches(self) -> Iterator[np.ndarray]:
        """The same epoch as batches of indices (views, no per-index Python objects), as BatchSampler cuts them."""
        order, skip = self._start_epoch()
        size = self.batch_size
        for begin in range(skip, len(order), size):
            batch = order[begin : begin + size]
            if self.drop_last and len(batch) < size:
                break
            yield batch
        self._end_epoch()


class _CountingIterator:
    """Wraps a DataLoader iterator and records, on the loader, how many batches it has handed out."""

    def __init__(self, loader: GPTDataLoader, inner: Iterator[list[torch.Tensor]], serial: int) -> None:
        self._loader = loader
        self._inner = inner
        self._serial = serial

    def __iter__(self) -> _CountingIterator:
        return self

    def __next__(self) -> list[torch.Tensor]:
        batch = next(self._inner)
        if self._loader._pos_serial == self._serial:
            self._loader._pos_batches += 1
        return batch

    def __len__(self) -> int:
        return len(self._inner)  # type: ignore[arg-type]


class _DirectIterator:
    """The single-process iterator: what DataLoader(num_workers=0) does for a GPTDataset, without its
    per-index sampler, fetcher and collate layers (about three quarters of the time of a small batch).

    It consumes the RNG exactly as DataLoader's iterator does: one int64 base seed drawn here, at
    iter() (from the loader's generator, else the global RNG), then the sampler's draw at the first
    batch. Pinning: the dataset gathers straight into pinned memory when an accelerator is present.
    """

    def __init__(self, loader: GPTDataLoader, serial: int) -> None:
        if loader.pin_memory and not _accelerator_available():
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=3,
            )
        torch.empty((), dtype=torch.int64).random_(generator=loader.generator)  # DataLoader's base seed
        self._loader = loader
        self._dataset: GPTDataset = loader.dataset  # type: ignore[assignment]
        self._batches = loader.window_sampler.batches()
        self._serial = serial
        self._length = len(loader)

    def __iter__(self) -> _DirectIterator:
        return self

    def __next__(self) -> list[torch.Tensor]:
        batch = self._dataset._gather(next(self._batches))
        if self._loader._pos_serial == self._serial:
            self._loader._pos_batches += 1
        return batch

    def __len__(self) -> int:
        return self._length


_STATE_VERSION = 1
_CONFIG_KEYS = ("n_windows", "batch_size", "drop_last", "shuffle", "mode", "seed", "rank", "world_size")


class GPTDataLoader(DataLoader):
    """A ``DataLoader`` over a ``GPTDataset`` with one C++ gather per batch, sharding and exact resume.

    Made by ``create_dataloader``; see there. Iterating it creates a new epoch each time (a new order
    when shuffling, with no ``set_epoch`` call). ``state_dict()`` records the epoch and how many batches
    of it were handed out; ``load_state_dict()`` on a loader built with the same arguments continues
    with exactly the remaining batches.
    """

    def __init__(
        self,
        dataset: GPTDataset,
        batch_size: int,
        *,
        shuffle: bool,
        drop_last: bool,
        num_workers: int,
        pin_memory: bool,
        seed: int | None,
        generator: torch.Generator | None,
        rank: int,
        world_size: int,
        **loader_kwargs: Any,
    ) -> None:
        sampler = _WindowSampler(
            len(dataset),
            shuffle=shuffle,
            seed=seed,
            generator=generator,
            rank=rank,
            world_size=world_size,
            drop_last=drop_last,
            batch_size=batch_size,
        )
        # Without workers on a machine with an accelerator, gather straight into pinned memory.
        dataset.pin_memory = bool(pin_memory) and num_workers == 0 and _accelerator_available()
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=num_workers,
            collate_fn=_batch_passthrough,
            pin_memory=pin_memory,
            generator=generator,
            **loader_kwargs,
        )
        # Position of the latest iterator: only it updates these (earlier ones are stale epochs).
        self._pos_serial = 0
        self._pos_batches = 0
        self._pos_epoch = 0

    @property
    def window_sampler(self) -> _WindowSampler:
        sampler = self.sampler
        assert isinstance(sampler, _WindowSampler)
        return sampler

    def __iter__(self) -> _CountingIterator:  # type: ignore[override]
        sampler = self.window_sampler
        self._pos_serial += 1
        self._pos_batches = sampler.pending[1] if sampler.pending is not None else 0
        self._pos_epoch = sampler.next_epoch  # the epoch this iterator's sampler pass will be
        if self.num_workers == 0:
            return _DirectIterator(self, self._pos_serial)  # type: ignore[return-value]
        return _CountingIterator(self, super().__iter__(), self._pos_serial)

    def _config(self) -> dict[str, Any]:
        s = self.window_sampler
        return {
            "n_windows": s.n_windows,
            "batch_size": s.batch_size,
            "drop_last": s.drop_last,
            "shuffle": s.shuffle,
            "mode": s.mode,
            "seed": s.seed,
            "rank": s.rank,
            "world_size": s.world_size,
        }

    def state_dict(self) -> dict[str, Any]:
        """Where this loader is: epoch, batches handed out in it, and what fixes its order (a copy).

        Save it with your checkpoint; ``load_state_dict`` on a loader built with the same arguments
        resumes with exactly the remaining batches. With no ``seed``/``generator`` later epochs draw
        from the global torch RNG, as the chapter's loader does; save and restore that too
        (``torch.get_rng_state()``) or pass ``seed`` for reproducible later epochs.

        >>> loader = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, seed=1)
        >>> it = iter(loader); first = next(it)
        >>> state = loader.state_dict()   # {'epoch': 0, 'batches': 1, ...}
        >>> resumed = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, seed=1)
        >>> resumed.load_state_dict(state)  # iter(resumed) yields batches 1, 2, ... of epoch 0
        """
        s = self.window_sampler
        started = s.current is not None and self._pos_serial > 0 and s.current[0] == self._pos_epoch
        if not started:
            record, batches = s.pending if s.pending is not None else (None, 0)
            epoch = s.next_epoch
        elif self._pos_batches >= len(self):
            record, batches, epoch = None, 0, self._pos_epoch + 1
        else:
            assert s.current is not None
            record, batches, epoch = s.current[1], self._pos_batches, self._pos_epoch
        if record is not None and "generator_state" in record:
            record = {"generator_state": record["generator_state"].clone()}
        state = {"version": _STATE_VERSION, "epoch": epoch, "batches": batches, "order": record, **self._config()}
        if s.generator is not None:
            # The generator also feeds later epochs and the DataLoader's base seeds: carry where it is now.
            generator_state = s.generator.get_state()
            if started and self._pos_batches >= len(self) and s.shuffle and not s.read_to_end:
                # All batches are out but the sampler was not yet read past its end, where RandomSampler
                # (and so ours) draws one more permutation: a loop over the loader will, so count it in.
                ahead = torch.Generator()
                ahead.set_state(generator_state)
                torch.randperm(s.n_windows, generator=ahead)
                generator_state = ahead.get_state()
            state["generator_state"] = generator_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continues from ``state`` (from ``state_dict()``) at the next ``iter(loader)``.

        Raises:
            ValueError: the state is from a loader with different data, batch size, shuffling,
                seed mode or rank layout, or is not a loader state.
        """
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError("not a GPTDataLoader state_dict (missing or unknown 'version')")
        config = self._config()
        for key in _CONFIG_KEYS:
            if state.get(key) != config[key]:
                raise ValueError(
                    f"state_dict was saved with {key}={state.get(key)!r}, but this loader has {key}={config[key]!r}; "
                    "build the loader with the same data and arguments to resume"
                )
        epoch, batches = state["epoch"], state["batches"]
        if not (isinstance(epoch, int) and epoch >= 0 and isinstance(batches, int) and 0 <= batches <= len(self)):
            raise ValueError(f"state_dict has an invalid position: epoch={epoch!r}, batches={batches!r}")
        s = self.window_sampler
        if s.generator is not None:
            if not isinstance(state.get("generator_state"), torch.Tensor):
                raise ValueError("state_dict lacks 'generator_state', which a loader with a generator needs")
            s.generator.set_state(state["generator_state"])
        s.next_epoch = epoch
        s.current = None
        s.pending = (state["order"], batches) if batches > 0 or state["order"] is not None else None
        self._pos_serial += 1  # any iterator already handed out no longer updates the position
        self._pos_batches = 0


def create_dataloader(
    txt: str | np.ndarray | torch.Tensor | Sequence[int] | os.PathLike[str],
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    *,
    tokenizer: Any = None,
    pin_memory: bool = False,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    dtype: Any = None,
    output_dtype: torch.dtype = torch.int64,
    **loader_kwargs: Any,
) -> GPTDataLoader:
    """The chapter's ``create_dataloader_v1``, batch for batch, with one C++ gather per batch.

    Under the same ``torch.manual_seed`` it yields exactly the batches ``create_dataloader_v1`` yields
    (shuffled or not): the same sampler draws from the same RNG at the same moments. Each batch is a
    list ``[inputs, targets]`` of two ``[batch_size, max_length]`` int64 tensors, like the chapter's.

    Args:
        txt: text, token ids or a token file; see ``GPTDataset``.
        batch_size: windows per batch.
        max_length: tokens per window (input row); targets are the same tokens shifted by one.
        stride: tokens between window starts; ``stride=max_length`` tiles the text with no overlap
            (not ``max_length + 1``, which skips a token between windows).
        shuffle: a new random window order every epoch.
        drop_last: drop a last, smaller batch (with ``world_size > 1``: also give every rank the
            same number of windows, so all ranks take the same number of steps).
        num_workers: worker processes (each maps a token file itself).
        tokenizer: for text; default GPT-2 with ``<|endoftext|>`` allowed.
        pin_memory: page-locked batches for faster copies to an accelerator.
        seed: shuffle with ``randperm`` seeded by ``seed + epoch`` instead of the global RNG:
            reproducible per epoch, the same on every rank. Default with ``world_size > 1``: 0.
        generator: a ``torch.Generator`` to shuffle with, exactly as ``DataLoader(generator=...)``.
        rank, world_size: data-parallel shard ``rank`` of ``world_size``: every ``world_size``-th
            window of the epoch's order, from position ``rank``. The ranks' shards are disjoint and,
            with ``drop_last=False``, cover every window exactly once per epoch (then ranks may differ
            by one batch); with ``drop_last=True`` each rank gets ``len(dataset) // world_size`` windows.
        dtype: token dtype of a raw token file.
        output_dtype: ``torch.int64`` (default) or ``torch.int32``.
        **loader_kwargs: passed to ``torch.utils.data.DataLoader`` (``persistent_workers``,
            ``prefetch_factor``, ``timeout``, ``worker_init_fn``, ``multiprocessing_context``, ...).

    Returns:
        A ``GPTDataLoader`` (a ``DataLoader`` with ``state_dict()`` / ``load_state_dict()``).

    Raises:
        ValueError: a non-positive batch_size, max_length or stride; text too short for one window
            (the message says how many tokens it has and needs); a bad rank/world_size.

    >>> torch.manual_seed(123)
    >>> loader = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False)
    >>> inputs, targets = next(iter(loader))
    >>> inputs[:2]
    tensor([[  40,  367, 2885, 1464],
            [1807, 3619,  402,  271]])
    """
    batch_size = _positive_int("batch_size", batch_size)
    num_workers = operator.index(num_workers)
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers}")
    for forbidden in ("sampler", "batch_sampler", "collate_fn", "batch_size", "shuffle"):
        if forbidden in loader_kwargs:
            raise TypeError(f"create_dataloader sets {forbidden} itself; it cannot be passed through")
    if seed is not None and generator is not None:
        raise ValueError("pass seed or generator, not both")
    if seed is not None:
        seed = operator.index(seed)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, not {type(generator).__name__}")
    world_size = 1 if world_size is None else _positive_int("world_size", world_size)
    rank = 0 if rank is None else operator.index(rank)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1} for world_size={world_size}, got {rank}")
    if world_size > 1 and shuffle and seed is None and generator is None:
        seed = 0  # every rank must shuffle alike; as DistributedSampler, a fixed default seed
    dataset = GPTDataset(txt, tokenizer, max_length, stride, dtype=dtype, output_dtype=output_dtype)
    if world_size > 1 and drop_last and len(dataset) < world_size:
        raise ValueError(f"{len(dataset)} windows cannot give each of {world_size} ranks one window")
    return GPTDataLoader(
        dataset,
        batch_size,
        shuffle=bool(shuffle),
        drop_last=bool(drop_last),
        num_workers=num_workers,
        pin_memory=bool(pin_memory),
        seed=seed,
        generator=generator,
        rank=rank,
        world_size=world_size,
        **loader_kwargs,
    )
