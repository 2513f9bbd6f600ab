"""What every fuzz harness shares: the entry point, coverage instrumentation, the references.

A harness is `fuzz/fuzz_<target>.py` with a ``test_one_input(data: bytes) -> None`` that raises
`Mismatch` (an AssertionError) when llmprep disagrees with its reference, lets any undocumented
exception escape (atheris reports both as a crash and writes the input), and returns otherwise.
``python fuzz/fuzz_<target>.py [libFuzzer flags] CORPUS_DIR`` fuzzes it; ``python
fuzz/fuzz_<target>.py FILE`` runs one input (a reproducer). ``tests/test_fuzz_harnesses.py`` runs
each harness on its committed seeds, without atheris, so the harnesses cannot rot.
"""

from __future__ import annotations

import gc
import importlib.util
import os
import re
import sys
import types
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUZZ_DIR = ROOT / "fuzz"
CORPUS_DIR = FUZZ_DIR / "corpus"
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))

# tiktoken is the reference and must never reach for the network: use the shared offline cache
# unless the caller chose another (scripts/run_fuzzers.sh sets it too).
if (SHARED / "tiktoken-cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))

#: Every encoding the encode/decode harnesses try; each one `llmprep.get_encoding` cannot load yet
#: is skipped with a line on stderr (the GPT-2 pattern is all llmprep implements today).
ENCODING_NAMES = ("gpt2", "cl100k_base", "o200k_base")
_N_FEATURES = 1 << 16


class Mismatch(AssertionError):
    """llmprep and its reference disagree on an input."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


def check_equal(ours: object, reference: object, what: str) -> None:
    if ours != reference:
        raise Mismatch(f"{what}: llmprep gave {_short(ours)}, the reference {_short(reference)}")


def _short(value: object, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", result) or ("raise", exception): for comparing behaviour including the error."""
    try:
        return "ok", call()
    except Exception as e:  # the caller decides which exceptions are allowed
        return "raise", e


def check_same_outcome(ours: tuple[str, Any], reference: tuple[str, Any], what: str) -> None:
    """Same result, or both raised the same exception class."""
    if ours[0] == "ok" and reference[0] == "ok":
        check_equal(ours[1], reference[1], what)
        return
    if ours[0] == "raise" and reference[0] == "raise":
        if type(ours[1]) is not type(reference[1]):
            raise Mismatch(
                f"{what}: llmprep raised {type(ours[1]).__name__}({ours[1]}), "
                f"the reference {type(reference[1]).__name__}({reference[1]})"
            )
        return
    if ours[0] == "raise":
        raise Mismatch(
            f"{what}: llmprep raised {type(ours[1]).__name__}({ours[1]}); the reference gave {_short(reference[1])}"
        )
    raise Mismatch(
        f"{what}: the reference raised {type(reference[1]).__name__}({reference[1]}); llmprep gave {_short(ours[1])}"
    )


def check_key_error(ours: BaseException, reference: BaseException) -> None:
    """The SimpleTokenizer's KeyError names the unknown word the chapter's names."""
    (word,) = reference.args
    if ours.args != (word,):
        raise Mismatch(f"encode's KeyError: llmprep named {ours.args!r}, the chapter {reference.args!r}")


def text_of(data: bytes) -> str:
    """Fuzz bytes as text: UTF-8 (encoded surrogates become lone surrogates), else every invalid
    byte becomes a lone surrogate U+DC80..U+DCFF. Valid seeds stay readable; mutated ones reach
    the surrogate handling."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape")


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def chapter() -> types.ModuleType:
    """tests/_chapter_ch2.py, the chapter's code kept verbatim as the tests' reference."""
    name = "_fuzz_chapter_ch2"  # not the tests' name: this copy may have loaded without torch
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "_chapter_ch2.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # The chapter's tokenizers need no torch, only its dataset classes (unused here) do: a
        # stand-in spares each harness the torch import (10-20 s, more under the sanitizers).
        stubs = {} if "torch" in sys.modules else _torch_stand_in()
        sys.modules.update(stubs)
        try:
            spec.loader.exec_module(module)
        finally:
            for stub in stubs:
                del sys.modules[stub]
    return sys.modules[name]


def _torch_stand_in() -> dict[str, types.ModuleType]:
    torch, utils, data = (types.ModuleType(n) for n in ("torch", "torch.utils", "torch.utils.data"))
    data.Dataset = data.DataLoader = object  # type: ignore[attr-defined]
    torch.utils, utils.data = utils, data  # type: ignore[attr-defined]
    return {"torch": torch, "torch.utils": utils, "torch.utils.data": data}


def encoding_pairs() -> list[tuple[str, Any, Any]]:
    """(name, llmprep encoding, tiktoken encoding) for each of ENCODING_NAMES both can load."""
    import llmprep
    import tiktoken

    pairs = []
    for name in ENCODING_NAMES:
        try:
            ours = llmprep.get_encoding(name)
        except (ValueError, RuntimeError) as e:
            print(f"fuzz: skipping encoding {name!r}: llmprep cannot load it ({e})", file=sys.stderr)
            continue
        try:
            reference = tiktoken.get_encoding(name)
        except Exception as e:  # no offline copy of its vocabulary
            print(f"fuzz: skipping encoding {name!r}: tiktoken cannot load it offline ({e})", file=sys.stderr)
            continue
        pairs.append((name, ours, reference))
    if not pairs:
        raise RuntimeError(
            "no encoding could be loaded by both llmprep and tiktoken; set TIKTOKEN_CACHE_DIR to the shared cache"
        )
    return pairs


def seeds(target: str) -> list[Path]:
    """The committed seed inputs of a harness, sorted."""
    folder = CORPUS_DIR / target
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


# Coverage counters the harnesses set by hand (see `feature`): reserved before fuzzing starts.
_FEATURE_COUNTERS: list[int] = []
_FEATURES: dict[Hashable, int] = {}
_atheris: types.ModuleType | None = None  # set when fuzzing


def feature(*key: Hashable) -> None:
    """Tells libFuzzer that this input reached the behaviour ``key`` (one coverage counter per key).

    The C++ core is built without coverage instrumentation, so libFuzzer sees only the Python
    around it; the harnesses describe what the core did instead (which error, how many chunks,
    which token ids) so that inputs doing something new are kept and mutated further. A no-op
    outside fuzzing (tests), and once the counters are used up keys share them.
    """
    if _atheris is None:
        return
    index = _FEATURES.get(key)
    if index is None:
        index = _FEATURE_COUNTERS[hash(key) % len(_FEATURE_COUNTERS)]
        if len(_FEATURES) < len(_FEATURE_COUNTERS):
            index = _FEATURE_COUNTERS[len(_FEATURES)]
            _FEATURES[key] = index
    # Looked up on each call: atheris replaces its _trace_branch when fuzzing starts.
    _atheris._trace_branch(index)


def error_feature(where: str, error: BaseException) -> None:
    """`feature` for an exception: its class and its message with numbers and quoted parts removed,
    so each distinct error path of a parser counts once."""
    message = re.sub(r"'[^']*'|\"[^\"]*\"|\d+|b'[^']*'", "_", str(error))[:120]
    feature(where, type(error).__name__, message)


def _instrument(module_prefixes: Iterable[str]) -> None:
    """Adds atheris coverage to the Python functions of the given modules that are loaded now.

    Like ``atheris.instrument_imports()``, but for modules already imported (the harness imports
    llmprep normally, so the same module runs under pytest without instrumentation).
    """
    import atheris

    prefixes = tuple(module_prefixes)
    functions = [
        obj
        for obj in gc.get_objects()
        if type(obj) is types.FunctionType  # not isinstance: it would touch every object's __class__
        and isinstance(obj.__module__, str)
        and obj.__module__.startswith(prefixes)
    ]
    for function in functions:
        atheris.instrument_func(function)


def main(test_one_input: Callable[[bytes], None], prepare_corpus: Callable[[Path], None] | None = None) -> None:
    """Fuzzes ``test_one_input`` with atheris (libFuzzer flags and corpus folders from argv).

    Args:
        test_one_input: The harness.
        prepare_corpus: Writes extra seeds into the first corpus folder given, before fuzzing
            starts (for seeds that must come from the installed llmprep, e.g. token files).
    """
    import atheris

    folders = [Path(a) for a in sys.argv[1:] if not a.startswith("-") and Path(a).is_dir()]
    if prepare_corpus is not None and folders:
        prepare_corpus(folders[0])
    _instrument(("llmprep", "__main__", "_harness", "_fuzz_chapter_ch2"))
    global _atheris
    _FEATURE_COUNTERS.extend(atheris._reserve_counter() for _ in range(_N_FEATURES))
    _atheris = atheris
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


#: Texts that reach the interesting corners of the tokenizers, for the text harnesses' seeds.
SAMPLE_TEXTS = (
    "Hello, world! I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough.",
    "\"It's the last he painted, you know,\" Mrs. Gisburn said with pardonable pride. She'll; they've: we're?",
    "  leading  spaces,\ttabs\t\tand\n\nnewlines \r\n\r\n   trailing   ",
    "numbers 1234567 3.14159 1,000,000 2026-11-30 0x7FFF ١٢٣ ½",
    "Unicode: café naïve 日本語のテキスト 한국어 Ελληνικά русский עברית العربية 😀👍🏽 e\u0301 \u00a0nbsp\u3000ideo",
    "separators \x1c\x1d\x1e\x1f \x85 \u2028 \u2029 \u200b zero-width \ufeff bom \ufffd replacement",
    "specials <|endoftext|> and <|fim_prefix|>x<|fim_middle|>y<|fim_suffix|> <|endofprompt|> <|endoftext",
    "'s 'S 'll 'LL 've 'Ve 're 'd 'm 't 'T ’s contractions' edge''' cases'",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx----------------------------!!!!!",
    "",
)


def write_text_seeds(folder: Path, flag_bytes: Iterable[int], extra: Iterable[bytes] = ()) -> None:
    """Each sample text (UTF-8) behind each flag byte, plus ``extra`` raw inputs."""
    for flag in flag_bytes:
        for i, text in enumerate(SAMPLE_TEXTS):
            (folder / f"text{i:02d}-flags{flag:02x}").write_bytes(bytes([flag]) + text.encode("utf-8"))
    for i, data in enumerate(extra):
        (folder / f"extra{i:02d}").write_bytes(data)
