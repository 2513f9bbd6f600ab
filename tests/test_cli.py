"""The command line, run as a user runs it: through a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import llmprep


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmprep", *args], capture_output=True, text=True, cwd=cwd)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"llmprep {llmprep.__version__}"


def test_no_command_prints_help() -> None:
    out = run()
    assert out.returncode == 2
    assert "vocab" in out.stdout


def test_vocab_on_the_story(tmp_path, verdict_path, golden) -> None:
    target = tmp_path / "vocab.json"
    out = run("vocab", str(verdict_path), "-o", str(target), "--show", "3")
    assert out.returncode == 0, out.stderr
    assert "vocabulary: 1,132 entries" in out.stdout
    assert "tokens: 4,690" in out.stdout
    assert "     0  '!'" in out.stdout and '     2  "\'"' in out.stdout
    saved = json.loads(target.read_text(encoding="utf-8"))
    assert list(saved["vocab"].items())[-5:] == [tuple(x) for x in golden["vocab_v2_last_5"]]
    tok = llmprep.SimpleTokenizer.load(target)
    assert tok.encode(golden["v2_encode_text"]) == golden["v2_encode_ids"]


def test_vocab_v1_without_specials(tmp_path, verdict_path) -> None:
    out = run("vocab", str(verdict_path), "--specials", "-o", str(tmp_path / "v1.json"))
    assert out.returncode == 0, out.stderr
    assert "vocabulary: 1,130 entries" in out.stdout
    assert llmprep.SimpleTokenizer.load(tmp_path / "v1.json").unknown == "error"


def test_vocab_missing_file_is_one_line_error(tmp_path) -> None:
    out = run("vocab", str(tmp_path / "missing.txt"))
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "missing.txt" in out.stderr and "No such file" in out.stderr


def test_vocab_invalid_utf8_names_offset_then_replace_works(tmp_path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("naïve text".encode("latin-1"))
    out = run("vocab", str(path))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "byte offset 2" in out.stderr and "errors='replace'" in out.stderr
    out = run("vocab", str(path), "--errors", "replace")
    assert out.returncode == 0, out.stderr
    assert "tokens: 2" in out.stdout


def test_vocab_unwritable_output_is_clean_error(tmp_path, verdict_path) -> None:
    out = run("vocab", str(verdict_path), "-o", str(tmp_path / "no" / "such" / "dir" / "v.json"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "v.json: folder" in out.stderr and "does not exist" in out.stderr
    assert out.stdout == ""  # refused before the vocabulary was built


def test_output_into_a_closed_pipe_is_quiet(verdict_path) -> None:
    # `llmprep vocab FILE | head -1`: the reader exits early; no error message, no traceback. The
    # WikiText vocabulary prints far more than a pipe buffer holds, so the write really fails.
    corpus = verdict_path.with_name("wikitext2-test.txt")
    out = subprocess.run(
        f'"{sys.executable}" -m llmprep vocab "{corpus}" --show 100000 | head -1',
        shell=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.startswith("vocabulary: ")
    assert out.stderr == ""
