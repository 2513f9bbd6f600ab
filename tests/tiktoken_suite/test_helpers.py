# Ported from openai/tiktoken 0.14.0 tests/test_helpers.py: llmprep stands in for tiktoken (the import), and
# test_helpers.py lists every encoding llmprep supports; the assertions are unchanged.
import functools
import os

import llmprep as tiktoken
import pytest

MAX_EXAMPLES: int = int(os.environ.get("TIKTOKEN_MAX_EXAMPLES", "100"))

# tiktoken: ENCODINGS = ["r50k_base", "cl100k_base"]; SOME_ENCODINGS = ["cl100k_base"].
ENCODINGS = tiktoken.list_encoding_names()
SOME_ENCODINGS = ENCODINGS


ENCODING_FACTORIES = [pytest.param(functools.partial(tiktoken.get_encoding, name), id=name) for name in ENCODINGS]
SOME_ENCODING_FACTORIES = [
    pytest.param(functools.partial(tiktoken.get_encoding, name), id=name) for name in SOME_ENCODINGS
]
