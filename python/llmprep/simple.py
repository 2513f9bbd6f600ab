"""The chapter's word-level tokenizer (``SimpleTokenizerV1``/``V2``), exact and fast.

The split, the vocabulary lookups and the decode clean-up run in C++ (``llmprep._core``); this
module owns the policy: argument checks, the unknown-word mode, the id dtype and persistence.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from llmprep import _core
from llmprep.tokens import MAX_TOKEN_ID, narrowest_id_dtype

__all__ = ["CHAPTER_PATTERN", "DEFAULT_SPECIALS", "UNK_TOKEN", "SimpleTokenizer"]

#: The chapter's split pattern; with it (the default) the C++ fast path runs.
CHAPTER_PATTERN = r'([,.:;?_!"()\']|--|\s)'
#: The special tokens the chapter appends to the vocabulary in section 2.4, in its order.
DEFAULT_SPECIALS: tuple[str, ...] = ("<|endoftext|>", "<|unk|>")
#: The token that stands for unknown words in ``unknown="unk"`` mode (the chapter's V2).
UNK_TOKEN = "<|unk|>"

_SAVE_FORMAT = "llmprep.SimpleTokenizer"
_SAVE_VERSION = 1

Unknown = Literal["error", "unk"]


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be str, not {type(text).__name__}")
    return text


def _id_dtype(ids: Iterable[int]) -> np.dtype:
    """The narrowest id dtype that holds every id: uint16, else uint32 (as token storage), else int64."""
    values = list(ids)
    low, high = min(values, default=0), max(values, default=-1)
    if low < -(2**63) or high >= 2**63:
        raise ValueError(f"vocabulary ids must fit in 64 bits; got ids from {low} to {high}")
    if low >= 0 and high <= MAX_TOKEN_ID:
        return narrowest_id_dtype(vocab_size=high + 1)
    # A user's vocabulary may hold ids no token file can (negative, or above 2**32 - 1): int64 holds them.
    return np.dtype(np.int64)


def _as_id_array(ids: object) -> np.ndarray:
    """Token ids (any iterable of ints or an integer numpy array) as a 1-D int64 array."""
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be a sequence of ints, not {type(ids).__name__}")
    if isinstance(ids, np.ndarray):
        array = ids
    else:
        try:
            items = list(ids)  # type: ignore[call-overload]
        except TypeError:
            raise TypeError(f"ids must be a sequence of ints, not {type(ids).__name__}") from None
        if not items:
            return np.zeros(0, dtype=np.int64)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
                raise TypeError(f"ids must be ints; got {item!r} of type {type(item).__name__}")
        try:
            array = np.asarray(items, dtype=np.int64)
        except OverflowError:
            big = next(i for i in items if not -(2**63) <= int(i) < 2**63)
            raise KeyError(f"token id {big} is not in the vocabulary") from None
    if array.dtype.kind not in "iu":
        raise TypeError(f"ids must be integers; got an array of dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"ids must be one-dimensional; got shape {array.shape}")
    if array.dtype == np.uint64 and array.size and int(array.max()) >= 2**63:
        raise KeyError(f"token id {int(array.max())} is not in the vocabulary")
    return np.ascontiguousarray(array, dtype=np.int64)


class SimpleTokenizer:
    """The chapter's regex tokenizer: words and punctuation mapped through a fixed vocabulary.

    ``unknown="error"`` is the chapter's ``SimpleTokenizerV1``: an unknown word raises
    ``KeyError`` naming it. ``unknown="unk"`` is ``SimpleTokenizerV2``: unknown words become the
    id of ``<|unk|>``, and decoding also glues ``:`` and ``;`` to the previous word.

    Args:
        vocab: Word -> id mapping, e.g. from :meth:`from_text` or the chapter's ``vocab`` dict.
        unknown: ``"error"`` (V1) or ``"unk"`` (V2; the vocabulary must contain ``<|unk|>``).
        pattern: A different split pattern for ``re.split``. Anything but the chapter's pattern
            runs a pure-Python fallback (Python ``re``; same results, much slower).

    Raises:
        TypeError: ``vocab`` is not a mapping of str to int.
        ValueError: ``unknown`` is not ``"error"``/``"unk"``, ``"unk"`` without ``<|unk|>`` in the
            vocabulary, or an invalid ``pattern``.

    >>> tok = SimpleTokenizer({"Hello": 0, ",": 1, "world": 2, "!": 3})
    >>> tok.encode("Hello, world!")
    [0, 1, 2, 3]
    >>> tok.decode([0, 1, 2, 3])
    'Hello, world!'
    """

    def __init__(self, vocab: Mapping[str, int], unknown: Unknown = "error", *, pattern: str | None = None) -> None:
        if not isinstance(vocab, Mapping):
            raise TypeError(f"vocab must be a mapping of str to int, not {type(vocab).__name__}")
        for word, index in vocab.items():
            if not isinstance(word, str):
                raise TypeError(f"vocab keys must be str; got {word!r} of type {type(word).__name__}")
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise TypeError(f"vocab ids must be ints; {word!r} maps to {index!r}")
            try:
                word.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(
                    f"vocab word {word!r} contains a lone surrogate (index {e.start}), which cannot be encoded as UTF-8"
                ) from None
        self._setup({word: int(index) for word, index in vocab.items()}, unknown, pattern)

    def _setup(self, vocab: dict[str, int], unknown: Unknown, pattern: str | None) -> None:
        """Builds the tokenizer from a vocabulary whose words and ids are known to be valid."""
        if unknown not in ("error", "unk"):
            raise ValueError(f'unknown must be "error" (V1) or "unk" (V2), not {unknown!r}')
        if unknown == "unk" and UNK_TOKEN not in vocab:
            raise ValueError(
                f'unknown="unk" needs {UNK_TOKEN!r} in the vocabulary; build it with '
                f"SimpleTokenizer.from_text(text) (which appends {DEFAULT_SPECIALS}) or add it yourself"
            )
        self._vocab: dict[str, int] = vocab
        self._unknown: Unknown = unknown
        self._dtype = _id_dtype(self._vocab.values())
        self._regex: re.Pattern[str] | None = None
        if pattern is not None and pattern != CHAPTER_PATTERN:
            try:
                self._regex = re.compile(pattern)
            except re.error as e:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None
        self._pattern: str = CHAPTER_PATTERN if pattern is None or self._regex is None else pattern
        unk_id = self._vocab[UNK_TOKEN] if unknown == "unk" else None
        self._core = _core.SimpleTokenizerCore(list(self._vocab), list(self._vocab.values()), unk_id)

    # -- construction ------------------------------------------------------------------------

    @classmethod
    def from_text(
        cls,
        text: str,
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unknown: Unknown = "unk",
        *,
        pattern: str | None = None,
    ) -> SimpleTokenizer:
        """Builds the vocabulary as the chapter does: sorted unique words, then the specials.

        With ``specials=()`` and ``unknown="error"`` this is the chapter's V1 vocabulary; with the
        defaults, V2's. Ids follow the chapter's ``{token: i for i, token in enumerate(...)}``.

        Args:
            text: The corpus.
            specials: Tokens appended after the sorted words, in order.
            unknown: ``"unk"`` (default, V2) or ``"error"`` (V1).
            pattern: See the class docstring.

        Returns:
            A new tokenizer.

        Raises:
            TypeError: ``text`` is not str or ``specials`` is not a sequence of str.
            ValueError: ``text`` has no tokens, or a lone surrogate.

        >>> tok = SimpleTokenizer.from_text("the cat sat on the mat.")
        >>> len(tok), tok.encode("the dog sat.")
        (8, [5, 7, 4, 0])
        """
        _check_text(text)
        specials = cls._check_specials(specials)
        if pattern is None or pattern == CHAPTER_PATTERN:
            words = _core.simple_sorted_tokens(text)
        else:
            words = sorted(set(cls._python_split(cls._compile(pattern), text)))
        return cls._from_words(words, specials, unknown, pattern, source="text")

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        specials: Sequence[str] = DEFAULT_SPECIALS,
        unknown: Unknown = "unk",
        *,
        errors: Literal["strict", "replace"] = "strict",
        pattern: str | None = None,
    ) -> SimpleTokenizer:
        """Like :meth:`from_text` on a UTF-8 file, read and decoded in C++.

        Args:
            path: The file.
            specials: Tokens appended after the sorted words, in order.
            unknown: ``"unk"`` (default, V2) or ``"error"`` (V1).
            errors: ``"strict"`` raises :class:`llmprep.InvalidUTF8Error` naming the file and
                byte offset of the first invalid sequence; ``"replace"`` substitutes U+FFFD
                exactly as Python's decoder does.
            pattern: See the class docstring.

        Returns:
            A new tokenizer.

        Raises:
            FileNotFoundError, OSError: The file cannot be read.
            InvalidUTF8Error: Invalid UTF-8 with ``errors="strict"``.
            ValueError: The file has no tokens, or ``errors`` is not strict/replace.
        """
        if errors not in ("strict", "replace"):
            raise ValueError(f'errors must be "strict" or "replace", not {errors!r}')
        specials = cls._check_specials(specials)
        filename = os.fsdecode(path)
        if pattern is None or pattern == CHAPTER_PATTERN:
            words = _core.simple_sorted_tokens_file(filename, errors == "replace")
        else:
            text = _core.read_text(filename, errors == "replace")
            words = sorted(set(cls._python_split(cls._compile(pattern), text)))
        return cls._from_words(words, specials, unknown, pattern, source=f"file {filename!r}")

    @classmethod
    def _from_words(
        cls, words: list[str], specials: tuple[str, ...], unknown: Unknown, pattern: str | None, source: str
    ) -> SimpleTokenizer:
        if not words:
            raise ValueError(f"the {source} contains no tokens; cannot build a vocabulary from it")
        all_tokens = words + list(specials)
        # The chapter's dict comprehension: a special that is also a word keeps its later id.
        vocab = {token: integer for integer, token in enumerate(all_tokens)}
        # The words come from the splitter and the specials were checked: skip __init__'s
        # per-entry validation, which cost more than building the vocabulary itself.
        tokenizer = cls.__new__(cls)
        tokenizer._setup(vocab, unknown, pattern)
        return tokenizer

    @staticmethod
    def _check_specials(specials: Sequence[str]) -> tuple[str, ...]:
        if isinstance(specials, str) or not isinstance(specials, Iterable):
            raise TypeError(
                f'specials must be a sequence of str such as ("<|endoftext|>", "<|unk|>"), not {specials!r}'
            )
        specials = tuple(specials)
        for special in specials:
            if not isinstance(special, str):
                raise TypeError(f"specials must be str; got {special!r}")
            try:
                special.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"special {special!r} contains a lone surrogate (index {e.start})") from None
        return specials

    @staticmethod
    def _compile(pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern)
        except re.error as e:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None

    @staticmethod
    def _python_split(regex: re.Pattern[str], text: str) -> list[str]:
        # The chapter's two lines, verbatim: the fallback for patterns other than the chapter's.
        return [item.strip() for item in regex.split(text) if item.strip()]

    # -- the tokenizer -----------------------------------------------------------------------

    @property
    def vocab(self) -> Mapping[str, int]:
        """The word -> id mapping (read-only view)."""
        return MappingProxyType(self._vocab)

    @property
    def unknown(self) -> Unknown:
        """``"error"`` (V1) or ``"unk"`` (V2)."""
        return self._unknown

    @property
    def pattern(self) -> str:
        """The split pattern in use (the chapter's unless given)."""
        return self._pattern

    @property
    def dtype(self) -> np.dtype:
        """The dtype of :meth:`encode_to_numpy` results: uint16 when every id fits, else uint32/int64."""
        return self._dtype

    def __len__(self) -> int:
        return len(self._vocab)

    def __repr__(self) -> str:
        return f"SimpleTokenizer(<{len(self)} words>, unknown={self._unknown!r})"

    def split(self, text: str) -> list[str]:
        """The chapter's pre-tokenization: ``re.split`` on the pattern, strip, drop empties.

        >>> SimpleTokenizer({}).split("Hello, world. Is this-- a test?")
        ['Hello', ',', 'world', '.', 'Is', 'this', '--', 'a', 'test', '?']
        """
        _check_text(text)
        if self._regex is not None:
            return self._python_split(self._regex, text)
        return _core.simple_split(text)

    def encode_to_numpy(self, text: str) -> np.ndarray:
        """Token ids of ``text`` as a numpy array of :attr:`dtype`.

        The array owns the buffer C++ wrote (no copy is made).

        Raises:
            KeyError: An unknown word with ``unknown="error"``; the message is the word.
            TypeError: ``text`` is not str.
            ValueError: ``text`` contains a lone surrogate.

        >>> SimpleTokenizer({"a": 0, "b": 1}).encode_to_numpy("a b a")
        array([0, 1, 0], dtype=uint16)
        """
        _check_text(text)
        if self._regex is not None:
            return np.asarray(self._python_lookup(self._python_split(self._regex, text)), dtype=self._dtype)
        return self._core.encode(text, self._dtype.name)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (the chapter's ``encode``).

        Raises:
            KeyError: An unknown word with ``unknown="error"``; the message is the word.
            TypeError: ``text`` is not str.
            ValueError: ``text`` contains a lone surrogate.

        >>> SimpleTokenizer({"a": 0, "b": 1}).encode("a b")
        [0, 1]
        """
        _check_text(text)
        if self._regex is not None:
            return self._python_lookup(self._python_split(self._regex, text))
        return self._core.encode_list(text, self._dtype.name)

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """Token ids of each text, encoded in parallel in C++ with the GIL released.

        Identical to ``[self.encode(t) for t in texts]``.

        Args:
            texts: A sequence of str.
            num_threads: Threads to use; ``None`` uses every core (or ``LLMPREP_NUM_THREADS``).

        Raises:
            KeyError: An unknown word with ``unknown="error"`` (the first failing text wins).
            TypeError: ``texts`` is a str or holds a non-str.
            ValueError: ``num_threads`` < 1, or a text with a lone surrogate.

        >>> SimpleTokenizer({"a": 0, "b": 1}).encode_batch(["a b", "b"])
        [[0, 1], [1]]
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence):
            raise TypeError(f"texts must be a sequence of str (use encode() for one text), not {type(texts).__name__}")
        threads = self._check_threads(num_threads)
        if self._regex is not None:
            return [self.encode(text) for text in texts]
        return self._core.encode_batch(texts, self._dtype.name, threads)

    @staticmethod
    def _check_threads(num_threads: int | None) -> int:
        if num_threads is None:
            return 0
        if isinstance(num_threads, bool) or not isinstance(num_threads, int):
            raise TypeError(f"num_threads must be an int or None, not {type(num_threads).__name__}")
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 (or None for all cores), not {num_threads}")
        return num_threads

    def _python_lookup(self, words: list[str]) -> list[int]:
        if self._unknown == "error":
            return [self._vocab[word] for word in words]
        unk = self._vocab[UNK_TOKEN]
        return [self._vocab.get(word, unk) for word in words]

    def decode(self, ids: Iterable[int] | np.ndarray) -> str:
        """Text of ``ids``: words joined by spaces, then the chapter's clean-up.

        V1 removes whitespace before ``,.?!"()'``; V2 (``unknown="unk"``) also before ``:;``.

        Raises:
            KeyError: An id that is not in the vocabulary; the message names it.
            TypeError: ``ids`` is not a sequence of ints.

        >>> SimpleTokenizer({"Hi": 0, "!": 1}).decode([0, 1])
        'Hi!'
        """
        return self._core.decode(_as_id_array(ids), self._unknown == "unk")

    # -- persistence -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Writes the vocabulary and settings as UTF-8 JSON (atomically: temp file, then rename).

        The output policy is llmprep's for every writer (`llmprep._outputs.Output`): an existing
        file is replaced only with ``overwrite=True``; a device such as ``/dev/stdout`` is written
        in place.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
            OSError: The file cannot be written (the message names ``path``).

        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "vocab.json")
        >>> SimpleTokenizer({"a": 0}).save(path)
        >>> SimpleTokenizer.load(path).vocab["a"]
        0
        """
        from llmprep._outputs import Output

        document = {
            "format": _SAVE_FORMAT,
            "version": _SAVE_VERSION,
            "unknown": self._unknown,
            "pattern": None if self._regex is None else self._pattern,
            "vocab": self._vocab,
        }
        data = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        with Output(path, overwrite=overwrite) as out:
            try:
                out.file.write(data)
            except OSError as e:
                raise out.error(e) from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimpleTokenizer:
        """Reads a file written by :meth:`save` (or a plain JSON object of word -> id).

        A plain mapping loads as V2 when it holds ``<|unk|>``, else as V1.

        Raises:
            FileNotFoundError, OSError: The file cannot be read.
            ValueError: The file is not valid JSON or not a vocabulary.
        """
        filename = os.fsdecode(path)
        with open(filename, encoding="utf-8") as f:
            try:
                document: Any = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{filename!r} is not valid JSON: {e}") from None
            except RecursionError:
                raise ValueError(f"{filename!r} does not hold a vocabulary (its JSON is nested too deeply)") from None
        if not isinstance(document, dict):
            raise ValueError(f"{filename!r} does not hold a vocabulary (expected a JSON object)")
        if document.get("format") == _SAVE_FORMAT:
            if document.get("version") != _SAVE_VERSION:
                raise ValueError(
                    f"{filename!r} has vocabulary format version {document.get('version')!r}; "
                    f"this llmprep reads version {_SAVE_VERSION}: upgrade llmprep"
                )
            vocab = document.get("vocab")
            if not isinstance(vocab, dict):
                raise ValueError(f"{filename!r} has no 'vocab' object")
            pattern = document.get("pattern")
            if pattern is not None and not isinstance(pattern, str):
                raise ValueError(f"{filename!r} has a 'pattern' that is not a string: {pattern!r}")
            args: tuple[Any, Any, Any] = (vocab, document.get("unknown", "error"), pattern)
        else:
            args = (document, "unk" if UNK_TOKEN in document else "error", None)
        try:
            return cls(args[0], args[1], pattern=args[2])
        except TypeError as e:  # a word or id of the wrong JSON type: a file that is not a vocabulary
            raise ValueError(f"{filename!r} does not hold a valid vocabulary: {e}") from None

    def __getstate__(self) -> dict[str, Any]:
        # The C++ object does not pickle; rebuild it (DataLoader workers under spawn need this).
        return {"vocab": self._vocab, "unknown": self._unknown, "pattern": self._pattern}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["vocab"], state["unknown"], pattern=state["pattern"])  # type: ignore[misc]
