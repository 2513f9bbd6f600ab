"""Type stubs for llmprep._core, the private C++ extension. Keep in step with cpp/bindings/."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

class InvalidUTF8Error(ValueError):
    offset: int
    reason: str

def utf8_fault(data: bytes) -> tuple[int, int, str]: ...
def replace_invalid_utf8(data: bytes) -> bytes: ...
def read_text(path: str, replace: bool) -> str: ...

# windows (cpp/bindings/windows.cpp)
def window_count(n_tokens: int, max_length: int, stride: int) -> int: ...
def gather_windows(
    tokens: np.ndarray,
    max_length: int,
    stride: int,
    windows: np.ndarray | Sequence[int],
    inputs: np.ndarray,
    targets: np.ndarray,
    num_threads: int = 0,
) -> None: ...
def materialize_windows(
    tokens: np.ndarray, max_length: int, stride: int, int32: bool = False, num_threads: int = 0
) -> tuple[np.ndarray, np.ndarray]: ...
