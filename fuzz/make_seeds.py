"""Regenerates the committed seed corpora: ``python fuzz/make_seeds.py [TARGET ...]``.

Each harness ``fuzz/fuzz_<target>.py`` has a ``write_seeds(folder)``; this empties
``fuzz/corpus/<target>/`` and writes its seeds there. Run it after changing a harness's input
layout (and commit the result); the fuzzers never write into these folders.
"""

from __future__ import annotations

import importlib
import shutil
import sys

from _harness import CORPUS_DIR, FUZZ_DIR


def targets() -> list[str]:
    """The names of all harnesses: fuzz/fuzz_<name>.py."""
    return sorted(p.stem.removeprefix("fuzz_") for p in FUZZ_DIR.glob("fuzz_*.py"))


def write(target: str) -> int:
    module = importlib.import_module(f"fuzz_{target}")
    folder = CORPUS_DIR / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    module.write_seeds(folder)
    return sum(1 for _ in folder.iterdir())


if __name__ == "__main__":
    for name in sys.argv[1:] or targets():
        print(f"{name}: {write(name)} seeds")
