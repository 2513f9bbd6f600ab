"""UTF-8 validation and replacement in C++ against Python's own decoder."""

from __future__ import annotations

import codecs

import llmprep
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmprep import _core
from llmprep._core import _testing


def python_fault(data: bytes) -> tuple[int, int, str]:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start, e.end - e.start, e.reason
    return -1, 0, ""


# Byte strings that hit every branch of Table 3-7: truncations, overlongs, surrogates, > U+10FFFF.
TRICKY = [
    b"",
    b"abc",
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
    b"a\xe2\x82",
    b"a\xe2\x82b",
    b"\xf0\x9f\x98",
    b"\xf0\x9f\x98\x80\xf0\x9f",
    "héllo wörld ✓ 😀".encode() + b"\xe2\x28\xa1",
    b"12345678\x80abcdefgh",
]


@pytest.mark.parametrize("data", TRICKY)
def test_fault_matches_python(data: bytes) -> None:
    assert _testing.utf8_fault(data) == python_fault(data)


@pytest.mark.parametrize("data", TRICKY)
def test_replace_matches_python(data: bytes) -> None:
    assert _testing.replace_invalid_utf8(data) == data.decode("utf-8", "replace").encode("utf-8")


def test_every_two_byte_prefix_matches_python() -> None:
    # All 65,536 two-byte strings, each followed by a continuation byte and an ASCII byte.
    for b0 in range(256):
        for b1 in range(256):
            data = bytes([b0, b1, 0x80, 0x41])
            assert _testing.utf8_fault(data) == python_fault(data), data
            assert _testing.replace_invalid_utf8(data) == data.decode("utf-8", "replace").encode(), data


@given(st.binary(max_size=64))
def test_random_bytes_match_python(data: bytes) -> None:
    assert _testing.utf8_fault(data) == python_fault(data)
    assert _testing.replace_invalid_utf8(data) == data.decode("utf-8", "replace").encode("utf-8")


@given(
    st.lists(st.sampled_from([b"a", b"\x80", b"\xc3", b"\xa9", b"\xe2\x82", b"\xac", b"\xf0\x9f", b"\x98\x80", b" "]))
)
def test_fragment_soup_matches_python(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert _testing.utf8_fault(data) == python_fault(data)
    assert _testing.replace_invalid_utf8(data) == data.decode("utf-8", "replace").encode("utf-8")


def test_read_text_strict_names_file_and_offset(tmp_path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello \xff world")
    with pytest.raises(llmprep.InvalidUTF8Error, match=r"bad\.txt.*invalid start byte 0xff at byte offset 6") as info:
        _core.read_text(str(path), False)
    assert info.value.offset == 6
    assert info.value.reason == "invalid start byte"
    assert isinstance(info.value, ValueError)


def test_read_text_replace_matches_python(tmp_path) -> None:
    data = b"ok \xe2\x82 then \xed\xa0\x80 and \xf0\x9f\x98"
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    assert _core.read_text(str(path), True) == data.decode("utf-8", "replace")


def test_read_text_keeps_bom_like_python(tmp_path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"hi")
    assert _core.read_text(str(path), False) == path.read_text(encoding="utf-8")


def test_read_text_missing_file_is_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="cannot open"):
        _core.read_text(str(tmp_path / "nope.txt"), False)


def test_read_text_directory_is_os_error(tmp_path) -> None:
    with pytest.raises(OSError):
        _core.read_text(str(tmp_path), False)
