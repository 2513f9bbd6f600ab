"""The command line, run as a user runs it: through a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import llmprep
import pytest


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


# -- vocabularies from local files, errors before loading, thread count, plurals -------------------


def _tokenize(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmprep", "tokenize", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_local_vocabulary_files(tmp_path, verdict_path, gpt2_dir, tiktoken_gpt2) -> None:
    import base64

    expected = tiktoken_gpt2.encode_ordinary(verdict_path.read_text(encoding="utf-8")) + [50256]
    out = _tokenize(
        str(verdict_path),
        "-o",
        str(tmp_path / "a.tok"),
        "--vocab-files",
        str(gpt2_dir / "encoder.json"),
        str(gpt2_dir / "vocab.bpe"),
        env={"TIKTOKEN_CACHE_DIR": str(tmp_path / "nowhere")},  # no cache needed
    )
    assert out.returncode == 0, out.stderr
    assert llmprep.open_tokens(tmp_path / "a.tok").tokens.tolist() == expected
    ranks = tmp_path / "gpt2.tiktoken"
    ranks.write_text(
        "".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in tiktoken_gpt2._mergeable_ranks.items())
    )
    out = _tokenize(str(verdict_path), "-o", str(tmp_path / "b.tok"), "--tiktoken-file", str(ranks))
    assert out.returncode == 0, out.stderr
    assert llmprep.open_tokens(tmp_path / "b.tok").tokens.tolist() == expected
    out = _tokenize(str(verdict_path), "-o", str(tmp_path / "c.tok"), "--tiktoken-file", str(tmp_path / "no.tiktoken"))
    assert out.returncode == 1 and "vocabulary file" in out.stderr and "does not exist" in out.stderr


def test_missing_input_is_reported_before_the_vocabulary_loads(tmp_path) -> None:
    # An empty cache folder and no network: loading the vocabulary would fail, so the message
    # proves the inputs were checked first.
    out = _tokenize(str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o.tok"), env={"TIKTOKEN_CACHE_DIR": ""})
    assert out.returncode == 1
    assert out.stderr == f"llmprep: error: input {tmp_path / 'missing.txt'} does not exist\n"


def test_a_missing_tiktoken_cache_dir_is_named(tmp_path, verdict_path) -> None:
    script = (
        "import sys, llmprep.encoding as e\n"
        "def offline(name):\n"
        "    raise RuntimeError(f'could not load the {name!r} vocabulary (offline)')\n"
        "e.get_encoding = offline\n"
        "from llmprep.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    missing = tmp_path / "no-such-cache"
    out = subprocess.run(
        [sys.executable, "-c", script, "tokenize", str(verdict_path), "-o", str(tmp_path / "o.tok")],
        capture_output=True,
        text=True,
        env={**os.environ, "TIKTOKEN_CACHE_DIR": str(missing)},
    )
    assert out.returncode == 1
    assert f"TIKTOKEN_CACHE_DIR={missing} does not exist" in out.stderr


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2x", " ", "99999999999999999999"])
def test_invalid_thread_count_is_an_error(tmp_path, verdict_path, value) -> None:
    out = _tokenize(str(verdict_path), "-o", str(tmp_path / "o.tok"), env={"LLMPREP_NUM_THREADS": value})
    assert out.returncode == 1
    assert "LLMPREP_NUM_THREADS must be a positive integer" in out.stderr
    assert not (tmp_path / "o.tok").exists()
    code = "import llmprep; llmprep.get_encoding('gpt2').encode_to_numpy('hello ' * 400_000)"
    py = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "LLMPREP_NUM_THREADS": value}
    )
    assert py.returncode == 1 and "LLMPREP_NUM_THREADS must be a positive integer" in py.stderr


def test_valid_thread_count_is_used(tmp_path, verdict_path) -> None:
    from llmprep import _core

    out = _tokenize(str(verdict_path), "-o", str(tmp_path / "o.tok"), env={"LLMPREP_NUM_THREADS": "3"})
    assert out.returncode == 0, out.stderr
    assert _core.default_num_threads() >= 1


def test_counts_are_pluralized(tmp_path) -> None:
    one = tmp_path / "one.txt"
    one.write_text("hello")
    out = _tokenize(str(one), "-o", str(tmp_path / "o.tok"), "--no-eot")
    assert out.returncode == 0
    assert out.stdout.startswith("tokenized 1 document, 1 token, 5 bytes in ")
    merged = subprocess.run(
        [sys.executable, "-m", "llmprep", "merge", str(tmp_path / "o.tok"), "-o", str(tmp_path / "m.tok")],
        capture_output=True,
        text=True,
    )
    assert merged.stdout.startswith("merged 1 file: 1 document, 1 token (uint16, gpt2)")
