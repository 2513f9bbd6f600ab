"""tiktoken's suite needs every encoding's vocabulary offline: a cache folder with all of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _vocab_cache import build_full_cache
from conftest import GPT2_DIR, TIKTOKEN_CACHE


@pytest.fixture(scope="package", autouse=True)
def _every_vocabulary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if not TIKTOKEN_CACHE.is_dir() or not (GPT2_DIR / "vocab.bpe").is_file():
        pytest.skip(f"tiktoken's suite needs the shared cache ({TIKTOKEN_CACHE}) and GPT-2's files; no network here")
    folder = build_full_cache(tmp_path_factory.mktemp("tiktoken-cache"), TIKTOKEN_CACHE, GPT2_DIR)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
        yield
