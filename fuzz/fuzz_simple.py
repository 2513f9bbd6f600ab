"""Fuzz `llmprep.SimpleTokenizer` (split, vocabulary, encode, decode) against the chapter's code.

Input: one flag byte, then text (UTF-8; invalid bytes become lone surrogates). The vocabulary is
built from the first half of the text as the chapter builds it; the whole text is encoded, so
words of the second half may be unknown (V1: ``KeyError`` naming the word, V2: ``<|unk|>``).
The flag byte picks V1/V2 and shifts the ids so that uint16, uint32 and int64 storage all run.
Lone surrogates must give ``ValueError`` (documented), everything else the chapter's result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _harness import (
    Mismatch,
    chapter,
    check_equal,
    check_key_error,
    check_same_outcome,
    error_feature,
    feature,
    has_surrogates,
    main,
    outcome,
    text_of,
    write_text_seeds,
)
from llmprep import SimpleTokenizer

_CH = chapter()
# Id shifts: the chapter's 0..n-1 (uint16), past 65535 (uint32), negative (int64). (Not past
# 2**32: SimpleTokenizerCore caches a Python int per id up to the largest, up to 2**20 of them,
# which made such vocabularies cost 0.5 s each to build.)
_SHIFTS = (0, 70_000, -(2**40), 0)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    flags, text = data[0], text_of(data[1:])
    v2 = bool(flags & 1)
    shift = _SHIFTS[(flags >> 1) & 3]
    reverse = (flags >> 1) & 3 == 3
    vocab_text = text[: len(text) // 2]
    surrogates = has_surrogates(text)

    # split
    ours_split = outcome(lambda: SimpleTokenizer({}).split(text))
    if surrogates:
        _expect_value_error(ours_split, "split")
    else:
        check_same_outcome(ours_split, ("ok", _CH.chapter_split(text)), "split")

    # vocabulary
    specials = ("<|endoftext|>", "<|unk|>") if v2 else ()
    unknown = "unk" if v2 else "error"
    built = outcome(lambda: SimpleTokenizer.from_text(vocab_text, specials, unknown))
    if has_surrogates(vocab_text):
        _expect_value_error(built, "from_text")
        return
    if not _CH.chapter_split(vocab_text):
        _expect_value_error(built, "from_text on text without tokens")
        return
    if built[0] == "raise":
        raise built[1]
    reference_vocab = _CH.chapter_vocab(vocab_text, specials)
    check_equal(dict(built[1].vocab), reference_vocab, "from_text vocabulary")

    # The same vocabulary with other ids: a different dtype and id -> word table.
    n = len(reference_vocab)
    vocab = {w: (n - 1 - i if reverse else i + shift) for w, i in reference_vocab.items()}
    tok = SimpleTokenizer(vocab, unknown)
    ref = (_CH.SimpleTokenizerV2 if v2 else _CH.SimpleTokenizerV1)(vocab)

    # encode, encode_to_numpy, encode_batch
    ours = outcome(lambda: tok.encode(text))
    if surrogates:
        _expect_value_error(ours, "encode")
        _expect_value_error(outcome(lambda: tok.encode_batch([vocab_text, text])), "encode_batch")
        return
    reference = outcome(lambda: ref.encode(text))
    if reference[0] == "ok":
        feature("encoded", v2, min(len(reference[1]), 32), len(set(reference[1])) == len(reference[1]))
    else:
        error_feature("encode", reference[1])
    check_same_outcome(ours, reference, "encode")
    if reference[0] == "raise":
        check_key_error(ours[1], reference[1])
    as_numpy = outcome(lambda: tok.encode_to_numpy(text).tolist())
    check_same_outcome(as_numpy, reference, "encode_to_numpy")
    if as_numpy[0] == "ok":
        check_equal(tok.encode_to_numpy(text).dtype, tok.dtype, "encode_to_numpy's dtype")
    halves = [vocab_text, text[len(vocab_text) :], text]
    batch = outcome(lambda: tok.encode_batch(halves, num_threads=1 + (flags >> 7)))
    check_same_outcome(batch, outcome(lambda: [ref.encode(t) for t in halves]), "encode_batch")

    # decode: the ids just encoded, and ids drawn from the text (some unknown to the vocabulary)
    if reference[0] == "ok":
        ids = reference[1]
        check_same_outcome(outcome(lambda: tok.decode(ids)), outcome(lambda: ref.decode(ids)), "decode(encode)")
        check_same_outcome(
            outcome(lambda: tok.decode(np.array(ids, dtype=np.int64))),
            outcome(lambda: ref.decode(ids)),
            "decode(numpy)",
        )
    drawn = [(ord(c) % (n + 2)) + (0 if reverse else shift) for c in text[:64]]
    check_same_outcome(outcome(lambda: tok.decode(drawn)), outcome(lambda: ref.decode(drawn)), "decode(drawn ids)")


def _expect_value_error(result: tuple[str, object], what: str) -> None:
    if result[0] == "ok" or not isinstance(result[1], ValueError):
        raise Mismatch(f"{what} of a text with a lone surrogate should raise ValueError, got {result}")


def write_seeds(folder: Path) -> None:
    """The sample texts as V1 and V2 with every id layout, and texts with lone surrogates."""
    write_text_seeds(folder, (0x00, 0x01, 0x03, 0x05, 0x07, 0x80), [b"\x01abc \xed\xa0\x80 def", b"\x00ab\xff cd ab"])


if __name__ == "__main__":
    main(test_one_input)
