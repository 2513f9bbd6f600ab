"""`llmprep tokenize`, `inspect` and `merge`, run as a user runs them: through a subprocess.
Every corpus result is checked against tiktoken applied to each document whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import llmprep
import numpy as np
import pytest
from conftest import corpus_paths, default_sigint

EOT = 50256


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", *args],
        capture_output=True,
        input=stdin,
        env=_env(),
    )
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONWARNINGS": "error"}


def ok(*args: str, stdin: bytes | None = None) -> str:
    out = run(*args, stdin=stdin)
    assert out.returncode == 0, out.stderr
    return out.stdout


def fails(*args: str, stdin: bytes | None = None) -> str:
    out = run(*args, stdin=stdin)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("llmprep: error: ") and out.stderr.count("\n") == 1, out.stderr
    return out.stderr


def docs_of(path: Path) -> list[list[int]]:
    tf = llmprep.open_tokens(path)
    return [tf.document(i).tolist() for i in range(tf.n_documents)]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """All ../shared/data corpora (plus a nested copy of the story) as a directory tree."""
    paths = corpus_paths()
    if not paths:
        pytest.skip("../shared/data is missing")
    root = tmp_path_factory.mktemp("corpus")
    for p in paths:
        (root / p.name).write_bytes(p.read_bytes())
    (root / "sub").mkdir()
    (root / "sub" / "story.txt").write_bytes((root / "the-verdict.txt").read_bytes())
    (root / "sub" / "notes.md").write_text("not a .txt file")
    return root


@pytest.fixture(scope="module")
def corpus_tok(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "corpus.tok"
    stdout = ok("tokenize", str(corpus), "--glob", "*.txt", "-o", str(out), "--workers", "2")
    assert "tokenized 5 documents" in stdout
    return out


def test_every_corpus_equals_tiktoken_per_document(corpus, corpus_tok, tiktoken_gpt2) -> None:
    files = sorted(p for p in corpus.rglob("*.txt"))
    assert [p.relative_to(corpus).as_posix() for p in files][-1] == "wikitext2-valid.txt"
    docs = docs_of(corpus_tok)
    assert len(docs) == len(files)
    for path, ids in zip(files, docs):
        assert ids == tiktoken_gpt2.encode_ordinary(path.read_text(encoding="utf-8")) + [EOT], path
    tf = llmprep.open_tokens(corpus_tok)
    assert tf.dtype == np.uint16 and tf.encoding == "gpt2" and tf.vocab_size == 50257
    # Round trip: decoding the file gives the documents joined by <|endoftext|>.
    text = "".join(p.read_text(encoding="utf-8") + "<|endoftext|>" for p in files)
    assert tiktoken_gpt2.decode(tf.tokens.tolist()) == text


def test_tiny_chunks_and_one_worker_give_the_same_bytes(corpus, corpus_tok, tmp_path) -> None:
    out = tmp_path / "tiny.tok"
    ok("tokenize", str(corpus), "--glob", "*.txt", "-o", str(out), "--workers", "1", "--chunk-bytes", "5", "--quiet")
    assert out.read_bytes() == corpus_tok.read_bytes()


def test_shards_merged_equal_the_unsharded_run(corpus, tmp_path) -> None:
    jsonl = tmp_path / "records.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"record {i}: it's {i * 7} o'clock"}) + "\n" for i in range(7)))
    inputs = [str(corpus / "the-verdict.txt"), str(jsonl), str(corpus / "sub")]
    whole = tmp_path / "whole.tok"
    ok("tokenize", *inputs, "-o", str(whole), "--quiet")
    shards = []
    for i in range(3):
        shards.append(tmp_path / f"shard{i}.tok")
        ok("tokenize", *inputs, "-o", str(shards[-1]), "--shard", f"{i}/3", "--quiet")
    # By bytes: the story (20 KB), then the 7 short records and the two small files up to the
    # copy of the story (20 KB), which is the third shard.
    assert [llmprep.open_tokens(s).n_documents for s in shards] == [1, 8, 1]
    merged = tmp_path / "merged.tok"
    assert "10 documents" in ok("merge", *map(str, shards), "-o", str(merged))
    assert merged.read_bytes() == whole.read_bytes()
    # Same inputs and shard -> byte-identical output.
    again = tmp_path / "again.tok"
    ok("tokenize", *inputs, "-o", str(again), "--shard", "1/3", "--quiet", "--workers", "1")
    assert again.read_bytes() == shards[1].read_bytes()


def test_stdin_and_jsonl(tmp_path, tiktoken_gpt2) -> None:
    text = "Hello world!\n\nIt's   a test — naïve café 日本語 😀\n"
    out = tmp_path / "stdin.tok"
    ok("tokenize", "-", "-o", str(out), "--quiet", stdin=text.encode())
    assert docs_of(out) == [tiktoken_gpt2.encode_ordinary(text) + [EOT]]

    records = [
        {"body": "first doc"},
        {"body": 'second "quoted" \\ doc\nline two', "x": 1},
        {"body": ""},
        {"body": "caf\u00e9 \ud83d\ude00"},
    ]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps(r) for r in records[:2]) + "\n\n" + "\n".join(json.dumps(r) for r in records[2:]) + "\n"
    )
    out = tmp_path / "jsonl.tok"
    ok("tokenize", str(jsonl), "--jsonl-field", "body", "-o", str(out), "--quiet", "--no-eot")
    assert docs_of(out) == [tiktoken_gpt2.encode_ordinary(r["body"]) for r in records]


def test_raw_format_dtype_and_inspect(verdict_path, tmp_path, tiktoken_gpt2) -> None:
    out = tmp_path / "train.bin"
    ok("tokenize", str(verdict_path), "-o", str(out), "--format", "raw", "--dtype", "uint32", "--quiet")
    ids = np.fromfile(out, dtype=np.uint32).tolist()
    assert ids == tiktoken_gpt2.encode_ordinary(verdict_path.read_text(encoding="utf-8")) + [EOT]
    assert json.loads(Path(f"{out}.json").read_text())["dtype"] == "uint32"
    shown = ok("inspect", str(out), "--show", "5")
    assert "tokens:     5,146" in shown and "uint32" in shown
    assert "decoded:    'I HAD always thought'" in shown


def test_simple_encoding_with_a_saved_vocabulary(verdict_path, verdict_text, tmp_path) -> None:
    vocab = tmp_path / "vocab.json"
    ok("vocab", str(verdict_path), "-o", str(vocab))
    tok = llmprep.SimpleTokenizer.load(vocab)
    doc2 = tmp_path / "b.txt"
    doc2.write_text("Hello, do you like tea?\u2028In the sunlit terraces --\x1cof the palace.")
    out = tmp_path / "simple.tok"
    ok(
        "tokenize",
        str(verdict_path),
        str(doc2),
        "--encoding",
        "simple",
        "--vocab",
        str(vocab),
        "-o",
        str(out),
        "--chunk-bytes",
        "3",
        "--quiet",
    )
    eot = tok.vocab["<|endoftext|>"]
    assert docs_of(out) == [tok.encode(verdict_text) + [eot], tok.encode(doc2.read_text()) + [eot]]
    assert "decoded:    'I HAD always thought" in ok("inspect", str(out), "--vocab", str(vocab), "--show", "4")


def test_forced_uint16_with_a_larger_id_is_an_error(tmp_path) -> None:
    big = llmprep.SimpleTokenizer({"small": 1, "big": 70_000, "<|endoftext|>": 2})
    vocab = tmp_path / "big.json"
    big.save(vocab)
    text = tmp_path / "t.txt"
    text.write_text("small big small")
    out = tmp_path / "o.tok"
    err = fails(
        "tokenize", str(text), "--encoding", "simple", "--vocab", str(vocab), "-o", str(out), "--dtype", "uint16"
    )
    assert "token id 70000 does not fit in uint16" in err
    assert list(tmp_path.glob("*o.tok*")) == []
    ok("tokenize", str(text), "--encoding", "simple", "--vocab", str(vocab), "-o", str(out))
    assert llmprep.open_tokens(out).tokens.tolist() == [1, 70000, 1, 2]


def test_latin1_input_names_file_and_offset_then_replace(tmp_path, tiktoken_gpt2) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"plain ascii line\n" * 1000 + "naïve café".encode("latin-1"))
    out = tmp_path / "o.tok"
    err = fails("tokenize", str(path), "-o", str(out), "--chunk-bytes", "64")
    assert "latin1.txt" in err and "byte offset 17002" in err and "--errors replace" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [path]
    ok("tokenize", str(path), "-o", str(out), "--errors", "replace", "--quiet")
    expected = path.read_bytes().decode("utf-8", "replace")
    assert docs_of(out) == [tiktoken_gpt2.encode_ordinary(expected) + [EOT]]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: [str(d / "missing.txt")], "missing.txt does not exist"),
        (lambda d: [str(d / "t.txt"), "--encoding", "nope"], "unknown encoding 'nope'"),
        (lambda d: [str(d / "t.txt"), "--encoding", "simple"], "needs --vocab"),
        (lambda d: [str(d / "bad.jsonl")], "bad.jsonl line 2 is not valid JSON"),
        (lambda d: [str(d / "nofield.jsonl")], "nofield.jsonl line 1 has no field 'text'"),
        (lambda d: [str(d / "t.txt"), "--shard", "3/3"], "--shard must be I/N"),
        (lambda d: [str(d / "t.txt"), "-o", str(d / "no" / "dir" / "x.tok")], "folder .* does not exist"),
        (lambda d: [str(d / "empty")], "no input files in directory"),
    ],
)
def test_bad_inputs_give_one_line(tmp_path, make, message) -> None:
    (tmp_path / "t.txt").write_text("text")
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"text": \n')
    (tmp_path / "nofield.jsonl").write_text('{"body": "ok"}\n')
    (tmp_path / "empty").mkdir()
    args = make(tmp_path)
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out.tok")]
    err = fails("tokenize", *args)
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "out.tok").exists()


def test_unreadable_input(tmp_path) -> None:
    if os.geteuid() != 0:
        path = tmp_path / "secret.txt"
        path.write_text("x")
        path.chmod(0)
        assert "Permission denied" in fails("tokenize", str(path), "-o", str(tmp_path / "o.tok"))
    elif Path("/proc/self/mem").is_file():  # root reads everything, but this file fails at offset 0
        assert "Input/output error" in fails("tokenize", "/proc/self/mem", "-o", str(tmp_path / "o.tok"))
    else:
        pytest.skip("no way to make an unreadable file here")
    assert not (tmp_path / "o.tok").exists()


def test_inspect_and_merge_reject_damaged_files(corpus_tok, tmp_path) -> None:
    broken = tmp_path / "broken.tok"
    broken.write_bytes(corpus_tok.read_bytes()[:-1000])
    assert "is truncated" in fails("inspect", str(broken))
    assert "is truncated" in fails("merge", str(broken), str(corpus_tok), "-o", str(tmp_path / "m.tok"))
    data = bytearray(corpus_tok.read_bytes())
    data[40] ^= 0xFF
    broken.write_bytes(bytes(data))
    assert "corrupted header" in fails("inspect", str(broken))
    assert not (tmp_path / "m.tok").exists()


def test_summary_line_without_a_terminal(verdict_path, tmp_path) -> None:
    out = run("tokenize", str(verdict_path), "-o", str(tmp_path / "o.tok"))
    assert out.returncode == 0 and out.stderr == ""  # no bar: stderr is not a terminal
    assert out.stdout.startswith("tokenized 1 document, 5,146 tokens, 20,479 bytes in ")
    assert "MB/s" in out.stdout and "tokens/s" in out.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_interrupted_run_leaves_no_output_file(tmp_path, sig) -> None:
    out = tmp_path / "o.tok"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmprep", "tokenize", "-", "-o", str(out), "--workers", "1", "--chunk-bytes", "4096"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        preexec_fn=default_sigint,
    )
    assert proc.stdin is not None
    block = b"the quick brown fox jumps over the lazy dog. " * 50_000
    deadline = time.monotonic() + 60
    # Feed stdin until the run has started writing (its temporary file exists), then stop it mid-way.
    while not list(tmp_path.glob(".o.tok.*.tmp")) or not any(
        p.stat().st_size > 256 for p in tmp_path.glob(".o.tok.*.tmp")
    ):
        assert time.monotonic() < deadline, "the run never started writing"
        proc.stdin.write(block)
        proc.stdin.flush()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    leftovers = list(tmp_path.iterdir())
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: what is left must not pass for a token file
        for p in leftovers:
            with pytest.raises(llmprep.TokenFileError, match="not an llmprep token file"):
                llmprep.open_tokens(p)
    else:
        assert leftovers == []
        assert "interrupted" in stderr.decode()


def test_progress_bar_on_a_terminal(verdict_path, tmp_path) -> None:
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a new pty has 0 columns
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "llmprep", "tokenize", str(verdict_path), "-o", str(tmp_path / "o.tok")],
            stdout=subprocess.PIPE,
            stderr=child_fd,
            env=_env(),
            timeout=120,
        )
        os.close(child_fd)
        child_fd = -1
        chunks = []
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if child_fd >= 0:
            os.close(child_fd)
        os.close(main_fd)
    bar = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "tokenize" in bar and "B/s" in bar and "tokens/s" in bar and "100%" in bar
    assert proc.stdout.decode().startswith("tokenized 1 document,")
    quiet = subprocess.run(
        [sys.executable, "-m", "llmprep", "tokenize", str(verdict_path), "-o", str(tmp_path / "q.tok"), "--quiet"],
        capture_output=True,
        env=_env(),
        timeout=120,
    )
    assert quiet.returncode == 0 and quiet.stderr == b""


PEAK_RSS = r"""
import resource, sys
from llmprep.cli import main
rc = main(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(rc)
"""


@pytest.mark.slow
def test_memory_does_not_grow_with_the_input(tmp_path) -> None:
    """A 96 MB single-document file costs about what a tiny one does: nothing reads a whole input."""

    def peak_mb(path: Path) -> int:
        out = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, "tokenize", str(path), "-o", str(tmp_path / "o.tok"), "--workers", "2"]
            + ["--force"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=600,
        )
        assert out.returncode == 0, out.stderr
        return int(out.stdout.strip().splitlines()[-1])

    small = tmp_path / "small.txt"
    small.write_text("A short document.\n")
    big = tmp_path / "big.txt"
    line = 'It was 1907 -- the year\'s ninety-third "storm"; naïve café owners counted 12,345 coins.\n'
    with open(big, "w", encoding="utf-8") as f:
        for _i in range(96 * 10**6 // (len(line.encode()) * 1000) + 1):
            f.write(line * 1000)
    assert big.stat().st_size >= 96 * 10**6
    baseline, streamed = peak_mb(small), peak_mb(big)
    # Reading it whole would add ~96 MB of text (and ~50 MB of ids) to the peak.
    assert streamed < baseline + 64, (baseline, streamed)
    assert llmprep.open_tokens(tmp_path / "o.tok").n_documents == 1
