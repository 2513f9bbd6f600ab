"""Every >>> example in the public modules runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib

import pytest
from conftest import DATA

MODULES = ["llmprep.simple", "llmprep.nn", "llmprep.tokens", "llmprep.corpus", "llmprep.sources", "llmprep._outputs"]
# The data modules' examples use the chapter's story as `raw_text`, as the chapter does.
DATA_MODULES = ["llmprep.data.dataset", "llmprep.data.sampler", "llmprep.data.loader"]


def _run(name: str, extraglobs: dict[str, object] | None = None) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs=extraglobs, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    _run(name)


@pytest.mark.parametrize("name", DATA_MODULES)
def test_data_doctests(name: str) -> None:
    story = DATA / "the-verdict.txt"
    if not story.is_file():
        pytest.skip(f"the chapter's story not found at {story} (../shared is missing)")
    _run(name, {"raw_text": story.read_text(encoding="utf-8")})
