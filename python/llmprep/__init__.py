"""llmprep: fast, exact text-to-training-batch preprocessing for GPT-style language models.

The tokenizers and token-file tools import no torch, so tokenizing worker processes start fast;
the torch-based parts (datasets, data loaders, embedding modules) are imported on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from llmprep._core import InvalidUTF8Error
from llmprep.simple import SimpleTokenizer

try:
    __version__ = version("llmprep")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "GPTDataset",
    "InvalidUTF8Error",
    "SimpleTokenizer",
    "__version__",
    "create_dataloader",
]

# Names served by llmprep.data, which imports torch: loaded on first access, so `import llmprep`
# stays torch-free.
_DATA_NAMES = frozenset({"GPTDataset", "create_dataloader"})


def __getattr__(name: str):
    if name in _DATA_NAMES:
        from llmprep import data

        return getattr(data, name)
    raise AttributeError(f"module 'llmprep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _DATA_NAMES)
