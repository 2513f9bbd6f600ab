"""The named encodings: what each one is, where its vocabulary comes from, and the per-process cache.

Each of tiktoken's encodings is described here as tiktoken_ext/openai_public.py describes it (files,
pattern, special tokens, size). `get_encoding` reads the files from tiktoken's cache (sha256-checked,
parsed in C++) and falls back to tiktoken's own loader, which downloads a missing or bad file.
Names from other tiktoken plugins (``tiktoken_ext.*`` packages) are loaded through their
constructors.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from llmprep import _core
from llmprep.encoding import load
from llmprep.encoding.core import Encoding, native_available
from llmprep.encoding.load import VocabFile

__all__ = ["ENCODING_NAMES", "get_encoding", "is_registered", "list_encoding_names"]

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"


@dataclass(frozen=True)
class _Source:
    """One way to read an encoding's ranks: GPT-2's two data-gym files, or one .tiktoken file."""

    files: tuple[VocabFile, ...]

    def build(self, special: dict[str, int], native: str, problems: list[str]) -> Any:
        contents: list[bytes] = []
        for file in self.files:
            data = load.read_tiktoken_cached(file, problems)
            if data is None:
                return None
            contents.append(data)
        if len(self.files) == 2:
            vocab_bpe, encoder_json = self.files
            return _core.bpe_encoder_from_data_gym(contents[0], contents[1], vocab_bpe.url, encoder_json.url, special)
        return _core.bpe_encoder_from_tiktoken(contents[0], self.files[0].url, special, pattern=native)


_GPT2_FILES = _Source((load.GPT2_VOCAB_BPE, load.GPT2_ENCODER_JSON))


@dataclass(frozen=True)
class _Spec:
    """A named encoding: its pre-tokenizer, ranks (first source found wins), specials and size."""

    pattern: str
    sources: tuple[_Source, ...]
    special_tokens: dict[str, int] = field(hash=False)
    explicit_n_vocab: int | None = None


def _o200k_harmony_specials() -> dict[str, int]:
    special = {
        ENDOFTEXT: 199999,
        ENDOFPROMPT: 200018,
        "<|startoftext|>": 199998,
        "<|reserved_200000|>": 200000,
        "<|reserved_200001|>": 200001,
        "<|return|>": 200002,
        "<|constrain|>": 200003,
        "<|reserved_200004|>": 200004,
        "<|channel|>": 200005,
        "<|start|>": 200006,
        "<|end|>": 200007,
        "<|message|>": 200008,
        "<|reserved_200009|>": 200009,
        "<|reserved_200010|>": 200010,
        "<|reserved_200011|>": 200011,
        "<|call|>": 200012,
    }
    return special | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}


_SPECS: dict[str, _Spec] = {
    "gpt2": _Spec("gpt2", (_GPT2_FILES,), {ENDOFTEXT: 50256}, 50257),
    # r50k_base's file holds exactly gpt2's ranks (its sha256 is that of gpt2's ranks written as a
    # .tiktoken file; tests check it), so gpt2's cached files serve it when its own file is absent.
    "r50k_base": _Spec("gpt2", (_Source((load.R50K_BASE,)), _GPT2_FILES), {ENDOFTEXT: 50256}, 50257),
    "p50k_base": _Spec("gpt2", (_Source((load.P50K_BASE,)),), {ENDOFTEXT: 50256}, 50281),
    "p50k_edit": _Spec(
        "gpt2",
        (_Source((load.P50K_BASE,)),),
        {ENDOFTEXT: 50256, FIM_PREFIX: 50281, FIM_MIDDLE: 50282, FIM_SUFFIX: 50283},
    ),
    "cl100k_base": _Spec(
        "cl100k_base",
        (_Source((load.CL100K_BASE,)),),
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276},
    ),
    "o200k_base": _Spec("o200k_base", (_Source((load.O200K_BASE,)),), {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}),
    "o200k_harmony": _Spec("o200k_base", (_Source((load.O200K_BASE,)),), _o200k_harmony_specials()),
}

# tiktoken's own encodings, in tiktoken's order.
ENCODING_NAMES: tuple[str, ...] = tuple(_SPECS)


def native_pattern_of(name: str) -> str:
    """The native pre-tokenizer of a registered encoding's name (``"gpt2"`` for names not registered).

    Example:
        >>> native_pattern_of("o200k_harmony"), native_pattern_of("my-llama3")
        ('o200k_base', 'gpt2')
    """
    spec = _SPECS.get(name)
    return "gpt2" if spec is None else spec.pattern


_lock = threading.RLock()
_ENCODINGS: dict[str, Encoding] = {}
_plugins: dict[str, Callable[[], dict[str, Any]]] | None = None


def _plugin_constructors() -> dict[str, Callable[[], dict[str, Any]]]:
    """Encodings from tiktoken plugins other than OpenAI's (``tiktoken_ext.*`` modules), found as tiktoken does."""
    global _plugins
    with _lock:
        if _plugins is None:
            found: dict[str, Callable[[], dict[str, Any]]] = {}
            try:
                import tiktoken_ext
            except ImportError:  # tiktoken is not installed: no plugins
                tiktoken_ext = None
            if tiktoken_ext is not None:
                for _, module_name, _ in pkgutil.iter_modules(tiktoken_ext.__path__, "tiktoken_ext."):
                    if module_name == "tiktoken_ext.openai_public":
                        continue  # the encodings above
                    module = importlib.import_module(module_name)
                    constructors = getattr(module, "ENCODING_CONSTRUCTORS", None)
                    if constructors is None:
                        raise ValueError(f"tiktoken plugin {module_name} does not define ENCODING_CONSTRUCTORS")
                    for name, constructor in constructors.items():
                        if name in found or name in _SPECS:
                            raise ValueError(f"Duplicate encoding name {name} in tiktoken plugin {module_name}")
                        found[name] = constructor
            _plugins = found
        return _plugins


def list_encoding_names() -> list[str]:
    """The names `get_encoding` accepts: tiktoken's encodings, then any from other tiktoken plugins.

    Example:
        >>> list_encoding_names()[:3]
        ['gpt2', 'r50k_base', 'p50k_base']
    """
    return [*ENCODING_NAMES, *_plugin_constructors()]


def is_registered(encoding: Encoding) -> bool:
    """Whether ``encoding`` is the one `get_encoding` returns for its name (so it pickles by name)."""
    return _ENCODINGS.get(encoding.name) is encoding


def get_encoding(encoding_name: str) -> Encoding:
    """The named encoding (e.g. ``"gpt2"``, ``"cl100k_base"``, ``"o200k_base"``), built once per process.

    The vocabulary is the one tiktoken downloads once and caches (set ``TIKTOKEN_CACHE_DIR`` to
    choose where): read from tiktoken's cache and parsed in C++ when it is there, else through
    tiktoken's own loader. Either way a file without tiktoken's expected sha256 is never used.

    Raises:
        ValueError: For a name that is not an encoding (see `list_encoding_names`).
        RuntimeError: If the vocabulary cannot be loaded (e.g. no network and no cache, or a
            corrupt cached file that cannot be downloaded again); the message says which file.

    Example:
        >>> get_encoding("gpt2").n_vocab
        50257
    """
    if not isinstance(encoding_name, str):
        raise ValueError(f"Expected a string in get_encoding, got {type(encoding_name)}")
    encoding = _ENCODINGS.get(encoding_name)
    if encoding is not None:
        return encoding
    with _lock:
        encoding = _ENCODINGS.get(encoding_name)
        if encoding is None:
            encoding = _load(encoding_name)
            _ENCODINGS[encoding_name] = encoding
        return encoding


def _load(name: str) -> Encoding:
    """Builds the named encoding (no caching: `get_encoding` caches)."""
    spec = _SPECS.get(name)
    if spec is None:
        plugins = _plugin_constructors()
        if name not in plugins:
            raise ValueError(f"unknown encoding {name!r}: llmprep knows {', '.join(map(repr, list_encoding_names()))}")
        return Encoding(**plugins[name]())
    problems: list[str] = []
    if native_available(spec.pattern):
        for source in spec.sources:
            built = source.build(dict(spec.special_tokens), spec.pattern, problems)
            if built is not None:
                return Encoding._from_core(name, spec.pattern, built, spec.explicit_n_vocab)
    return _load_through_tiktoken(name, problems)


def _load_through_tiktoken(name: str, problems: list[str]) -> Encoding:
    """The named encoding from tiktoken's own loader, which downloads a missing or bad file (hash-checked)."""
    try:
        from tiktoken_ext.openai_public import ENCODING_CONSTRUCTORS

        spec = ENCODING_CONSTRUCTORS[name]()
    except ImportError as e:
        raise RuntimeError(
            f"could not load the {name!r} vocabulary: it is not in tiktoken's cache and tiktoken, which would "
            "download it, is not installed (pip install tiktoken)"
        ) from e
    except Exception as e:
        found = "; ".join(problems) + ". " if problems else ""
        raise RuntimeError(
            f"could not load the {name!r} vocabulary through tiktoken ({type(e).__name__}: {e}). "
            f"{found}Without network access, set TIKTOKEN_CACHE_DIR to a directory that holds tiktoken's cached "
            "files, or load local files with llmprep.Encoding.from_tiktoken_file / Encoding.from_files."
        ) from e
    return Encoding(**spec)
