"""Fuzz the C++ UTF-8 validator and decoder against Python's ``bytes.decode``.

Input: arbitrary bytes. ``_testing.utf8_fault`` must give Python's (offset, length, reason) of the
first ill-formed sequence, ``_testing.replace_invalid_utf8`` Python's ``errors="replace"`` result;
the file readers (``_core.read_text``, the chapter-splitter's ``simple_sorted_tokens_file``)
must raise `llmprep.InvalidUTF8Error` with Python's offset and reason in strict mode and decode
exactly as Python does in replace mode.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import llmprep
from _harness import SAMPLE_TEXTS, Mismatch, chapter, check_equal, feature, main
from llmprep import _core
from llmprep._core import _testing

_CH = chapter()
_DIR = Path(tempfile.mkdtemp(prefix="llmprep-fuzz-utf8-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
atexit.register(shutil.rmtree, _DIR, True)
_PATH = _DIR / "input.txt"


def test_one_input(data: bytes) -> None:
    try:
        data.decode("utf-8")
        fault = (-1, 0, "")
    except UnicodeDecodeError as e:
        fault = (e.start, e.end - e.start, e.reason)
    feature("fault", fault[1:], min(fault[0], 9))
    check_equal(_testing.utf8_fault(data), fault, "utf8_fault")
    replaced = data.decode("utf-8", "replace")
    check_equal(_testing.replace_invalid_utf8(data), replaced.encode("utf-8"), "replace_invalid_utf8")

    _PATH.write_bytes(data)
    path = str(_PATH)
    check_equal(_core.read_text(path, True), replaced, "read_text(replace)")
    words = sorted(set(_CH.chapter_split(replaced)))
    check_equal(_core.simple_sorted_tokens_file(path, True), words, "simple_sorted_tokens_file(replace)")
    if fault[0] < 0:
        check_equal(_core.read_text(path, False), replaced, "read_text(strict)")
        check_equal(_core.simple_sorted_tokens_file(path, False), words, "simple_sorted_tokens_file(strict)")
        return
    for what, call in (("read_text", _core.read_text), ("simple_sorted_tokens_file", _core.simple_sorted_tokens_file)):
        try:
            call(path, False)
        except llmprep.InvalidUTF8Error as e:
            check_equal((e.offset, e.reason), fault[::2], f"{what}(strict) error offset and reason")
            check_equal(f"at byte offset {fault[0]}" in str(e) and path in str(e), True, f"{what} message: {e}")
        else:
            raise Mismatch(f"{what}(strict) accepted invalid UTF-8 (Python: {fault})")


def write_seeds(folder: Path) -> None:
    """Every branch of the UTF-8 decoding table (truncations, overlongs, surrogates, > U+10FFFF)."""
    tricky = [
        b"\x80",
        b"\xc0\xaf",
        b"\xc2",
        b"\xe0\x80\x80",
        b"\xe0\xa0",
        b"\xed\xa0\x80",
        b"\xed\x9f\xbf",
        b"\xf0\x8f\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf4\x8f\xbf\xbf",
        b"\xf5",
        b"\xff\xfe",
        b"a\xe2\x82b",
        b"\xf0\x9f\x98\x80\xf0\x9f",
        b"12345678\x80abcdefgh",
        b"\xef\xbb\xbfBOM",
    ]
    for i, data in enumerate(tricky):
        (folder / f"tricky{i:02d}").write_bytes(data)
    for i, text in enumerate(SAMPLE_TEXTS[:6]):
        (folder / f"text{i:02d}").write_bytes(text.encode("utf-8"))


if __name__ == "__main__":
    main(test_one_input)
