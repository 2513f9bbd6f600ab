"""Type stubs for llmprep._core._testing: the extension's test and inspection hooks.

For tests, fuzzers and benchmarks only: the package never calls them and they may change at any
time. Keep in step with the testing.def(...) calls in cpp/bindings/.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from llmprep._core import BpeEncoder

# UTF-8 (cpp/bindings/text.cpp).
def utf8_fault(data: bytes) -> tuple[int, int, str]: ...
def replace_invalid_utf8(data: bytes) -> bytes: ...

# Pre-tokenizers (cpp/bindings/pretokenize.cpp), pattern "gpt2" | "cl100k_base" | "o200k_base";
# offsets are UTF-8 byte offsets. And the Unicode classes they use.
def pretokenize(text: str, pattern: str = "gpt2") -> list[str]: ...
def pretokenize_ends_scalar(text: str, pattern: str = "gpt2") -> npt.NDArray[np.int64]: ...
def safe_cuts(text: str, pattern: str = "gpt2") -> npt.NDArray[np.int64]: ...
def next_safe_cut(text: str, pos: int, pattern: str = "gpt2") -> int: ...
def unicode_class_table() -> npt.NDArray[np.uint8]: ...
def unicode_fine_class_table() -> npt.NDArray[np.uint8]: ...

# The thread fan-out (cpp/bindings/parallel.cpp): i*3+1 (+28 nested) for i < n through
# parallel_for / parallel_tasks / parallel_tasks_ordered ("for" | "tasks" | "ordered").
def parallel_probe(
    kind: str,
    n: int,
    num_threads: int,
    fail_work: list[int],
    fail_consume_at: int,
    nested: bool,
    consumed: list[int],
) -> list[int]: ...

# CRC-32C (cpp/bindings/checksum.cpp): whether crc32c uses the CPU's crc32 instruction here.
def crc32c_hardware() -> bool: ...

# The BPE piece cache (cpp/bindings/bpe.cpp): the process-wide cap on one thread's table (bytes) and
# huge-page use, for tables grown from now on (returns the settings before); and the calling
# thread's cache for one encoder (all zero when the thread's cache serves another encoder).
def piece_cache_settings(max_table_bytes: int | None = None, huge_pages: bool | None = None) -> tuple[int, bool]: ...
def piece_cache_stats(encoder: BpeEncoder) -> dict[str, int | bool]: ...

# Locks (True) or unlocks (False) the mutex of the kept learned piece caches, on the calling thread,
# so that a test can fork while it is held.
def hold_learned_caches_lock(hold: bool) -> None: ...
