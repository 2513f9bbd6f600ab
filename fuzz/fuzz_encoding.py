"""Fuzz every llmprep encoding's encode calls against tiktoken's (same ids, same errors).

Input: one flag byte, then text (UTF-8; invalid bytes become lone surrogates, which both sides
must repair the same way). Each encoding of `_harness.ENCODING_NAMES` that both llmprep and
tiktoken load is checked: ``encode_ordinary``, ``encode`` under the special-token policy the
flags pick (default, all allowed, none disallowed, a subset allowed), ``encode_to_numpy``,
``encode_batch`` / ``encode_ordinary_batch`` of the text cut in three, ``encode_single_token``,
and the C++ encoder with tiny parallel tasks (``task_bytes``), whose cuts must not change the ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _harness import (
    check_equal,
    check_same_outcome,
    encoding_pairs,
    error_feature,
    feature,
    main,
    outcome,
    text_of,
    write_text_seeds,
)
from llmprep import _core

_PAIRS = encoding_pairs()


def _policy(flags: int, specials: list[str]) -> dict[str, Any]:
    mode = flags & 3
    if mode == 0:
        return {}
    if mode == 1:
        return {"allowed_special": "all"}
    if mode == 2:
        return {"disallowed_special": ()}
    chosen = {s for i, s in enumerate(specials) if (flags >> (4 + i % 4)) & 1}
    return {"allowed_special": chosen}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, text = data[0], text_of(data[1:])
    cut1, cut2 = sorted((len(text) * (flags >> 4) // 16, len(text) * (flags & 15) // 16))
    parts = [text[:cut1], text[cut1:cut2], text[cut2:]]
    threads = 1 + ((flags >> 2) & 1)
    for name, ours, ref in _PAIRS:
        kwargs = _policy(flags, sorted(ref.special_tokens_set))
        check_same_outcome(
            outcome(lambda: ours.encode_ordinary(text, num_threads=threads)),
            outcome(lambda: ref.encode_ordinary(text)),
            f"{name} encode_ordinary",
        )
        reference = outcome(lambda: ref.encode(text, **kwargs))
        ours_ids = outcome(lambda: ours.encode(text, **kwargs, num_threads=threads))
        check_same_outcome(ours_ids, reference, f"{name} encode {kwargs}")
        if reference[0] == "ok":
            for token in reference[1][:512]:
                feature(name, token)
        else:
            error_feature(name, reference[1])
        if reference[0] == "raise":
            # The message names the leftmost disallowed token, as tiktoken's does.
            check_equal(str(ours_ids[1]), str(reference[1]), f"{name} encode's error message")
        check_same_outcome(
            outcome(lambda: ours.encode_to_numpy(text, **kwargs).tolist()),
            # tiktoken's encode_to_numpy skips encode's surrogate repair (UnicodeEncodeError);
            # llmprep's is documented as encode's ids in an array.
            outcome(lambda: ref.encode(text, **kwargs)),
            f"{name} encode_to_numpy {kwargs}",
        )
        check_same_outcome(
            outcome(lambda: ours.encode_batch(parts, **kwargs, num_threads=threads)),
            outcome(lambda: [ref.encode(t, **kwargs) for t in parts]),
            f"{name} encode_batch {kwargs}",
        )
        check_same_outcome(
            outcome(lambda: ours.encode_ordinary_batch(parts, num_threads=threads)),
            outcome(lambda: [ref.encode_ordinary(t) for t in parts]),
            f"{name} encode_ordinary_batch",
        )
        if len(text) <= 64:
            check_same_outcome(
                outcome(lambda: ours.encode_single_token(text)),
                outcome(lambda: ref.encode_single_token(text)),
                f"{name} encode_single_token",
            )
        core = getattr(ours, "_core", None)
        if isinstance(core, _core.BpeEncoder) and reference[0] == "ok":
            # Cut into tasks of a few bytes at the encoder's safe points, on two threads.
            fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            task_bytes = 1 + (flags >> 3)
            check_equal(
                core.encode(fixed, [], 2, task_bytes),
                ref.encode_ordinary(text),
                f"{name} encode with task_bytes={task_bytes}",
            )


def write_seeds(folder: Path) -> None:
    """The sample texts under each special-token policy, and texts with lone surrogates."""
    write_text_seeds(
        folder, (0x00, 0x01, 0x06, 0x5B, 0xF3), [b"\x01a\xed\xa0\x80b\xed\xb0\x80c <|endoftext|>", b"\x00\xff\xfe x"]
    )


if __name__ == "__main__":
    main(test_one_input)
