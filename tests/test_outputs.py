"""Output safety for every writer (tokenize, merge, vocab, SimpleTokenizer.save, TokenFileWriter):
never clobber an input or an existing file, never rename over a device, never leave a temporary
file behind, and name the output (not a temporary file) in every error.

Device targets are made only inside a private mount namespace (``unshare -m``) on a tmpfs, so
nothing here can touch the machine's real ``/dev``."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import llmprep
import numpy as np
import pytest
from conftest import default_sigint
from llmprep._outputs import Output, check_output
from llmprep.tokens import TokenFileWriter, merge_token_files

STORY = "It was a dark and stormy night; the rain fell in torrents. " * 40


def run(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", *args],
        capture_output=True,
        input=stdin,
        env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})},
    )
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def fails(*args: str, stdin: bytes | None = None) -> str:
    out = run(*args, stdin=stdin)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("llmprep: error: "), out.stderr
    return out.stderr


@pytest.fixture
def story(tmp_path: Path) -> Path:
    path = tmp_path / "story.txt"
    path.write_text(STORY)
    return path


def _write(path: Path, ids: list[int], **kwargs: object) -> None:
    with TokenFileWriter(path, dtype="uint16", encoding="gpt2", vocab_size=50257, eot_token=50256, **kwargs) as w:
        w.write(np.array(ids))
        w.end_document()


# -- an output that is an input ------------------------------------------------------------------


def test_output_naming_an_input_is_refused_before_any_work(story: Path, tmp_path: Path) -> None:
    before = story.read_bytes()
    (tmp_path / "link.txt").symlink_to(story)
    os.link(story, tmp_path / "hard.txt")
    spellings = [str(story), str(tmp_path / "." / "story.txt"), str(tmp_path / "link.txt"), str(tmp_path / "hard.txt")]
    for spelling in spellings:
        err = fails("tokenize", str(story), "-o", spelling, "--force")
        assert "is also an input" in err
    # a directory input holding the output: the output is skipped there, but named explicitly it is refused
    err = fails("tokenize", str(tmp_path), str(story), "-o", str(story), "--force", "--glob", "*.txt")
    assert "is also an input" in err
    assert story.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.txt", "link.txt", "story.txt"]


def test_merge_into_one_of_its_inputs_is_refused(tmp_path: Path) -> None:
    a = tmp_path / "a.tok"
    _write(a, [1, 2, 3])
    before = a.read_bytes()
    assert "is also an input" in fails("merge", str(a), str(a), "-o", str(a), "--force")
    with pytest.raises(ValueError, match="is also an input"):
        merge_token_files([a], tmp_path / "." / "a.tok", overwrite=True)
    assert a.read_bytes() == before


def test_vocab_into_its_input_is_refused(story: Path) -> None:
    before = story.read_bytes()
    assert "is also an input" in fails("vocab", str(story), "-o", str(story), "--force")
    assert story.read_bytes() == before


def test_stdin_input_that_is_the_output_file(story: Path) -> None:
    with open(story, "rb") as f:
        command = [sys.executable, "-m", "llmprep", "tokenize", "-", "-o", str(story), "--force"]
        out = subprocess.run(command, stdin=f, capture_output=True)
    assert out.returncode == 1 and b"is also an input" in out.stderr
    assert story.read_text() == STORY


# -- existing outputs ----------------------------------------------------------------------------


def test_existing_output_needs_force(story: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.tok"
    out.write_bytes(b"precious")
    assert "already exists; pass --force" in fails("tokenize", str(story), "-o", str(out))
    assert out.read_bytes() == b"precious"
    vocab = tmp_path / "v.json"
    vocab.write_text("{}")
    assert "already exists" in fails("vocab", str(story), "-o", str(vocab))
    assert vocab.read_text() == "{}"
    assert "already exists" in fails("merge", str(out), "-o", str(vocab))  # checked before the inputs are read
    assert run("tokenize", str(story), "-o", str(out), "--force").returncode == 0
    assert llmprep.open_tokens(out).n_tokens > 0
    assert run("vocab", str(story), "-o", str(vocab), "--force").returncode == 0
    assert "stormy" in vocab.read_text()


def test_existing_raw_sidecar_needs_force(story: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.bin"
    (tmp_path / "o.bin.json").write_text("{}")
    assert "o.bin.json already exists" in fails("tokenize", str(story), "-o", str(out), "--format", "raw")
    assert not out.exists()


def test_python_writers_refuse_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "t.tok"
    _write(path, [1])
    with pytest.raises(FileExistsError, match="already exists"):
        _write(path, [2])
    assert llmprep.open_tokens(path).tokens.tolist() == [1, 50256]
    _write(path, [2], overwrite=True)
    assert llmprep.open_tokens(path).tokens.tolist() == [2, 50256]
    vocab = tmp_path / "v.json"
    llmprep.SimpleTokenizer({"a": 0}).save(vocab)
    with pytest.raises(FileExistsError):
        llmprep.SimpleTokenizer({"b": 0}).save(vocab)
    llmprep.SimpleTokenizer({"b": 0}).save(vocab, overwrite=True)
    assert llmprep.SimpleTokenizer.load(vocab).vocab == {"b": 0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tok", "v.json"]


def test_a_symlinked_output_keeps_its_link(tmp_path: Path) -> None:
    real = tmp_path / "real.tok"
    _write(real, [1])
    link = tmp_path / "link.tok"
    link.symlink_to(real)
    _write(link, [7], overwrite=True)
    assert link.is_symlink()
    assert llmprep.open_tokens(real).tokens.tolist() == [7, 50256]


def test_directory_output_is_refused_before_any_work(story: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    assert "is a directory" in fails("tokenize", str(story), "-o", str(folder), "--force")
    assert list(folder.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_output_folder(story: Path, tmp_path: Path) -> None:
    err = fails("tokenize", str(story), "-o", str(tmp_path / "no" / "o.tok"))
    assert "folder" in err and "does not exist" in err
    with pytest.raises(FileNotFoundError, match="does not exist"):
        llmprep.SimpleTokenizer({"a": 0}).save(tmp_path / "no" / "v.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder: permissions cannot be tested as root")
def test_unwritable_output_folder(story: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert "is not writable" in fails("tokenize", str(story), "-o", str(folder / "o.tok"))
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_get_0666_minus_umask(story: Path, tmp_path: Path, umask: int) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        os.umask({umask})
        from llmprep.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    for args in (
        ["tokenize", str(story), "-o", str(tmp_path / "a.tok")],
        ["tokenize", str(story), "-o", str(tmp_path / "b.bin"), "--format", "raw"],
        ["vocab", str(story), "-o", str(tmp_path / "v.json")],
        ["merge", str(tmp_path / "a.tok"), "-o", str(tmp_path / "m.tok")],
    ):
        out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    for name in ("a.tok", "b.bin", "b.bin.json", "v.json", "m.tok"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


# -- standard output, FIFOs ----------------------------------------------------------------------


def test_dash_streams_raw_ids_to_stdout(story: Path, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "llmprep", "tokenize", str(story), "-o", "-", "--format", "raw"], capture_output=True
    )
    assert out.returncode == 0, out.stderr
    assert b"tokenized 1 document" in out.stderr and b"standard output" in out.stderr
    reference = tmp_path / "r.bin"
    assert run("tokenize", str(story), "-o", str(reference), "--format", "raw").returncode == 0
    assert out.stdout == reference.read_bytes()
    assert not Path("-").exists()
    assert "needs a seekable file" in fails("tokenize", str(story), "-o", "-")
    merged = subprocess.run(
        [sys.executable, "-m", "llmprep", "merge", str(tmp_path / "r.bin"), "-o", "-", "--format", "raw"],
        capture_output=True,
    )
    assert merged.returncode == 1 and b"raw token file" in merged.stderr  # raw inputs have no index to merge


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as f:
            into.append(f.read())

    thread = threading.Thread(target=reader)
    thread.start()
    return thread


def test_fifo_output_is_written_in_place(story: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    out = run("tokenize", str(story), "-o", str(fifo), "--format", "raw")
    thread.join(timeout=60)
    assert out.returncode == 0, out.stderr
    assert "no .json sidecar" in out.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "story.txt"]
    ids = np.frombuffer(got[0], dtype=np.uint16)
    assert ids.tolist() == llmprep.get_encoding("gpt2").encode(STORY) + [50256]
    # The llmprep format seeks back to write its header: a FIFO cannot take it.
    got.clear()
    thread = _read_fifo(fifo, got)
    err = fails("tokenize", str(story), "-o", str(fifo))
    thread.join(timeout=60)
    assert "cannot be sought back" in err
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# -- devices, ENOSPC: inside a private mount namespace --------------------------------------------

NAMESPACE_SCRIPT = r"""
set -eu
# Refuse to go on unless this shell really is in a mount namespace of its own.
[ "$(readlink /proc/self/ns/mnt)" != "$PARENT_NS" ] || { echo "not in a private mount namespace" >&2; exit 99; }
mount --make-rprivate / 2>/dev/null || true
mount -t tmpfs -o size=4m tmpfs "$DEV"
mknod "$DEV/null" c 1 3
mknod "$DEV/full" c 1 7
ln -s /proc/self/fd/1 "$DEV/stdout"
mkdir "$FULL" "$RO"
mount -t tmpfs -o size=64k tmpfs "$FULL"
mount -t tmpfs -o ro tmpfs "$RO"
"$PYTHON" "$CHECK"
"""

CHECK = r"""
import os, stat, subprocess, sys
dev, full, story, big = os.environ["DEV"], os.environ["FULL"], os.environ["STORY"], os.environ["BIG"]
tok = os.environ["TOK"]

def llmprep(*args, **kw):
    return subprocess.run([sys.executable, "-m", "llmprep", *args], capture_output=True, text=True, **kw)

def char(path):
    return stat.S_ISCHR(os.stat(path).st_mode)

for target in (f"{dev}/null",):
    for args in (["tokenize", story, "-o", target], ["tokenize", story, "-o", target, "--format", "raw"],
                 ["merge", tok, "-o", target], ["vocab", story, "-o", target]):
        out = llmprep(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert char(target), args
    assert sorted(os.listdir(dev)) == ["full", "null", "stdout"], os.listdir(dev)

for args in (["tokenize", story, "-o", f"{dev}/full"], ["merge", tok, "-o", f"{dev}/full"],
             ["vocab", story, "-o", f"{dev}/full"], ["tokenize", story, "-o", f"{dev}/full", "--format", "raw"]):
    out = llmprep(*args)
    assert out.returncode == 1, (args, out.stderr)
    assert f"cannot write {dev}/full: No space left on device" in out.stderr, (args, out.stderr)
    assert char(f"{dev}/full")
assert sorted(os.listdir(dev)) == ["full", "null", "stdout"], os.listdir(dev)

# /dev/stdout, a link to the pipe the caller reads: written in place, the link kept.
out = subprocess.run([sys.executable, "-m", "llmprep", "tokenize", story, "-o", f"{dev}/stdout", "--format", "raw"],
                     capture_output=True)
assert out.returncode == 0, out.stderr
assert os.path.islink(f"{dev}/stdout")
assert len(out.stdout) > 100 and b"no .json sidecar" in out.stderr

# ENOSPC on a 64 KiB tmpfs: every writer fails naming its output and leaves nothing behind.
for args, name in ((["tokenize", big, "-o", f"{full}/o.tok"], "o.tok"),
                   (["tokenize", big, "-o", f"{full}/o.bin", "--format", "raw"], "o.bin"),
                   (["vocab", big, "-o", f"{full}/v.json"], "v.json"),
                   (["merge", tok, tok, "-o", f"{full}/m.tok"], "m.tok")):
    out = llmprep(*args)
    assert out.returncode == 1, (args, out.stderr)
    assert f"cannot write {full}/{name}: No space left on device" in out.stderr, out.stderr
    assert out.stderr.count("cannot write") == 1, out.stderr  # named once, however often it failed
    assert ".tmp" not in out.stderr, out.stderr
    assert os.listdir(full) == [], os.listdir(full)
# A read-only folder: refused before any work (root may write anywhere else, so only a mount shows it).
ro = os.environ["RO"]
out = llmprep("tokenize", big, "-o", f"{ro}/o.tok")
assert out.returncode == 1 and f"folder {ro} is not writable" in out.stderr, out.stderr
assert out.stdout == "" and os.listdir(ro) == []
print("namespace checks passed")
"""


def _namespace_skip_reason() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot make a private mount namespace here: {probe.stderr.decode().strip()}"
    return None


def test_devices_and_enospc_in_a_private_mount_namespace(tmp_path: Path, verdict_path: Path) -> None:
    reason = _namespace_skip_reason()
    if reason:
        pytest.skip(reason)
    story = tmp_path / "story.txt"
    story.write_text(STORY)
    big = tmp_path / "big.txt"
    words = verdict_path.read_text(encoding="utf-8")
    # ~300 KB of text with 10,000 distinct words: neither its tokens nor its vocabulary fit in 64 KiB
    big.write_text(words * 10 + " ".join(f"w{i}" for i in range(10_000)))
    tok = tmp_path / "t.tok"
    _write(tok, list(range(50_000)))  # 100 KB: two copies do not fit in 64 KiB
    (tmp_path / "dev").mkdir()
    (tmp_path / "check.py").write_text(CHECK)
    env = {
        **os.environ,
        "PARENT_NS": os.readlink("/proc/self/ns/mnt"),
        "DEV": str(tmp_path / "dev"),
        "FULL": str(tmp_path / "full"),
        "RO": str(tmp_path / "ro"),
        "STORY": str(story),
        "BIG": str(big),
        "TOK": str(tok),
        "PYTHON": sys.executable,
        "CHECK": str(tmp_path / "check.py"),
    }
    out = subprocess.run(["unshare", "-m", "sh", "-c", NAMESPACE_SCRIPT], capture_output=True, text=True, env=env)
    if out.returncode != 0 and ("mknod" in out.stderr or "mount:" in out.stderr):
        pytest.skip(f"cannot make device nodes or mount a tmpfs here: {out.stderr.strip()}")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "namespace checks passed" in out.stdout


# -- interrupted writers -------------------------------------------------------------------------

SLOW_COMMIT = r"""
import sys, time
from llmprep import _outputs
original = _outputs.Output.commit
def slow_commit(self):
    print("committing", flush=True)
    time.sleep(120)
    original(self)
_outputs.Output.commit = slow_commit
from llmprep.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("command", ["tokenize", "tokenize-raw", "merge", "vocab"])
def test_a_signal_during_any_writer_leaves_nothing(tmp_path: Path, sig: int, command: str) -> None:
    story = tmp_path / "in" / "story.txt"
    story.parent.mkdir()
    story.write_text(STORY)
    tok = tmp_path / "in" / "t.tok"
    _write(tok, [5, 6, 7])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    args = {
        "tokenize": ["tokenize", str(story), "-o", str(out_dir / "o.tok")],
        "tokenize-raw": ["tokenize", str(story), "-o", str(out_dir / "o.bin"), "--format", "raw"],
        "merge": ["merge", str(tok), "-o", str(out_dir / "m.tok")],
        "vocab": ["vocab", str(story), "-o", str(out_dir / "v.json")],
    }[command]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_COMMIT, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while "committing" not in proc.stdout.readline():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    assert any(p.name.endswith(".tmp") for p in out_dir.iterdir())  # mid-write: its temporary file exists
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert list(out_dir.iterdir()) == []


def test_an_exception_inside_output_removes_its_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Output(tmp_path / "x") as out:
        out.file.write(b"abc")
        out.scratch().write(b"spill")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_check_output_policy(tmp_path: Path) -> None:
    assert check_output(tmp_path / "new") is False
    with pytest.raises(ValueError, match="cannot be standard output"):
        check_output("-")
    assert check_output("-", allow_stdout=True) is True
