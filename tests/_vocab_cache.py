"""A tiktoken cache folder holding every encoding's vocabulary, for tests that run with no network.

The shared cache (../shared/tiktoken-cache) holds GPT-2's files, cl100k_base and o200k_base, but not
r50k_base.tiktoken or p50k_base.tiktoken. Both are GPT-2's ranks written as .tiktoken files (p50k
adds one token per run of 2 to 25 spaces, ranks 50257..50280): rebuilt here from GPT-2's files,
they have exactly the sha256 tiktoken requires of the downloads, so tiktoken and llmprep accept
them as the real files. A rebuild with any other hash is an error, never used.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from llmprep import Encoding
from llmprep.encoding import load


def _tiktoken_file(ranks: dict[bytes, int]) -> bytes:
    return b"".join(
        base64.b64encode(t) + b" " + str(r).encode() + b"\n" for t, r in sorted(ranks.items(), key=lambda x: x[1])
    )


def build_full_cache(folder: Path, shared_cache: Path, gpt2_dir: Path) -> Path:
    """Fills ``folder`` with links to the shared cache's files plus rebuilt r50k/p50k files; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in shared_cache.iterdir():
        target = folder / entry.name
        if not target.exists():
            os.symlink(entry, target)
    gpt2 = Encoding.from_files(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe")._mergeable_ranks
    p50k = dict(gpt2) | {b" " * n: 50255 + n for n in range(2, 26)}
    for file, ranks in ((load.R50K_BASE, gpt2), (load.P50K_BASE, p50k)):
        data = _tiktoken_file(ranks)
        actual = hashlib.sha256(data).hexdigest()
        if actual != file.sha256:
            raise AssertionError(f"rebuilt {file.file_name} has sha256 {actual}, not tiktoken's {file.sha256}")
        load.tiktoken_cache_path_in(folder, file.url).write_bytes(data)
    return folder
