"""Fuzz the C++ parser of GPT-2's data-gym files (``vocab.bpe`` + ``encoder.json``).

Input: the ``vocab.bpe`` contents, `SEPARATOR`, the ``encoder.json`` contents (without the
separator the whole input is ``vocab.bpe`` and ``encoder.json`` is ``{}``). Seeds are small
valid pairs cut from GPT-2's files. ``_core.bpe_encoder_from_data_gym`` must raise ValueError or
build an encoder; when it builds one, tiktoken's own parse of the same files (with the
spellings llmprep also accepts: CRLF line ends, blank lines, no final newline) must give the same
ranks and special tokens, and every token must round-trip through the built tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from _harness import SHARED, Mismatch, check_equal, error_feature, feature, main
from llmprep import _core

SEPARATOR = b"\n\x00=====\x00\n"


def _data_gym_alphabet() -> dict[str, int]:
    # tiktoken.load.data_gym_to_mergeable_bpe_ranks's byte map, as tiktoken builds it.
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    mapping = {chr(b): b for b in printable}
    n = 0
    for b in range(256):
        if b not in printable:
            mapping[chr(256 + n)] = b
            n += 1
    return mapping


_ALPHABET = _data_gym_alphabet()
_RANK_BYTES = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
_RANK_BYTES += [b for b in range(256) if b not in _RANK_BYTES]


def reference_parse(vocab_bpe: bytes, encoder_json: bytes) -> tuple[dict[bytes, int], dict[str, int]]:
    """tiktoken's data_gym_to_mergeable_bpe_ranks on file contents, reading lines as llmprep does."""
    lines = vocab_bpe.decode("utf-8").split("\n")[1:]
    merges = [tuple(line.removesuffix("\r").split()) for line in lines if line.removesuffix("\r")]

    def decode(value: str) -> bytes:
        return bytes(_ALPHABET[c] for c in value)

    ranks = {bytes([b]): i for i, b in enumerate(_RANK_BYTES)}
    n = len(ranks)
    for first, second in merges:
        ranks[decode(first) + decode(second)] = n
        n += 1
    loaded = json.loads(encoder_json)
    special = {k: loaded.pop(k) for k in ("<|endoftext|>", "<|startoftext|>") if k in loaded}
    encoder = {decode(k): v for k, v in loaded.items()}
    if ranks != encoder:
        raise ValueError("encoder.json and vocab.bpe disagree")
    return ranks, special


def test_one_input(data: bytes) -> None:
    vocab_bpe, _, encoder_json = data.partition(SEPARATOR)
    if not _:
        encoder_json = b"{}"
    try:
        core, n_mergeable, special = _core.bpe_encoder_from_data_gym(
            vocab_bpe, encoder_json, "vocab.bpe", "encoder.json", None
        )
    except ValueError as e:
        error_feature("data-gym", e)
        if "vocab.bpe" not in str(e) and "encoder.json" not in str(e):
            raise Mismatch(f"the error does not name the file: {e}") from None
        return
    try:
        ranks, ref_special = reference_parse(vocab_bpe, encoder_json)
    except Exception as e:
        raise Mismatch(f"llmprep accepted files that tiktoken's parse rejects ({type(e).__name__}: {e})") from None
    feature("ok", min(n_mergeable - 256, 64), tuple(sorted(special)))
    ours = {core.token_bytes(rank): rank for rank in range(n_mergeable)}
    check_equal(ours, ranks, "ranks")
    check_equal(special, ref_special, "special tokens")
    for token, rank in ranks.items():
        check_equal(_core.bpe_token_rank(core, token), rank, f"bpe_token_rank({token!r})")
    sample = b"".join(list(ranks)[-8:])
    check_equal(
        core.decode_bytes(core.encode(sample.decode("utf-8", "replace"), [], 1)),
        sample.decode("utf-8", "replace").encode(),
        "encode/decode round trip",
    )


def write_seeds(folder: Path) -> None:
    """Small valid pairs cut from GPT-2's files in ../shared/gpt2, in the spellings llmprep reads."""
    encoder = json.loads((SHARED / "gpt2" / "encoder.json").read_text(encoding="utf-8"))
    merges = (SHARED / "gpt2" / "vocab.bpe").read_text(encoding="utf-8").split("\n")
    for n in (0, 8, 40):
        small = {k: v for k, v in encoder.items() if v < 256 + n}
        small["<|endoftext|>"] = 256 + n
        vocab = "\n".join(merges[: n + 1]) + "\n"
        variants = {
            "plain": (vocab, json.dumps(small, ensure_ascii=False)),
            "crlf-escaped": (vocab.replace("\n", "\r\n"), json.dumps(small, indent=1)),
            "no-final-newline": (vocab.rstrip("\n"), json.dumps(small, separators=(",", ":"))),
        }
        for name, (v, e) in variants.items():
            (folder / f"gpt2-{n}-{name}").write_bytes(v.encode("utf-8") + SEPARATOR + e.encode("utf-8"))


if __name__ == "__main__":
    main(test_one_input)
