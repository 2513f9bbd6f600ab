"""`llmprep demo`, run as a user runs it, checked against the chapter's printed values."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import SHARED


def run_demo(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "llmprep", "demo", *args], capture_output=True, text=True, env=env, timeout=600
    )


@pytest.fixture(scope="module")
def demo_output(verdict_path, tiktoken_gpt2) -> str:
    out = run_demo("--text", str(verdict_path))
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_prints_the_chapters_values(demo_output: str, golden) -> None:
    out = demo_output
    assert f"Total number of character: {golden['verdict_chars']}\n{golden['verdict_first_99']}\n" in out
    assert str(golden["verdict_simple_first_30"]) + f"\n{golden['verdict_simple_tokens']}\n" in out
    assert f"\n{golden['vocab_v1_size']}\n" in out and f"\n{golden['vocab_v2_size']}\n" in out
    for word, index in golden["vocab_first_51"] + golden["vocab_v2_last_5"]:
        assert f"\n{(word, index)!r}\n" in out
    assert f"SimpleTokenizerV1.encode: {golden['v1_encode_ids']}" in out
    assert f"SimpleTokenizerV1.decode: {golden['v1_decode']!r}" in out
    assert "KeyError: 'Hello'" in out
    assert f"SimpleTokenizerV2.encode: {golden['v2_encode_ids']}" in out
    assert f"SimpleTokenizerV2.decode: {golden['v2_decode']!r}" in out
    assert f"{golden['gpt2_ids']}\n{golden['gpt2_decode']}\n" in out
    assert f"GPT-2 tokens in the text: {golden['verdict_gpt2_tokens']}" in out
    assert f"x: {golden['verdict_gpt2_sample_x']}\ny:      {golden['verdict_gpt2_sample_y']}" in out
    assert "first batch: [tensor([[  40,  367, 2885, 1464]]), tensor([[ 367, 2885, 1464, 1807]])]" in out
    assert "second batch: [tensor([[ 367, 2885, 1464, 1807]]), tensor([[2885, 1464, 1807, 3619]])]" in out
    assert "[  284,  3285,   326,    11]])\n\nTargets:" in out
    assert "[ 3285,   326,    11,   287]])" in out
    for row in golden["embedding_seed123_6x3_weight"]:
        assert ", ".join(f"{x: .4f}" for x in row) in out
    assert "input embeddings shape: torch.Size([8, 4, 256])" in out


def test_prints_side_by_side_timings(demo_output: str) -> None:
    section = demo_output.split("## Time per step")[1]
    for step in (
        "word vocabulary",
        "SimpleTokenizerV2.encode",
        "GPT-2 BPE encode",
        "dataset + all batches",
        "input embeddings",
    ):
        line = next(line for line in section.splitlines() if step in line)
        assert line.count(" ms") == 2 and line.rstrip().endswith("x")


def test_uses_the_cached_story_without_text(tmp_path, verdict_path, tiktoken_gpt2) -> None:
    shutil.copy(verdict_path, tmp_path / "the-verdict.txt")
    out = run_demo(env_extra={"LLMPREP_CACHE_DIR": str(tmp_path), "LLMPREP_STORY_URL": "http://127.0.0.1:9/none"})
    assert out.returncode == 0, out.stderr
    assert f"text: {tmp_path / 'the-verdict.txt'} (cache)" in out.stdout


def test_offline_without_cache_says_how_to_pass_text(tmp_path) -> None:
    out = run_demo(
        env_extra={
            "LLMPREP_CACHE_DIR": str(tmp_path / "empty"),
            "LLMPREP_STORY_URL": "http://127.0.0.1:9/the-verdict.txt",
        }
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1
    assert "not cached" in out.stderr and "pass a local copy with --text PATH" in out.stderr
    assert not (tmp_path / "empty" / "the-verdict.txt").exists()


def test_missing_text_file(tmp_path) -> None:
    out = run_demo("--text", str(tmp_path / "nope.txt"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "nope.txt" in out.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message shown without a GPU")
def test_cuda_without_gpu_is_a_clear_error(verdict_path) -> None:
    out = run_demo("--text", str(verdict_path), "--device", "cuda")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no CUDA device" in out.stderr


def test_runs_on_another_text_showing_the_v1_key_error(tmp_path, tiktoken_gpt2) -> None:
    # tinyshakespeare has no '"', which the chapter's V1 sentence starts with: the chapter's V1 raises
    # KeyError there (the error that used to end the demo with `llmprep: error: "`).
    source = SHARED / "data" / "tinyshakespeare.txt"
    if not source.is_file():
        pytest.skip(f"{source} is missing")
    excerpt = tmp_path / "shakespeare.txt"
    excerpt.write_text(source.read_text(encoding="utf-8")[:30_000], encoding="utf-8")
    out = run_demo("--text", str(excerpt))
    assert out.returncode == 0, out.stderr
    assert "SimpleTokenizerV1.encode: KeyError: '\"'" in out.stdout
    assert "SimpleTokenizerV1 on an unknown word: KeyError: 'Hello'" in out.stdout
    assert "input embeddings shape: torch.Size([8, 4, 256])" in out.stdout
    assert "## Time per step" in out.stdout


def test_runs_on_a_tiny_text_and_refuses_an_empty_one(tmp_path, tiktoken_gpt2) -> None:
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("Hello world.")
    out = run_demo("--text", str(tiny))
    assert out.returncode == 0, out.stderr
    assert "(the text has 3 GPT-2 tokens; the batches need 33: repeated 11x)" in out.stdout
    assert "## Time per step" in out.stdout
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    out = run_demo("--text", str(empty))
    assert out.returncode == 1 and out.stderr == f"llmprep: error: {empty} holds no words: the demo needs some text\n"
