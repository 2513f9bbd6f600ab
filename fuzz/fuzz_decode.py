"""Fuzz every llmprep encoding's decode calls with random ids against tiktoken's.

Input: one flag byte, then ids of three bytes each (little-endian): an id is the value modulo
``n_vocab + 64`` (so some ids are unknown), or, with flag bit 0 and the value's top bit set, one
of the extremes (negative, 2**32, 2**64). For ids in 0..2**32-1 llmprep must give tiktoken's
bytes or raise the same exception class; ids outside it (which tiktoken rejects with
OverflowError while converting) may raise KeyError, OverflowError or ValueError, never crash.
Numpy input (uint32, int64) must decode as the list does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _harness import SAMPLE_TEXTS, Mismatch, check_same_outcome, encoding_pairs, error_feature, feature, main, outcome

_PAIRS = encoding_pairs()
_EXTREMES = (-1, 2**32 - 1, 2**32, 2**63 - 1, 2**64, -(2**63))
_ERRORS = ("replace", "strict", "ignore", "backslashreplace")


def _ids(data: bytes, n_vocab: int, extremes: bool) -> list[int]:
    ids = []
    for i in range(0, len(data) - 2, 3):
        value = int.from_bytes(data[i : i + 3], "little")
        if extremes and value >> 23:
            ids.append(_EXTREMES[value % len(_EXTREMES)])
        else:
            ids.append(value % (n_vocab + 64))
    return ids


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, body = data[0], data[1:]
    errors = _ERRORS[(flags >> 1) & 3]
    for name, ours, ref in _PAIRS:
        ids = _ids(body, ref.n_vocab, bool(flags & 1))
        in_range = all(0 <= i < 2**32 for i in ids)
        calls = {
            "decode_bytes": (lambda: ours.decode_bytes(ids), lambda: ref.decode_bytes(ids)),
            f"decode(errors={errors!r})": (lambda: ours.decode(ids, errors), lambda: ref.decode(ids, errors)),
            "decode_tokens_bytes": (lambda: ours.decode_tokens_bytes(ids), lambda: ref.decode_tokens_bytes(ids)),
        }
        if ids:
            calls["decode_single_token_bytes"] = (
                lambda: ours.decode_single_token_bytes(ids[0]),
                lambda: ref.decode_single_token_bytes(ids[0]),
            )
        for what, (our_call, ref_call) in calls.items():
            ours_result = outcome(our_call)
            if ours_result[0] == "raise":
                error_feature(f"{name} {what}", ours_result[1])
            elif isinstance(ours_result[1], bytes):
                try:
                    ours_result[1].decode("utf-8")
                except UnicodeDecodeError as e:
                    feature(name, what, e.reason, e.end - e.start)
            if in_range or (what == "decode_single_token_bytes" and 0 <= ids[0] < 2**32):
                check_same_outcome(ours_result, outcome(ref_call), f"{name} {what}")
            elif ours_result[0] == "ok" or not isinstance(ours_result[1], (KeyError, OverflowError, ValueError)):
                raise Mismatch(f"{name} {what} of ids outside 0..2**32-1 gave {ours_result}")
        if in_range:
            as_list = outcome(lambda: ours.decode_bytes(ids))
            for dtype in (np.uint32, np.int64):
                array = np.array(ids, dtype=dtype)
                check_same_outcome(outcome(lambda: ours.decode_bytes(array)), as_list, f"{name} decode_bytes({dtype})")


def write_seeds(folder: Path) -> None:
    """GPT-2 ids of the sample texts (three bytes each), and a few ids at the edges."""
    ref = next(ref for name, _, ref in _PAIRS if name == "gpt2")
    for i, text in enumerate(SAMPLE_TEXTS):
        ids = ref.encode(text, allowed_special="all")
        body = b"".join(t.to_bytes(3, "little") for t in ids)
        (folder / f"text{i:02d}").write_bytes(bytes([2 * (i % 4)]) + body)
    edges = [0, 255, 50255, 50256, 50257, 100255, 100256, 100257, 199997, 199998, 0xFFFFFF]
    (folder / "edges").write_bytes(b"\x01" + b"".join(t.to_bytes(3, "little") for t in edges))
    (folder / "split-character").write_bytes(b"\x02" + b"".join(t.to_bytes(3, "little") for t in [6353, 162, 245]))


if __name__ == "__main__":
    main(test_one_input)
