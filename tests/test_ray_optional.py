"""Ray is an optional extra: `import llmprep` (and `llmprep.distributed`) never import it, and
`--ray` without it is one error naming the extra. Runs whether or not Ray is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_import_llmprep_does_not_import_ray() -> None:
    code = "import sys, llmprep, llmprep.distributed, llmprep.cli\nprint('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ray_flag_without_ray_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello world", encoding="utf-8")
    script = "import sys; sys.modules['ray'] = None\nfrom llmprep.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run(
        [sys.executable, "-c", script, "tokenize", "a.txt", "-o", "out", "--ray"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "pip install 'llmprep[ray]'" in out.stderr
    assert not (tmp_path / "out").exists()
