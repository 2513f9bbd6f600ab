"""Shared fixtures: where ../shared is, the chapter's golden values, the corpora, hypothesis sizes."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
GOLDEN_PATH = SHARED / "golden" / "ch02.json"
GPT2_DIR = SHARED / "gpt2"
TIKTOKEN_CACHE = SHARED / "tiktoken-cache"

# Property-test size comes from the environment so CI stays fast and a soak run can go big:
#   LLMPREP_HYPOTHESIS_EXAMPLES=20000 python -m pytest
settings.register_profile(
    "llmprep",
    max_examples=int(os.environ.get("LLMPREP_HYPOTHESIS_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("llmprep")

# scripts/sanitize.sh runs this suite again on a sanitizer build ("asan" or "tsan" here), after the
# plain run. The exhaustive tests on fixed inputs (every code point in every context, whole corpora,
# worst cases) then run llmprep's side only: the plain run compared exactly those inputs with the
# reference, and recomputing the reference (tiktoken, regex, unicodedata2: not instrumented) is most
# of their time. The C++ still sees every input under the sanitizer; random (hypothesis) inputs are
# still compared with the reference there.
SANITIZER = os.environ.get("LLMPREP_SANITIZER", "")


def plain_run_only(reason: str) -> pytest.MarkDecorator:
    """Skips a test under a sanitizer (see SANITIZER) whose C++ part another test there runs."""
    return pytest.mark.skipif(bool(SANITIZER), reason=f"plain run only: {reason}")


# Under a sanitizer the every-code-point tests check a deterministic sample: every SANITIZER_STRIDE-th
# code point plus every boundary one (ASCII, both ends of each UTF-8 length, the surrogates' neighbours,
# every whitespace character, both sides of each change of character class). The plain run compared
# every code point with the reference; what the sanitizer looks for (a read past a buffer, a bad table
# index) depends on a code point's class, UTF-8 length and neighbours, which the sample keeps whole.
SANITIZER_STRIDE = 7


def code_points_to_check(code_points: np.ndarray, hard: Iterable[int] = ()) -> np.ndarray:
    """``code_points`` (an int array), or under a sanitizer the sample described above (in order) and
    the test's own ``hard`` cases."""
    if not SANITIZER:
        return code_points
    from llmprep._core import _testing

    fine = _testing.unicode_fine_class_table()
    changes = np.flatnonzero(fine[1:] != fine[:-1])
    spaces = [cp for cp in range(0x3001) if chr(cp).isspace()]
    edges = [0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF, *range(128), *spaces, *hard]
    keep = (code_points % SANITIZER_STRIDE == 0) | np.isin(code_points, np.concatenate([edges, changes, changes + 1]))
    return code_points[keep]


def sanitizer_examples(count: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Under a sanitizer, a property test tries ``count`` examples (the plain run keeps the profile's);
    for tests whose cost is Python (or the reference) while their C++ calls run in other tests too."""
    if not SANITIZER:
        return lambda test: test
    return settings(max_examples=count)


# tiktoken must never reach for the network in tests: point it at the shared cache.
if TIKTOKEN_CACHE.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))


def corpus_paths() -> list[Path]:
    """All real corpora in ../shared/data, sorted; empty when ../shared is absent."""
    return sorted(DATA.glob("*.txt")) if DATA.is_dir() else []


@pytest.fixture(scope="session")
def golden() -> dict:
    if not GOLDEN_PATH.is_file():
        pytest.skip(f"golden values not found at {GOLDEN_PATH} (../shared is missing)")
    return json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def verdict_path() -> Path:
    path = DATA / "the-verdict.txt"
    if not path.is_file():
        pytest.skip(f"the chapter's story not found at {path} (../shared is missing)")
    return path


@pytest.fixture(scope="session")
def verdict_text(verdict_path: Path) -> str:
    return verdict_path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def gpt2_dir() -> Path:
    if not (GPT2_DIR / "encoder.json").is_file() or not (GPT2_DIR / "vocab.bpe").is_file():
        pytest.skip(f"GPT-2 vocabulary files not found in {GPT2_DIR}")
    return GPT2_DIR


@pytest.fixture(scope="session")
def tiktoken_gpt2():
    """tiktoken's GPT-2 encoding from the shared offline cache (the reference for BPE)."""
    if not TIKTOKEN_CACHE.is_dir():
        pytest.skip(f"tiktoken cache not found at {TIKTOKEN_CACHE}; no network here to download it")
    import tiktoken

    return tiktoken.get_encoding("gpt2")


def default_sigint() -> None:
    """`preexec_fn` for a child that a test interrupts with SIGINT: a shell that starts jobs in the
    background (as CI runners may) ignores SIGINT, the child inherits that, and Python then installs
    no KeyboardInterrupt handler; restore the default so the child sees the signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
