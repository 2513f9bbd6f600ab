"""A small corpus in every input format, and the single-machine reference, for the Ray tests."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from conftest import corpus_paths
from llmprep.corpus import get_chunk_encoder, tokenize_corpus
from llmprep.tokens import merge_token_files


def import_ray() -> ModuleType:
    """Ray, or a skip of the calling module saying why not."""
    if any(lib in os.environ.get("LD_PRELOAD", "") for lib in ("libasan", "libtsan")):
        pytest.skip(
            "Ray's own binaries (GCS, raylet) are not built for a preloaded sanitizer runtime",
            allow_module_level=True,
        )
    return pytest.importorskip("ray", reason="Ray is not installed: pip install 'llmprep[ray]' (CI installs it)")


def make_corpus(folder: Path) -> list[str]:
    """Inputs in document order: text files, a plain JSONL file large enough to be cut into
    several pieces, gzip JSONL, zstd text (when zstandard is there) and Parquet (when pyarrow is)."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = folder / "texts"
    texts.mkdir()
    for i, path in enumerate(corpus_paths()[:2]):
        (texts / f"{i}.txt").write_bytes(path.read_bytes()[:200_000])
    (texts / "short.txt").write_text("hello world <|endoftext|> naïve café 😀\n", encoding="utf-8")
    (texts / "empty.txt").write_bytes(b"")
    records = [
        {"text": f"record {i}: " + "the quick brown fox jumps over the lazy dog. " * (1 + i % 13), "id": i}
        for i in range(1500)
    ]
    lines = [json.dumps(r) + "\n" for r in records]
    lines.insert(7, "\n")  # a blank line is not a record
    (folder / "big.jsonl").write_text("".join(lines), encoding="utf-8")
    (folder / "small.jsonl.gz").write_bytes(gzip.compress("".join(lines[:40]).encode()))
    inputs = [str(texts), str(folder / "big.jsonl"), str(folder / "small.jsonl.gz")]
    try:
        import zstandard
    except ImportError:
        pass
    else:
        body = ("zstd-compressed text, one document. " * 500).encode()
        (folder / "z.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
        inputs.append(str(folder / "z.txt.zst"))
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        pass
    else:
        docs = [f"parquet row {i} " * (1 + (i * 7) % 50) for i in range(120)]
        pq.write_table(pa.table({"text": docs}), folder / "rows.parquet", row_group_size=16)
        inputs.append(str(folder / "rows.parquet"))
    return inputs


def single_machine(inputs: list[str], out: Path, **kwargs: object) -> bytes:
    """The file plain `llmprep tokenize` writes for the inputs."""
    tokenize_corpus(inputs, out, get_chunk_encoder("gpt2"), **kwargs)  # type: ignore[arg-type]
    return out.read_bytes()


def merged(folder: Path, out: Path) -> bytes:
    """``llmprep merge folder/*.tok -o out``: the shards in name order."""
    merge_token_files(sorted(folder.glob("*.tok")), out, overwrite=True)
    return out.read_bytes()
