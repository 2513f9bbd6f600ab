"""llmprep: fast, exact text-to-training-batch preprocessing for GPT-style language models.

The tokenizers and token-file tools import no torch, so tokenizing worker processes start fast;
the torch-based parts (datasets, data loaders, embedding modules) are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmprep._core import InvalidUTF8Error
from llmprep.encoding import (
    Encoding,
    TiktokenFallbackWarning,
    encoding_for_model,
    encoding_name_for_model,
    get_encoding,
    list_encoding_names,
)
from llmprep.simple import SimpleTokenizer
from llmprep.tokens import TokenFile, TokenFileError, open_tokens

if TYPE_CHECKING:  # for type checkers only: at run time these come from __getattr__ below
    from llmprep.data import GPTDataset, create_dataloader
    from llmprep.nn import GPTEmbedding, PositionalEmbedding, TokenEmbedding

__all__ = [
    "Encoding",
    "GPTDataset",
    "GPTEmbedding",
    "InvalidUTF8Error",
    "PositionalEmbedding",
    "SimpleTokenizer",
    "TiktokenFallbackWarning",
    "TokenEmbedding",
    "TokenFile",
    "TokenFileError",
    "__version__",
    "create_dataloader",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
    "open_tokens",
]

# Names served by modules that import torch, loaded on first access so that `import llmprep`
# stays torch-free: name -> module.
_LAZY = {
    "GPTDataset": "llmprep.data",
    "create_dataloader": "llmprep.data",
    "GPTEmbedding": "llmprep.nn",
    "TokenEmbedding": "llmprep.nn",
    "PositionalEmbedding": "llmprep.nn",
}


def __getattr__(name: str) -> object:
    if name == "__version__":
        # Read on first use: importlib.metadata was ~30 ms, a quarter of `import llmprep`.
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("llmprep")
        except PackageNotFoundError:  # running from a source tree that was never installed
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as e:
            if e.name != "torch":
                raise
            raise ModuleNotFoundError(
                f'llmprep.{name} needs PyTorch, which is not installed; install it with pip install "llmprep[torch]" '
                "(or pip install torch)",
                name="torch",
            ) from e
        return getattr(module, name)
    raise AttributeError(f"module 'llmprep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
