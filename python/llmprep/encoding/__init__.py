"""tiktoken-compatible byte-pair encodings on llmprep's C++ encoder.

Split as tiktoken splits its Python side: `core` (the `Encoding` class), `load` (vocabulary files,
their URLs and sha256 hashes, tiktoken's cache), `registry` (the named encodings and
`get_encoding`), `model` (which encoding each model uses) and `patterns` (the pre-tokenization
patterns, and which run natively).
"""

from __future__ import annotations

from llmprep.encoding.core import Encoding, TiktokenFallbackWarning
from llmprep.encoding.model import encoding_for_model, encoding_name_for_model
from llmprep.encoding.patterns import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN
from llmprep.encoding.registry import get_encoding, list_encoding_names

__all__ = [
    "CL100K_PATTERN",
    "GPT2_PATTERN",
    "O200K_PATTERN",
    "Encoding",
    "TiktokenFallbackWarning",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
    "list_encoding_names",
]
