"""The texts ``llmprep bench`` measures: the user's files, or the chapter's story plus a generated sample."""

from __future__ import annotations

import functools
import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["QUICK_BYTES", "Corpus", "default_corpora", "first_part", "load_corpora"]

#: --quick keeps this many bytes of each corpus (cut at a line end), so that a run takes under a minute
#: (--max-mb N keeps N MB instead).
QUICK_BYTES = 300_000
#: Documents for the batch calls: the corpus cut at line ends into pieces of about this size.
DOCUMENT_BYTES = 65_536
#: Size of the generated sample used when no corpus is given.
SAMPLE_BYTES = 2_000_000


@dataclass
class Corpus:
    """One text to measure, with where it came from."""

    name: str
    text: str
    origin: str
    path: str | None = None
    truncated_from: int | None = None
    _docs: list[str] | None = field(default=None, repr=False)

    @functools.cached_property
    def nbytes(self) -> int:
        """The size of the text in UTF-8 bytes."""
        return len(self.text.encode("utf-8"))

    @functools.cached_property
    def sha256(self) -> str:
        """The SHA-256 of the text's UTF-8 bytes (computed once: also the key of per-corpus caches)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def docs(self) -> list[str]:
        """The text cut at line ends into ~64 KB documents (the input of the batch calls); one list, reused."""
        if self._docs is None:
            self._docs = split_documents(self.text, DOCUMENT_BYTES)
        return self._docs

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "path": self.path,
            "bytes": self.nbytes,
            "characters": len(self.text),
            "sha256": self.sha256,
            "documents": len(self.docs),
            "truncated_from_bytes": self.truncated_from,
        }


def split_documents(text: str, size: int) -> list[str]:
    """``text`` cut after the first line end at or beyond every ``size`` characters; joined, they give ``text``."""
    docs, start = [], 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        docs.append(text[start:end])
        start = end
    return docs


def first_part(corpus: Corpus, max_bytes: int | None) -> Corpus:
    """The corpus, or its first ``max_bytes`` UTF-8 bytes cut after the last line end in them (``--quick``,
    ``--max-mb``): whole lines, so whole documents; a text with no line end there is cut after a whole
    character. A cut corpus records its full size in ``truncated_from`` (the reports say "first part of")."""
    if max_bytes is None or corpus.nbytes <= max_bytes:
        return corpus
    head = corpus.text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")
    cut = head.rfind("\n")
    text = head[: cut + 1] if cut > 0 else head
    return Corpus(corpus.name, text, corpus.origin, corpus.path, truncated_from=corpus.nbytes)


def load_corpora(paths: list[str], max_bytes: int | None = None) -> list[Corpus]:
    """The user's corpus files, read as UTF-8 (with ``max_bytes``: the first part of each, see `first_part`).

    Raises:
        FileNotFoundError: a path is missing or is not a file.
        ValueError: a file is not valid UTF-8, or is empty.
    """
    from llmprep import _core

    corpora = []
    seen: dict[str, int] = {}
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"corpus file not found: {path} (give UTF-8 text files)")
        text = _core.read_text(os.fsdecode(path), False)
        if not text:
            raise ValueError(f"corpus file {path} is empty: give a file with some text")
        name = Path(path).name
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # two files of one name in different folders stay apart in the tables
            name = f"{name} ({seen[name]})"
        corpora.append(first_part(Corpus(name, text, "file", path=os.path.abspath(path)), max_bytes))
    return corpora


_COMMON = (
    "the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
    "they you were her she there been one all we their has would when if so no will more can who said"
)
_RARE = (
    "painter portrait studio canvas gallery terrace villa riviera sketch brush colour widow fortune "
    "masterpiece silence glimpse mirror drawing honour cheque sunlit lamplight velvet mahogany"
)


def generated_sample(nbytes: int, seed: int = 0) -> str:
    """A reproducible text of about ``nbytes``: sentences of English words with numbers, punctuation,
    some accented, Greek, Cyrillic and CJK words (so that non-ASCII paths are measured too) and line
    breaks. Not natural text: a stand-in when no corpus is given, said so in every report."""
    rng = random.Random(seed)
    common, rare = _COMMON.split(), _RARE.split()
    foreign = ["café", "naïve", "Zürich", "λόγος", "мир", "東京", "データ", "ñandú", "Ærø", "straße"]
    out: list[str] = []
    size = 0
    while size < nbytes:
        words = []
        for _ in range(rng.randint(6, 24)):
            roll = rng.random()
            if roll < 0.70:
                words.append(rng.choice(common))
            elif roll < 0.90:
                words.append(rng.choice(rare) + ("s" if rng.random() < 0.3 else ""))
            elif roll < 0.95:
                words.append(str(rng.randint(0, 10 ** rng.randint(1, 6))))
            else:
                words.append(rng.choice(foreign))
        sentence = " ".join(words)
        sentence = sentence[0].upper() + sentence[1:] + rng.choice(".....!?;:") + " "
        if rng.random() < 0.2:
            sentence = f'"{sentence.strip()}" '
        if rng.random() < 0.15:
            sentence += "\n\n" if rng.random() < 0.5 else "\n"
        out.append(sentence)
        size += len(sentence.encode("utf-8"))
    return "".join(out)


def default_corpora(max_bytes: int | None = None) -> tuple[list[Corpus], list[str]]:
    """The chapter's story (from llmprep's cache, downloaded there once if missing) and a generated
    sample (of ``max_bytes`` when that is less than `SAMPLE_BYTES`; the story cut by `first_part`),
    with notes saying what was used and what was not available."""
    from llmprep.demo import cache_dir, load_story

    notes = []
    corpora = []
    try:
        story, origin = load_story(None)
        corpora.append(first_part(Corpus("the-verdict.txt", story, f"the chapter's story: {origin}"), max_bytes))
    except OSError as e:
        notes.append(f"the chapter's story is not available ({e}); put a copy at {cache_dir() / 'the-verdict.txt'}")
    size = SAMPLE_BYTES if max_bytes is None else min(SAMPLE_BYTES, max_bytes)
    corpora.append(
        Corpus(
            f"generated-{size // 1000}KB",
            generated_sample(size),
            "generated: random sentences of English words with numbers, punctuation and some non-Latin words "
            "(not natural text; give your own files for figures that mean something for your data)",
        )
    )
    notes.append("no corpus given: measuring " + " and ".join(c.name for c in corpora))
    return corpora, notes
