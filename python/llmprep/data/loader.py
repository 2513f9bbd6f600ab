"""The loader: ``create_dataloader`` and `GPTDataLoader`, a ``DataLoader`` that delegates.

The dataset gathers batches; the sampler (`WindowSampler`) decides the order and owns the position;
the loader wires them to ``torch.utils.data.DataLoader`` (or, without workers, to a direct iterator
with the same RNG draws) and tells the sampler when a batch has reached the consumer.
"""

from __future__ import annotations

import operator
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from llmprep.data.dataset import GPTDataset
from llmprep.data.sampler import WindowSampler, _Pass
from llmprep.sources import positive_int

__all__ = ["GPTDataLoader", "create_dataloader"]


def _batch_passthrough(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    """collate_fn for GPTDataset: ``__getitems__`` already returns the finished batch."""
    return batch


def _accelerator_available() -> bool:
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return bool(torch.cuda.is_available())


class _CountingIterator:
    """Wraps a DataLoader iterator and tells the sampler each time a batch reaches the consumer."""

    def __init__(self, sampler: WindowSampler, inner: Iterator[list[torch.Tensor]], handle: _Pass) -> None:
        self._sampler = sampler
        self._inner = inner
        self._handle = handle

    def __iter__(self) -> _CountingIterator:
        return self

    def __next__(self) -> list[torch.Tensor]:
        batch = next(self._inner)
        self._sampler.delivered(self._handle)
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

    def __init__(self, loader: GPTDataLoader, handle: _Pass) -> None:
        if loader.pin_memory and not _accelerator_available():
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, "
                "then device pinned memory won't be used.",
                stacklevel=3,
            )
        torch.empty((), dtype=torch.int64).random_(generator=loader.generator)  # DataLoader's base seed
        self._sampler = loader.window_sampler
        self._dataset: GPTDataset = loader.dataset  # type: ignore[assignment]
        self._batches = self._sampler.batches()
        self._handle = handle
        self._length = len(loader)

    def __iter__(self) -> _DirectIterator:
        return self

    def __next__(self) -> list[torch.Tensor]:
        batch = self._dataset._gather(next(self._batches))
        self._sampler.delivered(self._handle)
        return batch

    def __len__(self) -> int:
        return self._length


class GPTDataLoader(DataLoader[tuple[torch.Tensor, torch.Tensor]]):
    """A ``DataLoader`` over a ``GPTDataset`` with one C++ gather per batch, sharding and exact resume.

    Made by ``create_dataloader``; see there. Iterating it creates a new epoch each time (a new order
    when shuffling, with no ``set_epoch`` call). The position lives in its sampler
    (``window_sampler``, a `WindowSampler`): ``state_dict()`` records the epoch and how many batches
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
        sampler = WindowSampler(
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

    @property
    def window_sampler(self) -> WindowSampler:
        """The sampler: the order, the rank's share, and the position (`WindowSampler.state_dict`)."""
        sampler = self.sampler
        assert isinstance(sampler, WindowSampler)
        return sampler

    def __iter__(self) -> Iterator[list[torch.Tensor]]:  # type: ignore[override]
        handle = self.window_sampler.begin_pass()
        if self.num_workers == 0:
            return _DirectIterator(self, handle)
        return _CountingIterator(self.window_sampler, super().__iter__(), handle)

    def state_dict(self) -> dict[str, Any]:
        """Where this loader is: epoch, batches handed out in it, and what fixes its order (a copy).

        Save it with your checkpoint; ``load_state_dict`` on a loader built with the same arguments
        resumes with exactly the remaining batches. With no ``seed``/``generator`` later epochs draw
        from the global torch RNG, as the chapter's loader does; save and restore that too
        (``torch.get_rng_state()``) or pass ``seed`` for reproducible later epochs.

        >>> loader = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, seed=1)
        >>> it = iter(loader); first = next(it)
        >>> state = loader.state_dict()
        >>> state["epoch"], state["batches"], state["order"]
        (0, 1, {'seed': 1})
        >>> resumed = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, seed=1)
        >>> resumed.load_state_dict(state)  # iter(resumed) yields batches 1, 2, ... of epoch 0
        >>> torch.equal(next(iter(resumed))[0], next(it)[0])
        True
        """
        return self.window_sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continues from ``state`` (from ``state_dict()``) at the next ``iter(loader)``.

        Raises:
            ValueError: the state is from a loader with different data, batch size, shuffling,
                seed mode or rank layout, or is not a loader state.
        """
        self.window_sampler.load_state_dict(state)


def create_dataloader(
    txt: str | np.ndarray | torch.Tensor | Sequence[int] | Sequence[os.PathLike[str]] | os.PathLike[str],
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
        txt: text, token ids, a token file, or a set of token files (a list of ``Path`` or a folder),
            read as the file ``llmprep merge`` would make of them; see ``GPTDataset``.
        batch_size: windows per batch.
        max_length: tokens per window (input row); targets are the same tokens shifted by one.
        stride: tokens between window starts; ``stride=max_length`` tiles the text with no overlap
            (not ``max_length + 1``, which skips a token between windows).
        shuffle: a new random window order every epoch.
        drop_last: drop a last, smaller batch (with ``world_size > 1``: also give every rank the
            same number of windows, so all ranks take the same number of steps).
        num_workers: worker processes (each maps a token file itself).
        tokenizer: for text: an encoding name (``"gpt2"``), an ``llmprep.Encoding``, a tiktoken
            ``Encoding``, a ``SimpleTokenizer`` or anything with ``encode``; default GPT-2, with
            ``<|endoftext|>`` allowed.
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

    >>> _ = torch.manual_seed(123)
    >>> loader = create_dataloader(raw_text, batch_size=8, max_length=4, stride=4, shuffle=False)
    >>> inputs, targets = next(iter(loader))
    >>> inputs[:2]
    tensor([[  40,  367, 2885, 1464],
            [1807, 3619,  402,  271]])
    """
    batch_size = positive_int("batch_size", batch_size)
    if isinstance(num_workers, bool):
        raise TypeError("num_workers must be an int, not bool")
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
    world_size = 1 if world_size is None else positive_int("world_size", world_size)
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
