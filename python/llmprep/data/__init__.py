"""Training batches from token ids: ``GPTDataset`` and ``create_dataloader`` (section 2.6 of the chapter).

The package that imports torch, in three layers:

- `llmprep.sources` (no torch): where the ids live: an array, a token file, or a set of shards read
  as one file; each pickles by path and maps its files itself in every process;
- ``dataset``: `GPTDataset`, windows over a token source, cut on demand in C++ (one gather per batch,
  into recycled buffers: ``buffers``);
- ``sampler``: `WindowSampler`, the order (the chapter's shuffling, the data-parallel split) and the
  one owner of the position: epoch, order record, batches handed out (``state_dict``);
- ``loader``: `GPTDataLoader` and ``create_dataloader``, which wire these to torch's ``DataLoader``
  and delegate ``state_dict`` to the sampler. ``create_dataloader`` yields exactly the batches of the
  chapter's ``create_dataloader_v1`` under the same ``torch.manual_seed``.

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

from llmprep.data.buffers import _BatchBuffers as _BatchBuffers  # for the buffer-pool tests
from llmprep.data.dataset import GPTDataset
from llmprep.data.loader import GPTDataLoader, create_dataloader
from llmprep.data.sampler import WindowSampler
from llmprep.sources import SUPPORTED_TOKEN_DTYPES, default_tokenizer

__all__ = [
    "SUPPORTED_TOKEN_DTYPES",
    "GPTDataLoader",
    "GPTDataset",
    "WindowSampler",
    "create_dataloader",
    "default_tokenizer",
]
