"""Type stubs for llmprep._core, the private C++ extension. Keep in step with cpp/bindings/."""

from __future__ import annotations

class InvalidUTF8Error(ValueError):
    offset: int
    reason: str

def utf8_fault(data: bytes) -> tuple[int, int, str]: ...
def replace_invalid_utf8(data: bytes) -> bytes: ...
def read_text(path: str, replace: bool) -> str: ...
