"""torch is an optional extra: the tokenizers and the tokenize CLI work without it, and the torch
parts name the extra to install. Each case runs in a fresh interpreter where ``import torch`` fails
(``sys.modules["torch"] = None``), as it does when torch is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

NO_TORCH = 'import sys\nsys.modules["torch"] = None  # "import torch" now raises ModuleNotFoundError\n'


def run_without_torch(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_tokenizers_work_without_torch() -> None:
    result = run_without_torch(
        """
        import llmprep
        assert llmprep.get_encoding("gpt2").encode("hello world") == [31373, 995]
        tok = llmprep.SimpleTokenizer.from_text("a b c")
        assert tok.decode(tok.encode("c a")) == "c a"
        assert not [m for m in sys.modules if m.startswith("torch.")]
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_tokenize_cli_works_without_torch(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("hello world\n", encoding="utf-8")
    result = run_without_torch(
        """
        from llmprep.cli import main
        sys.exit(main(["tokenize", "in.txt", "-o", "out.tok"]))
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.tok").stat().st_size > 0


@pytest.mark.parametrize("name", ["GPTDataset", "create_dataloader", "TokenEmbedding", "GPTEmbedding"])
def test_torch_parts_name_the_extra(name: str) -> None:
    result = run_without_torch(
        f"""
        import llmprep
        try:
            llmprep.{name}
        except ImportError as e:
            print(e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "llmprep[torch]"' in result.stdout
    assert f"llmprep.{name} needs PyTorch" in result.stdout


def test_nn_module_names_the_extra() -> None:
    result = run_without_torch(
        """
        try:
            import llmprep.nn
        except ImportError as e:
            print(e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "llmprep[torch]"' in result.stdout
