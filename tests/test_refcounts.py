"""No reference leaks in the bindings' results that LeakSanitizer cannot see.

The ASan run's leak check (sanitizers/lsan_at_exit.py) finds a leaked ``bytes``, ``str``, ``int`` or
numpy array, but not a leaked list, dict or tuple: the garbage collector's lists keep every object it
tracks reachable. Those are exactly what most bindings return, so here each call runs many times and
the number of objects the collector tracks must not grow; the argument's reference count must not
change either (a binding that keeps one reference to its input too many).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

import llmprep
import pytest

TEXT = "Hello, world! It's 2026 <|endoftext|> naïve café 😀 \n\n  spaces\ttabs " * 3
CALLS = 40


def encoding_calls(name: str) -> dict[str, Callable[[str], object]]:
    enc = llmprep.get_encoding(name)
    ids = enc.encode(TEXT, allowed_special="all")
    return {
        "encode": lambda text: enc.encode(text, allowed_special="all"),
        "encode_ordinary": enc.encode_ordinary,
        "encode_ordinary on 2 threads": lambda text: enc.encode_ordinary(text * 40, num_threads=2),
        "encode_batch": lambda text: enc.encode_batch([text, text[:7], ""], allowed_special="all"),
        "encode_to_numpy": lambda text: enc.encode_to_numpy(text, allowed_special="all"),
        "encode_with_unstable": lambda text: enc.encode_with_unstable(text, allowed_special="all"),
        "decode": lambda text: enc.decode(ids),
        "decode_bytes": lambda text: enc.decode_bytes(ids),
        "decode_tokens_bytes": lambda text: enc.decode_tokens_bytes(ids),
        "decode_with_offsets": lambda text: enc.decode_with_offsets(ids),
        "decode_batch": lambda text: enc.decode_batch([ids, ids[:3]]),
    }


def simple_calls() -> dict[str, Callable[[str], object]]:
    tok = llmprep.SimpleTokenizer.from_text(TEXT)
    ids = tok.encode(TEXT)
    return {
        "split": tok.split,
        "encode": tok.encode,
        "encode_batch": lambda text: tok.encode_batch([text, text[:5]], num_threads=2),
        "encode_to_numpy": tok.encode_to_numpy,
        "decode": lambda text: tok.decode(ids),
    }


ENCODING_CALLS = [
    "encode",
    "encode_ordinary",
    "encode_ordinary on 2 threads",
    "encode_batch",
    "encode_to_numpy",
    "encode_with_unstable",
    "decode",
    "decode_bytes",
    "decode_tokens_bytes",
    "decode_with_offsets",
    "decode_batch",
]
SIMPLE_CALLS = ["split", "encode", "encode_batch", "encode_to_numpy", "decode"]
CASES = [
    *((name, call) for name in ("gpt2", "cl100k_base") for call in ENCODING_CALLS),
    *(("simple", call) for call in SIMPLE_CALLS),
]


@pytest.mark.parametrize(("owner", "name"), CASES)
def test_calls_leave_no_objects_behind(owner: str, name: str) -> None:
    calls = simple_calls() if owner == "simple" else encoding_calls(owner)
    assert sorted(calls) == sorted(SIMPLE_CALLS if owner == "simple" else ENCODING_CALLS)
    call = calls[name]
    text = "".join(list(TEXT))  # a str of its own, whose reference count only this test changes
    for _ in range(3):  # caches fill on the first calls
        call(text)
    gc.collect()
    refs, tracked = sys.getrefcount(text), len(gc.get_objects())
    for _ in range(CALLS):
        call(text)
    gc.collect()
    assert sys.getrefcount(text) == refs, "a call keeps a reference to its argument"
    assert len(gc.get_objects()) - tracked < CALLS, "each call leaves a tracked object behind"
