"""The shipped type stub lists exactly what the extension exports, and the package imports no torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import llmprep
from llmprep import _core
from llmprep._core import _testing


def _stub_names(relative: str) -> set[str]:
    stub = Path(llmprep.__file__).parent / relative
    assert stub.is_file(), f"the {relative} stub must ship inside the package"
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}


def test_stub_matches_extension() -> None:
    exported = {name for name in dir(_core) if not name.startswith("_")}
    assert _stub_names("_core.pyi") == exported


def test_testing_stub_matches_submodule() -> None:
    # The test hooks live in one private submodule, importable by its dotted name too.
    import llmprep._core._testing as by_name

    assert by_name is _testing
    exported = {name for name in dir(_testing) if not name.startswith("_")}
    assert _stub_names("_core/_testing.pyi") == exported


def test_py_typed_marker_ships() -> None:
    assert Path(llmprep.__file__).with_name("py.typed").is_file()


def test_import_does_not_import_torch() -> None:
    code = "import sys, llmprep; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "False"


def test_public_names_exist() -> None:
    for name in llmprep.__all__:
        assert hasattr(llmprep, name), name
