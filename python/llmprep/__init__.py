"""llmprep: fast, exact text-to-training-batch preprocessing for GPT-style language models.

The tokenizers and token-file tools import no torch, so tokenizing worker processes start fast;
the torch-based parts (datasets, data loaders, embedding modules) are imported on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from llmprep._core import InvalidUTF8Error
from llmprep.encoding import Encoding, get_encoding
from llmprep.simple import SimpleTokenizer
from llmprep.tokens import TokenFile, TokenFileError, open_tokens

try:
    __version__ = version("llmprep")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Encoding",
    "InvalidUTF8Error",
    "SimpleTokenizer",
    "TokenFile",
    "TokenFileError",
    "__version__",
    "get_encoding",
    "open_tokens",
]
