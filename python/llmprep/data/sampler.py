"""The window order: epochs, the chapter's shuffling, the data-parallel split, and the resume state.

`WindowSampler` is the one owner of "where are we": the next epoch, the record that fixes an epoch's
order, and how many batches of the latest pass the consumer has received. Loaders and their
iterators only report (`WindowSampler.begin_pass`, `WindowSampler.delivered`) and ask
(`WindowSampler.state_dict`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

__all__ = ["WindowSampler"]

_STATE_VERSION = 1
_CONFIG_KEYS = ("n_windows", "batch_size", "drop_last", "shuffle", "mode", "seed", "rank", "world_size")


class _Pass:
    """One ``iter(loader)``: the epoch it reads and how many batches the consumer has received."""

    __slots__ = ("batches", "epoch")

    def __init__(self, epoch: int, batches: int) -> None:
        self.epoch = epoch
        self.batches = batches


class WindowSampler(Sampler[int]):
    """Window indices for one rank, one epoch at a time, and the state that resumes them.

    With one rank and no seed/generator it draws from the global torch RNG exactly as
    ``RandomSampler`` does (one int64 at the first index, then ``randperm`` with a private generator),
    so under the same ``torch.manual_seed`` the order equals the chapter's. With a ``generator`` it
    consumes that generator as ``RandomSampler`` does, including the extra ``randperm`` when an
    epoch is read to its end. With a ``seed``, epoch ``e`` uses ``randperm`` seeded with ``seed + e``
    (as ``DistributedSampler``): every rank computes the same permutation and takes every
    ``world_size``-th window from position ``rank``.

    >>> sampler = WindowSampler(10, shuffle=False, seed=None, generator=None, rank=1, world_size=2,
    ...                         drop_last=False, batch_size=2)
    >>> list(sampler), [b.tolist() for b in sampler.batches()]
    ([1, 3, 5, 7, 9], [[1, 3], [5, 7], [9]])
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
        self.read_to_end = False  # the current epoch's indices have been read past the last one
        self._latest: _Pass | None = None  # the latest pass; earlier ones are stale and not counted

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

    @property
    def n_batches(self) -> int:
        """Batches per epoch for this rank: ``len()`` of a DataLoader over this sampler."""
        n = len(self)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    # ----------------------------------------------------------------------------------------------
    # Orders.

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

    # ----------------------------------------------------------------------------------------------
    # Position and resume.

    def begin_pass(self) -> _Pass:
        """Registers a new pass (an ``iter(loader)``); from now on only it is counted."""
        self._latest = _Pass(self.next_epoch, self.pending[1] if self.pending is not None else 0)
        return self._latest

    def delivered(self, handle: _Pass) -> None:
        """The consumer received one more batch of pass ``handle`` (ignored unless it is the latest)."""
        if handle is self._latest:
            handle.batches += 1

    def config(self) -> dict[str, Any]:
        """What fixes the order besides the position: a resumed sampler must have the same."""
        return {
            "n_windows": self.n_windows,
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "shuffle": self.shuffle,
            "mode": self.mode,
            "seed": self.seed,
            "rank": self.rank,
            "world_size": self.world_size,
        }

    def state_dict(self) -> dict[str, Any]:
        """Epoch, batches received in it, the record fixing its order, and `config` (a copy)."""
        latest = self._latest
        finished = False  # the latest pass handed out its epoch's last batch
        record: dict[str, Any] | None
        if self.current is None or latest is None or self.current[0] != latest.epoch:  # not started
            record, batches = self.pending if self.pending is not None else (None, 0)
            epoch = self.next_epoch
        elif latest.batches >= self.n_batches:
            record, batches, epoch, finished = None, 0, latest.epoch + 1, True
        else:
            record, batches, epoch = self.current[1], latest.batches, latest.epoch
        if record is not None and "generator_state" in record:
            record = {"generator_state": record["generator_state"].clone()}
        state = {"version": _STATE_VERSION, "epoch": epoch, "batches": batches, "order": record, **self.config()}
        if self.generator is not None:
            # The generator also feeds later epochs and the DataLoader's base seeds: carry where it is now.
            generator_state = self.generator.get_state()
            if finished and self.shuffle and not self.read_to_end:
                # All batches are out but the sampler was not yet read past its end, where RandomSampler
                # (and so this sampler) draws one more permutation: a loop over the loader will, so count it in.
                ahead = torch.Generator()
                ahead.set_state(generator_state)
                torch.randperm(self.n_windows, generator=ahead)
                generator_state = ahead.get_state()
            state["generator_state"] = generator_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continues from ``state`` (from `state_dict`) at the next pass.

        Raises:
            ValueError: the state is from a sampler with different windows, batch size, shuffling,
                seed mode or rank layout, or is not a loader state.
        """
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            raise ValueError("not a GPTDataLoader state_dict (missing or unknown 'version')")
        config = self.config()
        for key in _CONFIG_KEYS:
            if state.get(key) != config[key]:
                raise ValueError(
                    f"state_dict was saved with {key}={state.get(key)!r}, but this loader has {key}={config[key]!r}; "
                    "build the loader with the same data and arguments to resume"
                )
        epoch, batches = state["epoch"], state["batches"]
        if not (isinstance(epoch, int) and epoch >= 0 and isinstance(batches, int) and 0 <= batches <= self.n_batches):
            raise ValueError(f"state_dict has an invalid position: epoch={epoch!r}, batches={batches!r}")
        if self.generator is not None:
            if not isinstance(state.get("generator_state"), torch.Tensor):
                raise ValueError("state_dict lacks 'generator_state', which a loader with a generator needs")
            self.generator.set_state(state["generator_state"])
        self.next_epoch = epoch
        self.current = None
        self.pending = (state["order"], batches) if batches > 0 or state["order"] is not None else None
        self._latest = None  # any pass already handed out no longer counts
