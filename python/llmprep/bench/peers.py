"""Adapters: every tokenizer ``llmprep bench`` compares, behind one small interface.

A peer that is not installed, or cannot load an encoding offline, raises `Unavailable` from its
factory and becomes a row saying so. Each adapter hands out `Variant`s: one call of one API on one
input (the whole text, or the corpus's documents), at one thread count, into lists or into arrays.
Every variant of every tool receives the same ``str`` and the same list of documents.
"""

from __future__ import annotations

import base64
import importlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from llmprep.bench.corpora import Corpus
from llmprep.bench.exactness import as_ids

__all__ = ["PEERS", "Tool", "Unavailable", "Variant", "reference_for", "tools_for"]


class Unavailable(Exception):
    """A tool that cannot run here: ``status`` is "not installed" or "not available", the message says why."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _require(module: str, label: str, pip_name: str) -> Any:
    """The peer's module, or Unavailable("not installed") saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable("not installed", f"{label} is not installed (pip install {pip_name})") from None


@dataclass
class Variant:
    """One way of calling one tool. ``fn`` is None when the tool cannot run at this thread count."""

    tool: str
    api: str
    input: str  # "text" or "docs"
    output: str  # "list" or "array"
    threads: int
    fn: Callable[[], Any] | None
    to_ids: Callable[[Any], Any] = as_ids
    detail: str = ""

    @property
    def label(self) -> str:
        return f"{self.tool} {self.api}"


class Tool:
    """A tokenizer under test. Subclasses set ``name`` and implement ``variants``."""

    name = "tool"
    version: str | None = None

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        raise NotImplementedError


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _only_one(tool: str, api: str, input: str, output: str, threads: int, why: str) -> Variant:
    return Variant(tool, api, input, output, threads, None, detail=why)


class LlmprepBpe(Tool):
    name = "llmprep"

    def __init__(self, encoding: str) -> None:
        import llmprep

        self.version = _version("llmprep")
        self.enc = llmprep.get_encoding(encoding)

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        enc, text, docs = self.enc, corpus.text, corpus.docs
        return [
            Variant(self.name, "encode_ordinary", "text", "list", threads,
                    lambda: enc.encode_ordinary(text, num_threads=threads)),
            Variant(self.name, "encode_to_numpy", "text", "array", threads,
                    lambda: enc.encode_to_numpy(text, num_threads=threads)),
            Variant(self.name, "encode_ordinary_batch", "docs", "list", threads,
                    lambda: enc.encode_ordinary_batch(docs, num_threads=threads)),
        ]  # fmt: skip


class Tiktoken(Tool):
    name = "tiktoken"

    def __init__(self, encoding: str) -> None:
        self.version = _version("tiktoken")
        self.enc = _tiktoken_encoding(encoding)

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        enc, text, docs = self.enc, corpus.text, corpus.docs
        single = "tiktoken encodes one text on one thread"
        out = [
            Variant(self.name, "encode_ordinary", "text", "list", threads, lambda: enc.encode_ordinary(text))
            if threads == 1
            else _only_one(self.name, "encode_ordinary", "text", "list", threads, single),
            Variant(self.name, "encode_to_numpy", "text", "array", threads,
                    lambda: enc.encode_to_numpy(text, disallowed_special=()))
            if threads == 1
            else _only_one(self.name, "encode_to_numpy", "text", "array", threads, single),
            Variant(self.name, "encode_ordinary_batch", "docs", "list", threads,
                    lambda: enc.encode_ordinary_batch(docs, num_threads=threads)),
        ]  # fmt: skip
        return out


def _tiktoken_encoding(encoding: str) -> Any:
    tiktoken = _require("tiktoken", "tiktoken", "tiktoken")
    try:
        return tiktoken.get_encoding(encoding)
    except Exception as e:
        raise Unavailable("not available", f"tiktoken cannot load {encoding!r} ({type(e).__name__}: {e})") from None


#: gigatoken takes an encoding's pattern and special tokens from its rank file's name.
_GIGATOKEN_FILES = {"gpt2": "r50k_base", "r50k_base": "r50k_base", "cl100k_base": "cl100k_base",
                    "o200k_base": "o200k_base"}  # fmt: skip


class Gigatoken(Tool):
    name = "gigatoken"

    def __init__(self, encoding: str) -> None:
        gigatoken = _require("gigatoken", "gigatoken", "gigatoken")
        self.version = _version("gigatoken")
        if encoding not in _GIGATOKEN_FILES:
            raise Unavailable("not available", f"gigatoken has no {encoding!r} pre-tokenizer")
        ranks = _tiktoken_encoding(encoding)._mergeable_ranks
        # gigatoken reads .tiktoken rank files and takes the pattern from the file's name; the ranks are
        # tiktoken's own, so no download is needed.
        folder = Path(tempfile.mkdtemp(prefix="llmprep-bench-"))
        path = folder / f"{_GIGATOKEN_FILES[encoding]}.tiktoken"
        path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks.items()))
        try:
            self.tok = gigatoken.Tokenizer.from_tiktoken(path)
        finally:
            path.unlink()
            folder.rmdir()

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        tok, text, docs = self.tok, corpus.text, corpus.docs
        if threads == 1:
            return [
                Variant(self.name, "encode", "text", "array", 1, lambda: tok.encode(text)),
                Variant(self.name, "encode_batch_list", "docs", "list", 1,
                        lambda: tok.encode_batch_list(docs, parallel=False)),
            ]  # fmt: skip
        if threads == all_cores:
            return [
                Variant(self.name, "encode_batch", "text", "array", threads,
                        lambda: tok.encode_batch([text], parallel=True), to_ids=_awkward_ids),
                Variant(self.name, "encode_batch_list", "docs", "list", threads,
                        lambda: tok.encode_batch_list(docs, parallel=True)),
            ]  # fmt: skip
        why = "gigatoken runs on the calling thread or on its whole pool (RAYON_NUM_THREADS, set before start)"
        return [_only_one(self.name, "encode_batch", "text", "array", threads, why)]


def _awkward_ids(result: Any) -> Any:
    import awkward as ak

    return as_ids(ak.to_numpy(ak.flatten(result, axis=None)))


#: quicktok's built-in encodings that llmprep also has.
_QUICKTOK = ("cl100k_base", "o200k_base", "o200k_harmony")


class Quicktok(Tool):
    name = "quicktok"

    def __init__(self, encoding: str) -> None:
        quicktok = _require("quicktok", "quicktok", "quicktok-v1")
        self.version = _version("quicktok-v1")
        if encoding not in _QUICKTOK:
            raise Unavailable("not available", f"quicktok has no built-in {encoding!r}")
        self.enc = quicktok.get_encoding(encoding)

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        enc, text, docs = self.enc, corpus.text, corpus.docs
        first = _quicktok_ids
        out = [
            Variant(self.name, "encode_batch", "docs", "array", threads,
                    lambda: enc.encode_batch(docs, threads=threads), to_ids=first),
        ]  # fmt: skip
        if threads == 1:
            out.insert(0, Variant(self.name, "encode_ordinary", "text", "list", 1, lambda: enc.encode_ordinary(text)))
        return out


def _quicktok_ids(result: Any) -> Any:
    return as_ids(result[0])  # (tokens, offsets)


class HfTokenizers(Tool):
    name = "HF tokenizers"

    def __init__(self, encoding: str) -> None:
        tokenizers = _require("tokenizers", "HF tokenizers", "tokenizers")
        self.version = _version("tokenizers")
        if encoding not in ("gpt2", "r50k_base"):
            raise Unavailable("not available", f"no offline HF tokenizer.json for {encoding!r}")
        self.tok = _hf_gpt2(tokenizers)

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        tok, text, docs = self.tok, corpus.text, corpus.docs
        if threads == 1:
            return [Variant(self.name, "encode", "text", "list", 1, lambda: tok.encode(text).ids)]
        if threads == all_cores:
            return [Variant(self.name, "encode_batch", "docs", "list", threads,
                            lambda: [e.ids for e in tok.encode_batch(docs)])]  # fmt: skip
        why = "HF tokenizers runs one text on one thread, batches on its whole pool (RAYON_NUM_THREADS)"
        return [_only_one(self.name, "encode_batch", "docs", "list", threads, why)]


def _hf_gpt2(tokenizers: Any) -> Any:
    """GPT-2 as an HF tokenizer built from the GPT-2 files in tiktoken's cache (encoder.json, vocab.bpe)."""
    import json

    from tiktoken.load import read_file_cached

    base = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/"
    try:
        encoder = json.loads(read_file_cached(base + "encoder.json"))
        merges_text = read_file_cached(base + "vocab.bpe").decode("utf-8")
    except Exception as e:
        raise Unavailable("not available", f"GPT-2's encoder.json / vocab.bpe cannot be read ({e})") from None
    merges = [tuple(line.split()) for line in merges_text.split("\n")[1:] if line]
    model = tokenizers.models.BPE(encoder, merges)
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    return tok


class LlmprepSimple(Tool):
    name = "llmprep"

    def __init__(self, encoding: str) -> None:
        self.version = _version("llmprep")
        self._cache: dict[str, Any] = {}

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        from llmprep.simple import SimpleTokenizer

        if corpus.sha256 not in self._cache:
            self._cache[corpus.sha256] = SimpleTokenizer.from_text(corpus.text)
        tok, text, docs = self._cache[corpus.sha256], corpus.text, corpus.docs
        single = "SimpleTokenizer.encode / encode_to_numpy run on one thread"
        out = [
            Variant(self.name, "encode", "text", "list", 1, lambda: tok.encode(text))
            if threads == 1
            else _only_one(self.name, "encode", "text", "list", threads, single),
            Variant(self.name, "encode_to_numpy", "text", "array", 1, lambda: tok.encode_to_numpy(text))
            if threads == 1
            else _only_one(self.name, "encode_to_numpy", "text", "array", threads, single),
            Variant(self.name, "encode_batch", "docs", "list", threads,
                    lambda: tok.encode_batch(docs, num_threads=threads)),
        ]  # fmt: skip
        return out


class Chapter(Tool):
    """The chapter's SimpleTokenizerV2, verbatim, with the vocabulary the chapter builds from the corpus."""

    name = "chapter"

    def __init__(self, encoding: str) -> None:
        self._cache: dict[str, Any] = {}

    def tokenizer(self, corpus: Corpus) -> Any:
        from llmprep import _chapter
        from llmprep.simple import DEFAULT_SPECIALS

        if corpus.sha256 not in self._cache:
            self._cache[corpus.sha256] = _chapter.SimpleTokenizerV2(_chapter.build_vocab(corpus.text, DEFAULT_SPECIALS))
        return self._cache[corpus.sha256]

    def variants(self, corpus: Corpus, threads: int, all_cores: int) -> list[Variant]:
        tok, text = self.tokenizer(corpus), corpus.text
        if threads != 1:
            return [
                _only_one(self.name, "SimpleTokenizerV2.encode", "text", "list", threads, "pure Python, one thread")
            ]
        return [Variant(self.name, "SimpleTokenizerV2.encode", "text", "list", 1, lambda: tok.encode(text))]


#: The tools compared for BPE encodings, in table order: name -> factory(encoding). The first is the
#: reference whose ids every other must equal. Tests replace entries to simulate absent or wrong peers.
PEERS: dict[str, Callable[[str], Tool]] = {
    "tiktoken": Tiktoken,
    "llmprep": LlmprepBpe,
    "gigatoken": Gigatoken,
    "quicktok": Quicktok,
    "HF tokenizers": HfTokenizers,
}
#: The tools compared for ``--encodings simple`` (the chapter's word-level tokenizer).
SIMPLE_PEERS: dict[str, Callable[[str], Tool]] = {"chapter": Chapter, "llmprep": LlmprepSimple}


def tools_for(encoding: str) -> list[tuple[str, Tool | Unavailable]]:
    """Every tool for ``encoding``, in table order, each loaded or the reason it cannot be."""
    out: list[tuple[str, Tool | Unavailable]] = []
    for name, factory in (SIMPLE_PEERS if encoding == "simple" else PEERS).items():
        try:
            out.append((name, factory(encoding)))
        except Unavailable as e:
            out.append((name, e))
        except Exception as e:  # a broken peer is a row, not the end of the run
            out.append((name, Unavailable("not available", f"{type(e).__name__}: {e}")))
    return out


def reference_for(encoding: str, tools: list[tuple[str, Tool | Unavailable]], corpus: Corpus) -> dict[str, Any]:
    """The reference ids of ``corpus``: for the whole text and for its documents.

    The reference is tiktoken for BPE encodings and the chapter's SimpleTokenizerV2 for ``simple``.

    Raises:
        RuntimeError: the reference tool is not available (then nothing can be checked).
    """
    name, tool = tools[0]
    if isinstance(tool, Unavailable):
        raise RuntimeError(f"the reference tokenizer {name} is {tool.status}: {tool.detail}")
    if isinstance(tool, Chapter):
        tok = tool.tokenizer(corpus)
        return {"text": as_ids(tok.encode(corpus.text)), "docs": as_ids([tok.encode(d) for d in corpus.docs])}
    assert isinstance(tool, Tiktoken)
    return {
        "text": as_ids(tool.enc.encode_ordinary(corpus.text)),
        "docs": as_ids(tool.enc.encode_ordinary_batch(corpus.docs)),
    }
