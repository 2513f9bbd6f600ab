"""Vocabulary files: where tiktoken keeps them, their URLs and sha256 hashes, and reading them safely.

tiktoken downloads each vocabulary once and caches it under a file name derived from its URL.
llmprep reads the same cache (so one download serves both) and accepts a file only when its sha256
is the one tiktoken requires; parsing happens in C++ (`llmprep._core`). The URLs and hashes below
are tiktoken_ext/openai_public.py's; `tests/test_vocab_load.py` checks them against it.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VocabFile", "read_bytes", "read_tiktoken_cached", "tiktoken_cache_path", "tiktoken_cache_path_in"]

_BLOB = "https://openaipublic.blob.core.windows.net"


@dataclass(frozen=True)
class VocabFile:
    """One file tiktoken downloads: its URL and the sha256 its contents must have."""

    url: str
    sha256: str

    @property
    def file_name(self) -> str:
        """The URL's last component (e.g. ``cl100k_base.tiktoken``), for messages."""
        return self.url.rsplit("/", 1)[-1]


# GPT-2's original files (data-gym format), which tiktoken's gpt2() reads.
GPT2_VOCAB_BPE = VocabFile(
    f"{_BLOB}/gpt-2/encodings/main/vocab.bpe", "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
)
GPT2_ENCODER_JSON = VocabFile(
    f"{_BLOB}/gpt-2/encodings/main/encoder.json", "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
)
# .tiktoken rank files (one "base64-token rank" per line).
R50K_BASE = VocabFile(
    f"{_BLOB}/encodings/r50k_base.tiktoken", "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
)
P50K_BASE = VocabFile(
    f"{_BLOB}/encodings/p50k_base.tiktoken", "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069"
)
CL100K_BASE = VocabFile(
    f"{_BLOB}/encodings/cl100k_base.tiktoken", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
)
O200K_BASE = VocabFile(
    f"{_BLOB}/encodings/o200k_base.tiktoken", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
)


def read_bytes(path: Path, what: str) -> bytes:
    """The contents of a local vocabulary file.

    Raises:
        FileNotFoundError: If ``path`` is missing or not a file (the message says ``what`` it should be).
    """
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise FileNotFoundError(
            errno.ENOENT, f"{what} not found (pass the path of an existing file)", str(path)
        ) from None


def tiktoken_cache_path(url: str) -> Path | None:
    """Where tiktoken's loader keeps its copy of ``url`` (as tiktoken.load.read_file_cached names
    it), or None when its cache is switched off (``TIKTOKEN_CACHE_DIR=""``)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        folder = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        folder = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        import tempfile

        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if folder == "":
        return None
    return tiktoken_cache_path_in(folder, url)


def tiktoken_cache_path_in(folder: str | os.PathLike[str], url: str) -> Path:
    """The file name tiktoken gives ``url`` in ``folder``: the sha1 of the URL."""
    return Path(folder) / hashlib.sha1(url.encode()).hexdigest()


def read_tiktoken_cached(file: VocabFile, problems: list[str]) -> bytes | None:
    """tiktoken's cached copy of ``file`` if it is there and has the expected hash, else None.

    A file that is there but has the wrong hash is never returned; the reason is appended to
    ``problems`` (for the error message if no other route works).
    """
    path = tiktoken_cache_path(file.url)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.sha256:
        problems.append(
            f"tiktoken's cached copy of {file.file_name} at {path} is corrupt or was altered "
            f"(sha256 {actual}, expected {file.sha256}; {len(data):,} bytes)"
        )
        return None
    return data
