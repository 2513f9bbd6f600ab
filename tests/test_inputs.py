"""Input formats: JSONL found by extension or content, stdin as JSONL, compressed inputs (gzip,
bzip2, xz, zstd) by extension and by magic bytes, Parquet streamed by row group. Every form gives
exactly the ids of its plain equivalent, with the same documents, EOT ids and order."""

from __future__ import annotations

import bz2
import gzip
import itertools
import json
import lzma
import os
import subprocess
import sys
from pathlib import Path

import llmprep
import pytest
from llmprep.corpus import get_chunk_encoder, shard_bounds, tokenize_corpus

DOCS = [
    "The first document, with some words.",
    "Second: naïve café 😀 — and <|endoftext|> as plain text.",
    "",
    "third\nhas\nnewlines\n\n",
    "x" * 5000,
]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "llmprep", *args], capture_output=True, input=stdin)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def docs_of(path: Path) -> list[list[int]]:
    tf = llmprep.open_tokens(path)
    return [tf.document(i).tolist() for i in range(tf.n_documents)]


@pytest.fixture(scope="module")
def expected(tiktoken_gpt2) -> list[list[int]]:
    return [tiktoken_gpt2.encode_ordinary(d) + [50256] for d in DOCS]


def _jsonl(docs: list[str] = DOCS) -> bytes:
    return "".join(json.dumps({"text": d, "id": i}) + "\n" for i, d in enumerate(docs)).encode()


def _tokenize(inputs: list[str], out: Path, **kwargs: object) -> list[list[int]]:
    tokenize_corpus(inputs, out, get_chunk_encoder("gpt2"), chunk_bytes=64, **kwargs)  # type: ignore[arg-type]
    return docs_of(out)


@pytest.mark.parametrize("name", ["c.jsonl", "c.ndjson", "c.json", "c.data"])
def test_jsonl_by_extension_or_content(tmp_path: Path, expected: list[list[int]], name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\n  \n" + _jsonl())  # blank lines are not records
    notes: list[str] = []
    assert _tokenize([str(path)], tmp_path / "o.tok", note=notes.append) == expected
    assert bool(notes) == (name == "c.data")  # found by content: said so
    assert _tokenize([str(path)], tmp_path / "t.tok", input_format="text")[0][:3] != expected[0][:3]


def test_one_sniff_gives_format_and_compression(tmp_path: Path) -> None:
    # sniff_input reads a plain file's head once for both answers; every way in must agree with
    # the format policy (name, then content) and with the compression magic.
    from llmprep._inputs import detect_format, sniff_input

    lines = b'{"text": "a"}\n{"text": "b"}\n'
    cases = {
        "plain.txt": (b"hello world\n", "text", False),
        "records.txt": (lines, "jsonl", False),  # by content
        "records.jsonl": (b"not json at all\n", "jsonl", False),  # by name
        "records.txt.gz": (gzip.compress(lines), "jsonl", True),  # content, after decompression
        "plain.gz": (gzip.compress(b"hello\n"), "text", True),
        "fake.parquet.txt": (b"PAR1 is how this text begins\n", "text", False),  # magic at one end only
        "empty.txt": (b"", "text", False),
        "brace.txt": (b"{ not json\n", "text", False),
    }
    for name, (body, fmt, compressed) in cases.items():
        (tmp_path / name).write_bytes(body)
        assert sniff_input(str(tmp_path / name), "auto") == (fmt, compressed), name
        assert detect_format(str(tmp_path / name), "auto") == fmt, name
        assert sniff_input(str(tmp_path / name), "text") == ("text", compressed), name  # forced format
    (tmp_path / "misnamed.txt.gz").write_bytes(b"plain text named like gzip\n")
    with pytest.raises(ValueError, match="does not start with its magic"):
        sniff_input(str(tmp_path / "misnamed.txt.gz"), "auto")
    assert sniff_input("-", "auto") == ("text", False)
    if hasattr(os, "mkfifo"):  # a pipe is never opened here: it can be read only once
        os.mkfifo(tmp_path / "pipe.jsonl")
        assert sniff_input(str(tmp_path / "pipe.jsonl"), "auto") == ("jsonl", False)
        os.mkfifo(tmp_path / "pipe")
        assert sniff_input(str(tmp_path / "pipe"), "auto") == ("text", False)


def test_directory_listing_order_and_skips(tmp_path: Path) -> None:
    # Path order (by parts: "a/b.txt" before "a-b.txt", which string order reverses); hidden
    # entries, a dangling link and a symbolic link to the output are skipped; a hard link to the
    # output is another name, listed (and then refused as the output's input by check_output).
    from llmprep.corpus import _expand_inputs

    corpus = tmp_path / "corpus"
    (corpus / "a").mkdir(parents=True)
    (corpus / ".hidden").mkdir()
    for name in ("a/b.txt", "a-b.txt", "b.txt", ".dot.txt", ".hidden/c.txt", "out.tok"):
        (corpus / name).write_text("x", encoding="utf-8")
    (corpus / "dangling.txt").symlink_to(corpus / "missing")
    (corpus / "to-out.txt").symlink_to(corpus / "out.tok")
    os.link(corpus / "out.tok", corpus / "hard-out.txt")
    listed = [
        Path(s.path).relative_to(corpus).as_posix() for s in _expand_inputs([str(corpus)], None, corpus / "out.tok")
    ]
    assert listed == ["a/b.txt", "a-b.txt", "b.txt", "hard-out.txt"]
    globbed = _expand_inputs([str(corpus)], "b*", corpus / "out.tok")
    assert [Path(s.path).name for s in globbed] == ["b.txt", "b.txt"]


def test_content_sniffing_note_on_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "records.txt"
    path.write_bytes(_jsonl())
    out = run("tokenize", str(path), "-o", str(tmp_path / "o.tok"))
    assert out.returncode == 0, out.stderr
    assert "first line is a JSON object, so it is read as JSONL" in out.stderr
    assert "5 documents" in out.stdout
    # text that merely starts with a brace is text
    plain = tmp_path / "code.txt"
    plain.write_text("{ not json\nmore")
    out = run("tokenize", str(plain), "-o", str(tmp_path / "p.tok"))
    assert out.returncode == 0 and "1 document" in out.stdout and "JSONL" not in out.stderr


def test_stdin_as_jsonl(tmp_path: Path, expected: list[list[int]]) -> None:
    out = run("tokenize", "-", "--input-format", "jsonl", "-o", str(tmp_path / "o.tok"), stdin=_jsonl())
    assert out.returncode == 0, out.stderr
    assert docs_of(tmp_path / "o.tok") == expected
    field = run(
        "tokenize",
        "-",
        "--input-format",
        "jsonl",
        "--jsonl-field",
        "body",
        "-o",
        str(tmp_path / "x.tok"),
        stdin=_jsonl(),
    )
    assert field.returncode == 1 and "has no field 'body'" in field.stderr


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard", reason="zstandard is not installed (pip install 'llmprep[zstd]')")
    return zstandard.ZstdCompressor().compress(data)


COMPRESSORS = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": _zstd,
}


@pytest.mark.parametrize("kind", list(COMPRESSORS))
@pytest.mark.parametrize("named", [True, False])
def test_compressed_inputs_equal_their_plain_form(
    tmp_path: Path, expected: list[list[int]], kind: str, named: bool
) -> None:
    compress = COMPRESSORS[kind]
    jsonl = tmp_path / (f"c.jsonl.{kind}" if named else "c.jsonl")  # unnamed: found by magic bytes
    jsonl.write_bytes(compress(_jsonl()))
    assert _tokenize([str(jsonl)], tmp_path / "j.tok") == expected
    text = tmp_path / (f"d.txt.{kind}" if named else "d.txt")
    text.write_bytes(compress(DOCS[1].encode() * 300))
    plain = tmp_path / "plain.txt"
    plain.write_bytes(DOCS[1].encode() * 300)
    assert _tokenize([str(text)], tmp_path / "t.tok") == _tokenize([str(plain)], tmp_path / "p.tok")
    # stdin, compressed: by magic bytes
    out = run("tokenize", "-", "--input-format", "jsonl", "-o", str(tmp_path / "s.tok"), stdin=compress(_jsonl()))
    assert out.returncode == 0, out.stderr
    assert docs_of(tmp_path / "s.tok") == expected


def test_corrupt_or_misnamed_compressed_input(tmp_path: Path) -> None:
    bad = tmp_path / "a.txt.gz"
    bad.write_bytes(b"plain text, not gzip")
    out = run("tokenize", str(bad), "-o", str(tmp_path / "o.tok"))
    assert out.returncode == 1 and "does not start with its magic bytes" in out.stderr
    cut = tmp_path / "b.txt.gz"
    cut.write_bytes(gzip.compress(b"hello world" * 1000)[:-20])
    out = run("tokenize", str(cut), "-o", str(tmp_path / "o.tok"))
    assert out.returncode == 1 and "is not valid gzip data" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o.tok").exists()


def test_missing_zstandard_names_the_extra(tmp_path: Path) -> None:
    path = tmp_path / "a.txt.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(20))
    script = "import sys; sys.modules['zstandard'] = None\nfrom llmprep.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run(
        [sys.executable, "-c", script, "tokenize", str(path), "-o", str(tmp_path / "o.tok")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "pip install 'llmprep[zstd]'" in out.stderr, out.stderr


def _parquet(path: Path, docs: list[str | None], row_group_size: int = 2, **extra: list[object]) -> None:
    pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (pip install 'llmprep[parquet]')")
    import pyarrow.parquet as pq

    table = pa.table({"text": pa.array(docs, type=pa.string()), **{k: pa.array(v) for k, v in extra.items()}})
    pq.write_table(table, path, row_group_size=row_group_size)


def test_parquet_rows_are_documents(tmp_path: Path, expected: list[list[int]]) -> None:
    path = tmp_path / "c.parquet"
    _parquet(path, list(DOCS), body=[d.upper() for d in DOCS])
    assert _tokenize([str(path)], tmp_path / "o.tok") == expected
    upper = _tokenize([str(path)], tmp_path / "u.tok", text_column="body")
    assert upper == _tokenize_jsonl_of(tmp_path, [d.upper() for d in DOCS])
    noext = tmp_path / "data"
    noext.write_bytes(path.read_bytes())  # found by its magic bytes
    assert _tokenize([str(noext)], tmp_path / "n.tok") == expected
    out = run("tokenize", str(path), "--text-column", "nope", "-o", str(tmp_path / "x.tok"))
    assert out.returncode == 1 and "has no column 'nope'" in out.stderr
    out = run("tokenize", str(path), "--text-column", "body", "-o", str(tmp_path / "y.tok"))
    assert out.returncode == 0 and docs_of(tmp_path / "y.tok") == upper


def _tokenize_jsonl_of(tmp_path: Path, docs: list[str]) -> list[list[int]]:
    path = tmp_path / "ref.jsonl"
    path.write_bytes(_jsonl(docs))
    return _tokenize([str(path)], tmp_path / "ref.tok", overwrite=True)


def test_parquet_nulls_and_sharding(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    _parquet(path, ["a", None, "b"])
    out = run("tokenize", str(path), "-o", str(tmp_path / "o.tok"))
    assert out.returncode == 1 and "row 1: column 'text' is null" in out.stderr
    docs = [f"row {i} " * (1 + (i % 5) * 40) for i in range(23)]
    _parquet(tmp_path / "s.parquet", list(docs), row_group_size=4)
    whole = _tokenize([str(tmp_path / "s.parquet")], tmp_path / "whole.tok")
    parts: list[list[int]] = []
    for i in range(4):
        parts += _tokenize([str(tmp_path / "s.parquet")], tmp_path / f"s{i}.tok", shard=(i, 4))
    assert parts == whole


def test_missing_pyarrow_names_the_extra(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1" + bytes(20) + b"PAR1")
    script = (
        "import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
        "from llmprep.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, "tokenize", str(path), "-o", str(tmp_path / "o.tok")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "pip install 'llmprep[parquet]'" in out.stderr, out.stderr


def test_parquet_from_stdin_is_refused() -> None:
    out = run("tokenize", "-", "--input-format", "parquet", "-o", "x.tok")
    assert out.returncode == 1 and "cannot be read from standard input" in out.stderr
    assert not os.path.exists("x.tok")


# -- sharding by bytes ---------------------------------------------------------------------------


def test_shard_bounds_balance_bytes() -> None:
    import random

    rng = random.Random(5)
    for _ in range(300):
        sizes = [rng.choice([1, 2, 10, 1000, 50_000]) * rng.randint(1, 9) for _ in range(rng.randint(1, 40))]
        n = rng.randint(1, 12)
        total, largest = sum(sizes), max(sizes)
        bounds = [shard_bounds(sizes, i, n) for i in range(n)]
        assert bounds[0][0] == 0 and bounds[-1][1] == len(sizes)
        for (a, b), (c, _) in itertools.pairwise(bounds):
            assert b == c and a <= b  # contiguous, in order, covering every document once
        for a, b in bounds:
            assert abs(n * sum(sizes[a:b]) - total) <= n * largest, (sizes, n, bounds)


def test_skewed_shards_on_the_cli(tmp_path: Path) -> None:
    # One large document among many small ones: counting documents gave 1 KB and 40 KB shards.
    inputs = []
    for i, size in enumerate([40_000] + [1000] * 40):
        p = tmp_path / f"d{i:03}.txt"
        p.write_text(("word " * size)[:size])
        inputs.append(str(p))
    whole = tmp_path / "whole.tok"
    assert run("tokenize", *inputs, "-o", str(whole)).returncode == 0
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"s{i}.tok")
        out = run("tokenize", *inputs, "-o", str(shards[-1]), "--shard", f"{i}/3")
        assert out.returncode == 0, out.stderr
        assert "warning" not in out.stderr
    counts = [llmprep.open_tokens(s).n_documents for s in shards]
    # Cuts at the prefix sums nearest 26.7 KB and 53.3 KB: 40 KB | 13 KB | 27 KB, each within one
    # largest document (40 KB) of a third; counting documents gave 14 | 13 | 14 files (67 | 13 | 14 KB).
    assert counts == [1, 13, 27]
    merged = tmp_path / "m.tok"
    assert run("merge", *map(str, shards), "-o", str(merged)).returncode == 0
    assert merged.read_bytes() == whole.read_bytes()


def test_empty_shard_is_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "one.txt"
    p.write_text("only one document")
    counts = []
    for i in range(4):
        out = run("tokenize", str(p), "-o", str(tmp_path / f"s{i}.tok"), "--shard", f"{i}/4")
        assert out.returncode == 0, out.stderr
        n = llmprep.open_tokens(tmp_path / f"s{i}.tok").n_documents
        assert (f"warning: shard {i}/4 is empty" in out.stderr) == (n == 0)
        counts.append(n)
    assert counts == [0, 0, 1, 0]  # each cut at the nearest document boundary (ties: the earlier one)
