"""Every fuzz harness (fuzz/fuzz_<target>.py) passes on its committed seeds, without atheris.

This keeps the harnesses from rotting as the library changes: an input layout or API they rely on
that moved fails here, in the normal suite, not only when the fuzzers run in CI. It also checks
that the committed seeds still equal what each harness's ``write_seeds`` produces (rerun
``python fuzz/make_seeds.py`` and commit when a harness's inputs change).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import TIKTOKEN_CACHE

FUZZ_DIR = Path(__file__).resolve().parents[1] / "fuzz"
TARGETS = sorted(p.stem.removeprefix("fuzz_") for p in FUZZ_DIR.glob("fuzz_*.py"))
# Seeds written by the installed llmprep when the harness starts, so not compared byte for byte.
GENERATED_AT_RUN_TIME = {"token_file"}


def harness(target: str) -> ModuleType:
    if not TIKTOKEN_CACHE.is_dir():
        pytest.skip(f"tiktoken cache not found at {TIKTOKEN_CACHE}; the harnesses compare with tiktoken")
    if str(FUZZ_DIR) not in sys.path:
        sys.path.insert(0, str(FUZZ_DIR))
    return importlib.import_module(f"fuzz_{target}")


def test_there_are_harnesses() -> None:
    assert len(TARGETS) >= 10, TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_harness_passes_its_seeds(target: str) -> None:
    module = harness(target)
    seeds = sorted((FUZZ_DIR / "corpus" / target).iterdir())
    assert seeds, f"fuzz/corpus/{target} has no seeds"
    for seed in seeds:
        module.test_one_input(seed.read_bytes())


@pytest.mark.parametrize("target", TARGETS)
def test_committed_seeds_are_current(target: str, tmp_path: Path) -> None:
    module = harness(target)
    module.write_seeds(tmp_path)
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for data in written.values():
        module.test_one_input(data)
    if target in GENERATED_AT_RUN_TIME:
        return
    committed = {p.name: p.read_bytes() for p in (FUZZ_DIR / "corpus" / target).iterdir()}
    assert committed == written, f"rerun python fuzz/make_seeds.py {target} and commit fuzz/corpus/{target}"


def test_the_harness_catches_a_mismatch() -> None:
    # The fuzzers are only as good as their checks: a wrong answer must raise.
    module = harness("utf8")
    with pytest.raises(module.Mismatch, match="utf8_fault"):
        module.check_equal((0, 1, "x"), (-1, 0, ""), "utf8_fault")
