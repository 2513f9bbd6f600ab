"""`GPTDataset`: input/target windows over a token source (`llmprep.sources`), cut on demand in C++."""

from __future__ import annotations

import operator
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from llmprep import _core
from llmprep.data.buffers import _BatchBuffers
from llmprep.sources import TokenSource, check_num_threads, open_source, positive_int

__all__ = ["GPTDataset"]

_OUTPUT_DTYPES = (torch.int64, torch.int32)
# Allocates a CPU storage in shared memory (what default_collate uses in workers); private, so optional.
_NEW_SHARED = getattr(torch.UntypedStorage, "_new_shared", None)


class GPTDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Input/target windows over token ids, cut on demand in C++: the chapter's ``GPTDatasetV1``, faster.

    Holds only a token source (`llmprep.sources`): the token ids (uint16 for GPT-2 text: 2 bytes a
    token), or the path of a token file, or the paths of a set of shards, each memory-mapped on first
    use in each process; no per-window Python objects. Window ``i`` is tokens
    ``[i * stride, i * stride + max_length)`` and its target the same span shifted one token right, so
    ``dataset[i]`` equals ``GPTDatasetV1(...)[i]`` for the same text and arguments.

    Args:
        source: text (``str``, encoded with ``tokenizer``); token ids (a 1-D C-contiguous numpy array
            of uint16, uint32, int32 or int64, including ``np.memmap``; a CPU tensor; a list of ints);
            a ``pathlib.Path`` to a token file (llmprep format, raw with its ``.json`` sidecar, or raw
            with ``dtype``); a list of ``Path`` or a ``Path`` to a folder of token files, read as the
            one file ``llmprep merge`` would make of them (see `llmprep.sources.open_shards`). A ``str``
            is always text; a ``str`` naming an existing file is refused (pass ``Path(name)``).
        tokenizer: for text only: an encoding name (``"gpt2"``), an ``llmprep.Encoding`` or tiktoken
            ``Encoding`` (encoded with ``encode_to_numpy``), a ``SimpleTokenizer``, or anything with
            ``encode(text, allowed_special=...)`` or ``encode(text)``. Default: GPT-2, with
            ``<|endoftext|>`` allowed, as in the chapter.
        max_length: tokens per input row (the context length).
        stride: tokens between the starts of consecutive windows. ``stride = max_length`` tiles the
            text without overlap; smaller strides overlap, larger ones skip tokens.
        dtype: the token dtype of a raw token file (``np.uint16`` for nanoGPT's ``.bin`` files).
        output_dtype: ``torch.int64`` (default; what ``nn.Embedding`` wants) or ``torch.int32``.

    Raises:
        ValueError: max_length or stride not positive; fewer than ``max_length + 1`` tokens (the chapter
            would silently yield nothing); negative ids in an in-memory signed array; a file whose size
            does not fit its dtype, or a text file given as a token file; shards of different dtypes.
        TypeError: an unsupported source type or token dtype; a file name given as a ``str``.

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
        source: str | np.ndarray | torch.Tensor | Sequence[int] | Sequence[os.PathLike[str]] | os.PathLike[str],
        tokenizer: Any = None,
        max_length: int = 256,
        stride: int = 128,
        *,
        dtype: Any = None,
        output_dtype: torch.dtype = torch.int64,
    ) -> None:
        self.max_length = positive_int("max_length", max_length)
        self.stride = positive_int("stride", stride)
        if output_dtype not in _OUTPUT_DTYPES:
            raise TypeError(f"output_dtype must be torch.int64 or torch.int32, not {output_dtype}")
        self.output_dtype = output_dtype
        self._numpy_output_dtype = np.int64 if output_dtype == torch.int64 else np.int32
        self._itemsize = 8 if output_dtype == torch.int64 else 4
        self._source: TokenSource = open_source(source, tokenizer, dtype)
        self._what = self._source.describe()
        self.n_tokens = len(self._source)
        self._len = _core.window_count(self.n_tokens, self.max_length, self.stride)
        if self._len == 0:
            raise ValueError(
                f"{self._what} has {self.n_tokens} tokens, but one window of max_length={self.max_length} needs "
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
    def source(self) -> TokenSource:
        """Where the ids live: an ``ArraySource``, ``FileSource`` or ``ShardSet`` (`llmprep.sources`)."""
        return self._source

    @property
    def tokens(self) -> np.ndarray:
        """The token ids (a view: the caller's array, or this process's memmap of the file).

        Raises:
            ValueError: for a shard set, which has no single array (use ``source.read(start, stop)``).
        """
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
        self._source.gather(
            self.max_length, self.stride, [i], inputs.numpy().reshape(1, -1), targets.numpy().reshape(1, -1)
        )
        return inputs, targets

    def __getitems__(self, indices: Sequence[int]) -> list[torch.Tensor]:
        """A whole batch, ``[inputs, targets]``, each ``[len(indices), max_length]``: one C++ gather (a copy).

        PyTorch's DataLoader calls this instead of ``__getitem__`` once per batch. Indices must be in
        ``[0, len(self))``.
        """
        return self._gather(indices)

    def windows(self, num_threads: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """All windows as two new ``[len(self), max_length]`` tensors (a copy; large corpora need a lot of memory).

        Args:
            num_threads: threads for the copy; None: ``LLMPREP_NUM_THREADS`` or all cores.
        """
        inputs, targets = self._source.materialize(
            self.max_length, self.stride, self.output_dtype == torch.int32, check_num_threads(num_threads)
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
            both = torch.empty(0, dtype=self.output_dtype).set_(
                storage, 0, (2, *shape), (rows * self.max_length, self.max_length, 1)
            )
            inputs, targets = both[0], both[1]
            out_inputs, out_targets = inputs.numpy(), targets.numpy()
        else:
            # numpy buffers wrapped by torch.from_numpy (a third of the cost of torch.empty + .numpy()),
            # recycled once nothing the caller holds can see them (see llmprep.data.buffers).
            out_inputs, out_targets = self._spare.take(shape, self._numpy_output_dtype)
            inputs, targets = torch.from_numpy(out_inputs), torch.from_numpy(out_targets)
        self._source.gather(self.max_length, self.stride, indices, out_inputs, out_targets)
        return [inputs, targets]

    def __repr__(self) -> str:
        return (
            f"GPTDataset({self._what}: {self.n_tokens} tokens, max_length={self.max_length}, "
            f"stride={self.stride}, {self._len} windows)"
        )
