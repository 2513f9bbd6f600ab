"""Fuzz the C++ parser of ``.tiktoken`` rank files (one ``base64-token rank`` pair per line).

Input: the file's contents. Seeds are truncated real files (GPT-2's ranks, cl100k_base's).
``_core.bpe_encoder_from_tiktoken`` must raise ValueError or build an encoder; when it builds one,
tiktoken's ``load_tiktoken_bpe`` parse of the same bytes must give the same ranks, every token
must round-trip through the built tables, and the default special token must follow the largest
rank.
"""

from __future__ import annotations

import base64
from pathlib import Path

from _harness import SHARED, Mismatch, check_equal, error_feature, feature, main
from llmprep import _core


def reference_parse(contents: bytes) -> dict[bytes, int]:
    """tiktoken.load.load_tiktoken_bpe on the contents."""
    ranks = {}
    for line in contents.splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return ranks


def test_one_input(data: bytes) -> None:
    try:
        core, n_mergeable, special = _core.bpe_encoder_from_tiktoken(data, "fuzz.tiktoken", None)
    except ValueError as e:
        error_feature("tiktoken", e)
        if "fuzz.tiktoken" not in str(e):
            raise Mismatch(f"the error does not name the file: {e}") from None
        return
    try:
        ranks = reference_parse(data)
    except Exception as e:
        raise Mismatch(f"llmprep accepted a file that tiktoken's parse rejects ({type(e).__name__}: {e})") from None
    feature("ok", min(n_mergeable - 256, 64))
    check_equal(n_mergeable, len(ranks), "number of ranks")
    for token, rank in ranks.items():
        check_equal(core.token_bytes(rank), token, f"token_bytes({rank})")
        check_equal(_core.bpe_token_rank(core, token), rank, f"bpe_token_rank({token!r})")
    check_equal(special, {"<|endoftext|>": max(ranks.values()) + 1}, "default special tokens")
    check_equal(core.max_token_value, max(ranks.values()) + 1, "max_token_value")
    sample = b"".join(list(ranks)[-8:]).decode("utf-8", "replace")
    check_equal(core.decode_bytes(core.encode(sample, [], 1)), sample.encode(), "encode/decode round trip")


def write_seeds(folder: Path) -> None:
    """Truncated .tiktoken files: GPT-2's first ranks, and cl100k_base's with all single bytes."""
    cache = SHARED / "tiktoken-cache"
    cl100k = (cache / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").read_bytes().splitlines()
    for n in (256, 300):
        (folder / f"cl100k-{n}").write_bytes(b"\n".join(cl100k[:n]) + b"\n")
    (folder / "cl100k-280-crlf").write_bytes(b"\r\n".join(cl100k[:280]))
    import json

    encoder = json.loads((SHARED / "gpt2" / "encoder.json").read_text(encoding="utf-8"))
    from fuzz_vocab_data_gym import _ALPHABET

    lines = [
        base64.b64encode(bytes(_ALPHABET[c] for c in token)) + b" " + str(rank).encode()
        for token, rank in sorted(encoder.items(), key=lambda kv: kv[1])
        if rank < 290
    ]
    (folder / "gpt2-290").write_bytes(b"\n".join(lines) + b"\n")
    (folder / "gpt2-270-cr").write_bytes(b"\r".join(lines[:270]) + b"\r")


if __name__ == "__main__":
    main(test_one_input)
