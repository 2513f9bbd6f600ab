"""`Encoding`: byte-level BPE with tiktoken's API and output, on llmprep's C++ encoder.

`Encoding` mirrors `tiktoken.Encoding` 0.14 (same methods, arguments, results and exception
types), so code written for tiktoken can switch by changing the import. Python owns the policy
(special-token rules, argument checks, surrogate repair, error messages); `llmprep._core.BpeEncoder`
does everything per byte, with a hand-written pre-tokenizer for each pattern in
`llmprep.encoding.patterns`.

An encoding whose ``pat_str`` is none of those runs exactly through tiktoken's own engine (a
`TiktokenFallbackWarning` says so once per pattern): slower, never a different answer.
"""

from __future__ import annotations

import bisect
import os
import threading
import warnings
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from llmprep import _core
from llmprep.encoding import load
from llmprep.encoding.patterns import GPT2_PATTERN, PATTERN_OF_NAME, native_pattern_name

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Encoding", "TiktokenFallbackWarning"]

AllowedSpecial = Literal["all"] | AbstractSet[str]
DisallowedSpecial = Literal["all"] | Collection[str]

_MAX_ID = 0xFFFFFFFF  # ids are uint32, as tiktoken's Rank
# Rust's char::is_whitespace (Unicode White_Space), which tiktoken's encode_with_unstable uses.
_WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                         "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # fmt: skip


class TiktokenFallbackWarning(UserWarning):
    """An encoding runs through tiktoken's engine because llmprep has no native pre-tokenizer for its pattern."""


# ----------------------------------------------------------------------------------------------
# Which patterns the compiled core runs


_native_lock = threading.Lock()
_native_available: dict[str, bool] = {}


def native_available(native: str) -> bool:
    """Whether this build of `llmprep._core` has the pre-tokenizer ``native`` (decided once, by trying it)."""
    with _native_lock:
        if native not in _native_available:
            try:
                _core.BpeEncoder({bytes([b]): b for b in range(256)}, {}, pattern=native)
                _native_available[native] = True
            except ValueError:
                _native_available[native] = False
        return _native_available[native]


_warned_lock = threading.Lock()
_warned_patterns: set[str] = set()


def _warn_fallback(name: str, pat_str: str) -> None:
    with _warned_lock:
        if pat_str in _warned_patterns:
            return
        _warned_patterns.add(pat_str)
    native = native_pattern_name(pat_str)
    why = (
        f"this build of llmprep's C++ core lacks the {native} pre-tokenizer"
        if native is not None
        else "llmprep has native pre-tokenizers only for the GPT-2, cl100k_base and o200k_base patterns "
        f"(llmprep.encoding.patterns), not for {pat_str!r}"
    )
    warnings.warn(
        f"encoding {name!r} runs through tiktoken's engine (exact, at tiktoken's speed): {why}",
        TiktokenFallbackWarning,
        stacklevel=3,
    )


def _import_tiktoken(why: str) -> Any:
    try:
        import tiktoken
    except ImportError as e:
        raise ImportError(f"{why} needs tiktoken, which is not installed: pip install tiktoken") from e
    return tiktoken


# ----------------------------------------------------------------------------------------------
# Encoding


class Encoding:
    """A byte-level BPE encoding, compatible with `tiktoken.Encoding`.

    Build one with `llmprep.get_encoding`, `Encoding.from_tiktoken_file` or `Encoding.from_files`;
    the constructor takes tiktoken's arguments. It runs natively when ``pat_str`` is one of the
    patterns in `llmprep.encoding.patterns` (GPT-2, cl100k_base, o200k_base); any other pattern runs
    through tiktoken's engine, with a `TiktokenFallbackWarning` (once per pattern).

    Pickling (``pickle``, ``copy.deepcopy``, multiprocessing): an encoding from `get_encoding`
    pickles as its name and is loaded again (once per process) on the other side; any other
    encoding pickles as its ranks, pattern and special tokens.

    Args:
        name: The encoding's name (e.g. ``"gpt2"``).
        pat_str: The pre-tokenization pattern (default: GPT-2's).
        mergeable_ranks: Token bytes -> rank (the rank is the id and the merge priority).
        special_tokens: Special-token text -> id.
        explicit_n_vocab: If given, the vocabulary size that the tables must add up to.

    Raises:
        ValueError: For a table without all 256 single bytes, duplicate ids, or a size that does
            not match ``explicit_n_vocab``.
        ImportError: For a pattern with no native pre-tokenizer when tiktoken is not installed.

    Example:
        >>> from llmprep import get_encoding
        >>> enc = get_encoding("gpt2")
        >>> enc.encode("hello world")
        [31373, 995]
        >>> enc.decode([31373, 995])
        'hello world'
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Encoding:
        pat_str = kwargs.get("pat_str", GPT2_PATTERN)
        if cls is Encoding:
            native = native_pattern_name(pat_str) if isinstance(pat_str, str) else None
            if native is None or not native_available(native):
                cls = _TiktokenEngineEncoding
        return object.__new__(cls)

    def __init__(
        self,
        name: str,
        *,
        pat_str: str = GPT2_PATTERN,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> None:
        # tiktoken's signature, once; what gets built is the class's own (_TiktokenEngineEncoding's is tiktoken).
        self._build(name, pat_str, mergeable_ranks, dict(special_tokens), explicit_n_vocab)

    def _build(
        self, name: str, pat_str: str, ranks: dict[bytes, int], specials: dict[str, int], explicit_n_vocab: int | None
    ) -> None:
        """Builds the native encoder (`specials`: the encoding's own copy)."""
        native = native_pattern_name(pat_str)
        assert native is not None  # __new__ sent every other pattern to _TiktokenEngineEncoding
        core = _core.BpeEncoder(ranks, specials, pattern=native)
        self._setup(name, pat_str, native, core, len(ranks), specials, explicit_n_vocab)
        self._ranks: dict[bytes, int] | None = ranks

    @classmethod
    def _from_core(
        cls,
        name: str,
        native: str,
        built: tuple[_core.BpeEncoder, int, dict[str, int]],
        explicit_n_vocab: int | None = None,
    ) -> Encoding:
        """An Encoding around an encoder the C++ loaders built: no Python dict of the ranks exists."""
        self = object.__new__(Encoding)
        core, n_mergeable, special_tokens = built
        self._setup(name, PATTERN_OF_NAME[native], native, core, n_mergeable, special_tokens, explicit_n_vocab)
        self._ranks = None
        return self

    def _setup(
        self,
        name: str,
        pat_str: str,
        native: str,
        core: _core.BpeEncoder,
        n_mergeable: int,
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None,
    ) -> None:
        self.name = name
        self._pat_str = pat_str
        self._native = native
        self._core = core
        self._special_tokens = special_tokens
        self._special_set = frozenset(special_tokens)
        self._special_token_values = set(special_tokens.values())
        self._shared_ids = _shared_special_ids(special_tokens)
        self._sorted_tokens: tuple[list[bytes], list[int]] | None = None
        self._twin_encoding: Any = None
        self.max_token_value: int = core.max_token_value
        _check_n_vocab(name, n_mergeable, len(special_tokens), self.max_token_value, explicit_n_vocab)

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        from llmprep.encoding import registry

        if registry.is_registered(self):
            # Registered encodings travel as their name: the other process loads (or has) its own.
            return registry.get_encoding, (self.name,)
        return _rebuild, (self.name, self._pat_str, self._mergeable_ranks, dict(self._special_tokens))

    # ------------------------------------------------------------------------------------------
    # Properties

    @property
    def n_vocab(self) -> int:
        """Number of ids: ``max_token_value + 1`` (50,257 for GPT-2)."""
        return self.max_token_value + 1

    @property
    def eot_token(self) -> int:
        """The id of ``<|endoftext|>`` (50256 for GPT-2).

        Raises:
            KeyError: If the encoding has no ``<|endoftext|>`` token.
        """
        return self._special_tokens["<|endoftext|>"]

    @property
    def special_tokens_set(self) -> set[str]:
        """The special tokens' texts (a new set on each call)."""
        return set(self._special_set)

    @property
    def _mergeable_ranks(self) -> dict[bytes, int]:
        """Token bytes -> rank, as tiktoken's attribute of that name (built on first use).

        Encodings loaded by llmprep's C++ parsers keep their ranks only in C++ (a dict of 100k
        bytes costs tens of ms to build); this makes it from the decode table for code that reads it.
        """
        if self._ranks is None:
            ranks: dict[bytes, int] = {}
            token_bytes = self._core.token_bytes
            for token in range(self.max_token_value + 1):
                if token in self._special_token_values:
                    continue
                try:
                    ranks[token_bytes(token)] = token
                except KeyError:  # a gap in the ids
                    continue
            self._ranks = ranks
        return self._ranks

    def is_special_token(self, token: int) -> bool:
        """Whether ``token`` is the id of a special token.

        Raises:
            AssertionError: If ``token`` is not an int (tiktoken's check, kept for parity).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").is_special_token(50256)
            True
        """
        if not isinstance(token, int):
            raise AssertionError(f"token must be an int, not {type(token).__name__}")
        return token in self._special_token_values

    def token_byte_values(self) -> list[bytes]:
        """The bytes of every ordinary (mergeable) token, sorted (a new list).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").token_byte_values()[:3]
            [b'\\x00', b'\\x01', b'\\x02']
        """
        return list(self._sorted_token_table()[0])

    # ------------------------------------------------------------------------------------------
    # Encoding

    def encode_ordinary(self, text: str, *, num_threads: int | None = None) -> list[int]:
        """Encodes text, treating special tokens as ordinary text.

        Args:
            text: The text. Lone surrogates become U+FFFD first, as tiktoken does.
            num_threads: Threads for a large text (it is cut where the result cannot change);
                None: ``LLMPREP_NUM_THREADS`` or all cores. The ids never depend on it.

        Returns:
            The token ids (a new list).

        Raises:
            TypeError: If ``text`` is not a str.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").encode_ordinary("hello <|endoftext|>")
            [31373, 1279, 91, 437, 1659, 5239, 91, 29]
        """
        return self._call(self._core.encode, text, [], num_threads)  # type: ignore[no-any-return]

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006 (tiktoken's signature; never mutated)
        disallowed_special: DisallowedSpecial = "all",
        num_threads: int | None = None,
    ) -> list[int]:
        """Encodes text, with tiktoken's rules for special tokens.

        Args:
            text: The text. Lone surrogates become U+FFFD first, as tiktoken does.
            allowed_special: Special tokens to encode as their ids where they occur ("all" or a set).
            disallowed_special: Special tokens whose presence is an error ("all": every special
                token not allowed; ``()``: none, so they are encoded as ordinary text).
            num_threads: As in `encode_ordinary`.

        Returns:
            The token ids (a new list).

        Raises:
            ValueError: If the text contains a disallowed special token (the message names it).
            TypeError: If ``text`` is not a str.

        Example:
            >>> from llmprep import get_encoding
            >>> enc = get_encoding("gpt2")
            >>> enc.encode("hello <|endoftext|>", allowed_special="all")
            [31373, 220, 50256]
            >>> enc.encode("<|endoftext|>", disallowed_special=())
            [27, 91, 437, 1659, 5239, 91, 29]
        """
        try:
            allowed = self._allowed_ids(text, allowed_special, disallowed_special)
        except _SharedIdText:
            return self._twin().encode(  # type: ignore[no-any-return]
                text, allowed_special=allowed_special, disallowed_special=disallowed_special
            )
        return self._call(self._core.encode, text, allowed, num_threads)  # type: ignore[no-any-return]

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
        num_threads: int | None = None,
    ) -> npt.NDArray[np.uint32]:
        """Encodes text like `encode`, returning a read-only uint32 numpy array.

        The array is a view of the encoder's output buffer, which it keeps alive: no copy, and no
        Python int per token, which makes this the fast path for large texts. It is read-only, as
        tiktoken's is (``.copy()`` gives a writable one).

        Returns:
            A 1-D read-only ``uint32`` array of token ids (a view of memory it owns).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").encode_to_numpy("hello world").tolist()
            [31373, 995]
        """
        try:
            allowed = self._allowed_ids(text, allowed_special, disallowed_special)
        except _SharedIdText:
            return self._twin().encode_to_numpy(  # type: ignore[no-any-return]
                text, allowed_special=allowed_special, disallowed_special=disallowed_special
            )
        # The core returns it read-only, as tiktoken does.
        return self._call(self._core.encode_to_numpy, text, allowed, num_threads)  # type: ignore[no-any-return]

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int | None = None) -> list[list[int]]:
        """Encodes many texts in parallel, treating special tokens as ordinary text.

        Args:
            text: The texts.
            num_threads: Threads to use; None: ``LLMPREP_NUM_THREADS`` or all cores.

        Returns:
            One list of ids per text, equal to ``[enc.encode_ordinary(t) for t in text]``.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").encode_ordinary_batch(["hello", " world"])
            [[31373], [995]]
        """
        return self._call_batch(list(text), [], num_threads)

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[list[int]]:
        """Encodes many texts in parallel with `encode`'s special-token rules.

        Returns:
            One list of ids per text, equal to ``[enc.encode(t, ...) for t in text]``.

        Raises:
            ValueError: If any text contains a disallowed special token.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").encode_batch(["a<|endoftext|>", "b"], allowed_special="all")
            [[64, 50256], [65]]
        """
        texts = list(text)
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        for t in texts:
            self._check_disallowed(t, disallowed)
        try:
            for t in texts:
                self._check_shared(t, allowed, allowed_special)
        except _SharedIdText:
            return [
                self.encode(t, allowed_special=allowed_special, disallowed_special=disallowed_special) for t in texts
            ]
        return self._call_batch(texts, allowed, num_threads)

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[list[int], list[list[int]]]:
        """Encodes text into stable tokens and the token sequences that could complete it.

        tiktoken's algorithm, step for step: the tokens of the last pre-token (and of whitespace
        tokens before it) are unstable, since more text could merge them differently; every
        completion is a token sequence whose bytes start with those bytes. As tiktoken says, this
        API should itself be considered unstable.

        Returns:
            ``(stable_tokens, completions)``: the completions as lists, sorted (tiktoken returns
            the same set of them in no fixed order).

        Raises:
            ValueError: If the text contains a disallowed special token.
            UnicodeEncodeError: If the text has lone surrogates (tiktoken does not repair them here).

        Example:
            >>> from llmprep import get_encoding
            >>> stable, completions = get_encoding("gpt2").encode_with_unstable("hello fanta")
            >>> stable, [277, 4910] in completions
            ([31373], True)
        """
        try:
            allowed = self._allowed_ids(text, allowed_special, disallowed_special)
        except _SharedIdText:
            stable, unstable_seqs = self._twin().encode_with_unstable(
                text, allowed_special=allowed_special, disallowed_special=disallowed_special
            )
            return stable, sorted(list(c) for c in unstable_seqs)
        text.encode("utf-8")  # lone surrogates raise UnicodeEncodeError, as in tiktoken
        tokens, last = self._encode_with_last_piece(text, allowed)
        if last == 0:  # nothing, or the text ends with a special token: nothing is unstable
            return tokens, []
        tokens, last = self._increase_last_piece_token_len(tokens, last)
        unstable = self.decode_bytes(tokens[len(tokens) - last :])
        del tokens[len(tokens) - last :]
        completions: set[tuple[int, ...]] = set()
        if not unstable:
            return tokens, []
        sorted_bytes, sorted_ranks = self._sorted_token_table()
        # Single tokens that start with the unstable bytes (including them exactly).
        point = bisect.bisect_left(sorted_bytes, unstable)
        while point < len(sorted_bytes) and sorted_bytes[point].startswith(unstable):
            completions.add((sorted_ranks[point],))
            point += 1
        # A token straddling each other position: re-encode the bytes before it plus the token.
        for i in range(1, len(unstable)):
            prefix, suffix = unstable[:i], unstable[i:]
            point = bisect.bisect_left(sorted_bytes, suffix)
            while point < len(sorted_bytes) and sorted_bytes[point].startswith(suffix):
                possibility = prefix + sorted_bytes[point]
                try:
                    encoded = self.encode_ordinary(possibility.decode("utf-8"))
                except UnicodeDecodeError:
                    encoded = self._byte_pair_encode(possibility)
                seq: list[int] = []
                seq_len = 0
                for token in encoded:
                    seq.append(token)
                    seq_len += len(self._core.token_bytes(token))
                    if seq_len >= len(unstable):
                        break
                completions.add(tuple(seq))
                point += 1
        # Regex splits are not stable either: a trailing whitespace character may become its own piece.
        if len(unstable) > 1:
            last_char = _decode_last_utf8(unstable)
            if last_char is not None and last_char in _WHITE_SPACE:
                size = len(last_char.encode("utf-8"))
                if len(unstable) - size > 0:
                    completions.add(
                        tuple(self._byte_pair_encode(unstable[:-size]) + self._byte_pair_encode(unstable[-size:]))
                    )
        return tokens, [list(c) for c in sorted(completions)]

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of a text or byte string that is exactly one token (ordinary or special).

        Raises:
            KeyError: If it is not a single token (the key is the bytes, as tiktoken's).
            TypeError: If it is neither str nor bytes.

        Example:
            >>> from llmprep import get_encoding
            >>> enc = get_encoding("gpt2")
            >>> enc.encode_single_token("hello"), enc.encode_single_token(b"<|endoftext|>")
            (31373, 50256)
        """
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        if not isinstance(text_or_bytes, bytes):
            raise TypeError(f"expected str or bytes, not {type(text_or_bytes).__name__}")
        rank = _core.bpe_token_rank(self._core, text_or_bytes)
        if rank is not None:
            return rank
        try:
            return self._special_tokens[text_or_bytes.decode("utf-8")]
        except (UnicodeDecodeError, KeyError):
            raise KeyError(text_or_bytes) from None

    # ------------------------------------------------------------------------------------------
    # Decoding

    def decode_bytes(self, tokens: Iterable[int]) -> bytes:
        """The bytes of a sequence of token ids (a list, or an integer numpy array).

        Raises:
            KeyError: For an id that is not in the vocabulary (the message names it).
            OverflowError: For an id outside 0..2**32-1 (as tiktoken; the message names it).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_bytes([31373, 995])
            b'hello world'
        """
        if iter(tokens) is tokens:  # an iterator: keep the ids, to name a bad one afterwards
            tokens = list(tokens)
        try:
            return self._core.decode_bytes(tokens)
        except KeyError:
            _raise_if_out_of_range(tokens)
            raise

    def decode(self, tokens: Iterable[int], errors: str = "replace") -> str:
        """Decodes token ids to text.

        Args:
            tokens: The ids.
            errors: How to treat bytes that are not UTF-8 (a token can end inside a character), as
                in `bytes.decode`; "replace" (the default) gives U+FFFD.

        Raises:
            KeyError: For an id that is not in the vocabulary.
            OverflowError: For an id outside 0..2**32-1.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode([15496, 11, 995])
            'Hello, world'
        """
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token id (ordinary or special).

        Raises:
            KeyError: If the id is not in the vocabulary.
            OverflowError: For an id outside 0..2**32-1.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_single_token_bytes(995)
            b' world'
        """
        try:
            return self._core.token_bytes(token)
        except KeyError:
            _raise_if_out_of_range([token])
            raise

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        """The bytes of each token id, one entry per id.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_tokens_bytes([31373, 995])
            [b'hello', b' world']
        """
        return [self.decode_single_token_bytes(t) for t in tokens]

    def decode_with_offsets(self, tokens: Sequence[int]) -> tuple[str, list[int]]:
        """Decodes token ids to text and the str index at which each token starts.

        Where a token starts inside a character, its offset is that character's index.

        Raises:
            UnicodeDecodeError: If the tokens do not decode to valid UTF-8 (as tiktoken).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_with_offsets([31373, 995])
            ('hello world', [0, 5])
        """
        token_bytes = self.decode_tokens_bytes(tokens)
        text_len = 0
        offsets = []
        for token in token_bytes:
            offsets.append(max(0, text_len - (0x80 <= token[0] < 0xC0)))
            text_len += sum(1 for c in token if not 0x80 <= c < 0xC0)
        text = b"".join(token_bytes).decode("utf-8", errors="strict")
        return text, offsets

    def decode_batch(
        self, batch: Sequence[Sequence[int]], *, errors: str = "replace", num_threads: int = 8
    ) -> list[str]:
        """Decodes each list of ids in ``batch`` (see `decode`).

        ``num_threads`` is accepted for tiktoken's signature; decoding is one copy per token and
        runs on the calling thread.

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_batch([[31373], [995]])
            ['hello', ' world']
        """
        _threads(num_threads)
        return [self.decode(tokens, errors=errors) for tokens in batch]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]], *, num_threads: int = 8) -> list[bytes]:
        """The bytes of each list of ids in ``batch`` (see `decode_bytes`).

        Example:
            >>> from llmprep import get_encoding
            >>> get_encoding("gpt2").decode_bytes_batch([[31373], [995]])
            [b'hello', b' world']
        """
        _threads(num_threads)
        return [self.decode_bytes(tokens) for tokens in batch]

    # ------------------------------------------------------------------------------------------
    # Private methods that tiktoken's own tests call

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        """BPE of one pre-token (no pattern split, no special tokens): a whole-token lookup, then merges."""
        if isinstance(text_or_bytes, str):
            text_or_bytes = text_or_bytes.encode("utf-8")
        return self._core.encode_pieces([text_or_bytes], True)[0]

    def _encode_only_native_bpe(self, text: str) -> list[int]:
        """Encodes with the pattern split done by Python's ``regex`` module (tiktoken's debugging aid).

        ``regex`` has its own Unicode version, so this can differ from `encode_ordinary` on rare
        characters, exactly as tiktoken's method of this name does.
        """
        import regex

        pattern = regex.compile(self._pat_str)
        ret: list[int] = []
        for piece in regex.findall(pattern, text):
            ret.extend(self._encode_single_piece(piece.encode("utf-8")))
        return ret

    def _encode_bytes(self, text: bytes) -> list[int]:
        """Encodes bytes that may not be UTF-8, as tiktoken does.

        Valid UTF-8 is `encode_ordinary`; otherwise the valid prefix is encoded, the tokens of its
        last pre-token are dropped and their bytes, with the invalid rest, go through plain BPE.
        """
        if not isinstance(text, bytes):
            raise TypeError(f"expected bytes, not {type(text).__name__}")
        try:
            return self.encode_ordinary(text.decode("utf-8"))
        except UnicodeDecodeError as e:
            valid_up_to = e.start  # Python's first error offset is Rust's Utf8Error::valid_up_to
        tokens, last = self._encode_with_last_piece(text[:valid_up_to].decode("utf-8"), [])
        tokens, last = self._increase_last_piece_token_len(tokens, last)
        if tokens and last > 0:
            unstable = self.decode_bytes(tokens[len(tokens) - last :]) + text[valid_up_to:]
            del tokens[len(tokens) - last :]
        else:
            unstable = text[valid_up_to:]
        if unstable:
            rank = _core.bpe_token_rank(self._core, unstable)
            tokens.extend([rank] if rank is not None else self._byte_pair_encode(unstable))
        return tokens

    # ------------------------------------------------------------------------------------------
    # Loading

    @classmethod
    def from_files(
        cls, encoder_json: str | os.PathLike[str], vocab_bpe: str | os.PathLike[str], *, name: str = "gpt2"
    ) -> Encoding:
        """Loads OpenAI's original GPT-2 files (``encoder.json`` and ``vocab.bpe``), with no network.

        The two files are checked against each other as tiktoken checks them; ``<|endoftext|>`` in
        ``encoder.json`` becomes the special token.

        Raises:
            FileNotFoundError: If a file is missing.
            ValueError: If a file is corrupt or the two disagree (the message names the file).

        Example:
            >>> enc = Encoding.from_files("../shared/gpt2/encoder.json", "../shared/gpt2/vocab.bpe")
            >>> enc.encode("hello world")
            [31373, 995]
        """
        vocab_bpe, encoder_json = Path(vocab_bpe), Path(encoder_json)
        vocab_data = load.read_bytes(vocab_bpe, "GPT-2 vocab.bpe file")
        encoder_data = load.read_bytes(encoder_json, "GPT-2 encoder.json file")
        built = _core.bpe_encoder_from_data_gym(vocab_data, encoder_data, str(vocab_bpe), str(encoder_json), None)
        return cls._from_core(name, "gpt2", built)

    @classmethod
    def from_tiktoken_file(
        cls,
        path: str | os.PathLike[str],
        *,
        pattern: str = "gpt2",
        special_tokens: dict[str, int] | None = None,
        name: str | None = None,
    ) -> Encoding:
        """Loads a ``.tiktoken`` rank file (one ``base64-token rank`` pair per line), with no network.

        Llama-3-style rank files use cl100k_base's pattern: pass ``pattern="cl100k_base"``.

        Args:
            path: The file.
            pattern: ``"gpt2"``, ``"cl100k_base"`` or ``"o200k_base"`` (the native pre-tokenizers),
                or any ``pat_str`` (another one runs through tiktoken's engine, with a warning).
            special_tokens: Special-token ids; default ``{"<|endoftext|>": largest rank + 1}``.
            name: The encoding's name; default the file name without its suffix.

        Raises:
            FileNotFoundError: If the file is missing.
            ValueError: If a line is not ``base64 rank``.

        Example:
            >>> enc = Encoding.from_tiktoken_file("cl100k_base.tiktoken", pattern="cl100k_base")  # doctest: +SKIP
        """
        path = Path(path)
        data = load.read_bytes(path, "tiktoken rank file")
        special = None if special_tokens is None else dict(special_tokens)
        native = pattern if pattern in PATTERN_OF_NAME else native_pattern_name(pattern)
        name = name or path.stem
        if native is not None and native_available(native):
            built = _core.bpe_encoder_from_tiktoken(data, str(path), special, pattern=native)
            enc = cls._from_core(name, native, built)
            if native_pattern_name(pattern) is not None:
                enc._pat_str = pattern  # keep the caller's spelling, as the constructor does
            return enc
        # No native pre-tokenizer: parse with the gpt2 build (the ranks do not depend on the
        # pattern), then hand the table to tiktoken's engine.
        core, _, special = _core.bpe_encoder_from_tiktoken(data, str(path), special, pattern="gpt2")
        ranks = Encoding._from_core(name, "gpt2", (core, 0, special))._mergeable_ranks
        return Encoding(
            name, pat_str=PATTERN_OF_NAME.get(pattern, pattern), mergeable_ranks=ranks, special_tokens=special
        )

    # ------------------------------------------------------------------------------------------
    # Internals

    def _allowed_ids(
        self, text: object, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> list[int]:
        """Applies tiktoken's special-token policy to one text: raises for a disallowed token,
        returns the ids of the allowed ones."""
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        self._check_disallowed(text, disallowed)
        if allowed and self._shared_ids:
            self._check_shared(text, allowed, allowed_special)  # type: ignore[arg-type]  # a str by now
        return allowed

    def _policy(
        self, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> tuple[list[int], frozenset[str]]:
        if not allowed_special and disallowed_special == "all":
            return [], self._special_set  # the default, on every short encode() call
        allowed = self._special_set if allowed_special == "all" else frozenset(allowed_special)
        disallowed = self._special_set - allowed if disallowed_special == "all" else frozenset(disallowed_special)
        # Strings in allowed_special that are not special tokens change nothing, as in tiktoken.
        ids = list(dict.fromkeys(self._special_tokens[t] for t in allowed if t in self._special_tokens))
        return ids, disallowed

    def _check_shared(self, text: str, allowed: list[int], allowed_special: AllowedSpecial) -> None:
        """Raises _SharedIdText if ``text`` holds a special token that is not allowed but shares its id
        with one that is: the core allows ids, tiktoken allows texts (o200k_harmony's 200018 only)."""
        if not self._shared_ids or not allowed or allowed_special == "all":
            return
        for token_id in allowed:
            for other in self._shared_ids.get(token_id, ()):
                if other not in allowed_special and other in text:
                    raise _SharedIdText

    def _twin(self) -> Any:
        """tiktoken's own Encoding with this table, for the calls `_check_shared` hands over."""
        if self._twin_encoding is None:
            tiktoken = _import_tiktoken(f"{self.name!r} with a special token allowed but not its id-sharing twin")
            self._twin_encoding = tiktoken.Encoding(
                self.name, pat_str=self._pat_str, mergeable_ranks=self._mergeable_ranks,
                special_tokens=self._special_tokens,
            )  # fmt: skip
        return self._twin_encoding

    @staticmethod
    def _check_disallowed(text: object, disallowed: frozenset[str]) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text must be str, not {type(text).__name__}")
        if disallowed:
            # Name the leftmost disallowed token, as tiktoken's regex search does. Long texts are
            # searched in C++ on the UTF-8 the encoder needs anyway (25x faster than str.find on
            # WikiText, where '<' is common); short ones, or a str with lone surrogates (no UTF-8),
            # by str.find, which costs less than the call.
            token = None
            short = True
            if len(text) >= 4096:
                try:
                    token = _core.BpeEncoder.find_first(text, sorted(disallowed))
                    short = False
                except ValueError:
                    pass
            if short:
                for tok in disallowed:  # a plain loop: the usual answer is none, for the least cost
                    if tok in text:
                        found = [tok for tok in disallowed if tok in text]
                        token = min(found, key=lambda tok: (text.find(tok), -len(tok)))
                        break
            if token is not None:
                raise_disallowed_special_token(token)

    def _call(self, method: Any, text: str, allowed: list[int], num_threads: int | None) -> Any:
        threads = _threads(num_threads)
        try:
            return method(text, allowed, threads)
        except ValueError:
            # The only ValueError from the core for a str: a lone surrogate, which has no UTF-8.
            # tiktoken then re-encodes through UTF-16, pairing valid surrogate pairs and turning
            # lone ones into U+FFFD; do the same.
            if not isinstance(text, str) or not _has_surrogates(text):
                raise
            return method(_replace_surrogates(text), allowed, threads)

    def _call_batch(self, texts: list[str], allowed: list[int], num_threads: int | None) -> list[list[int]]:
        threads = _threads(num_threads)
        try:
            return self._core.encode_batch(texts, allowed, threads)
        except ValueError:
            fixed = [_replace_surrogates(t) if isinstance(t, str) and _has_surrogates(t) else t for t in texts]
            return self._core.encode_batch(fixed, allowed, threads)

    def _sorted_token_table(self) -> tuple[list[bytes], list[int]]:
        """The mergeable tokens' bytes in sorted order, and their ranks in the same order (built once)."""
        if self._sorted_tokens is None:
            items = sorted(self._mergeable_ranks.items())
            self._sorted_tokens = ([t for t, _ in items], [r for _, r in items])
        return self._sorted_tokens

    def _byte_pair_encode(self, piece: bytes) -> list[int]:
        """tiktoken's byte_pair_encode: the merges alone, without looking the whole piece up first."""
        if len(piece) == 1:
            rank = _core.bpe_token_rank(self._core, piece)
            assert rank is not None  # every encoding has all 256 single bytes
            return [rank]
        return self._core.encode_pieces([piece], False)[0]

    def _piece_ends(self, text: str) -> Sequence[int]:
        """UTF-8 end offsets of the pre-tokens of ``text`` under this encoding's pattern."""
        return _core.pretokenize_ends(text, self._native)  # type: ignore[return-value]

    def _encode_with_last_piece(self, text: str, allowed: list[int]) -> tuple[list[int], int]:
        """tiktoken's CoreBPE::encode: the ids, and how many of them the text's last pre-token gave
        (0 when the text is empty or ends with an allowed special token)."""
        tokens: list[int] = self._core.encode(text, allowed, 1)
        allowed_ids = set(allowed)
        start = len(tokens)
        while start > 0 and tokens[start - 1] not in allowed_ids:
            start -= 1
        if start == len(tokens):
            return tokens, 0
        # The ids after the last special token are the last segment's; its last piece gave the
        # trailing ids whose bytes add up to that piece's length (ids never cross a piece).
        segment = self._core.decode_bytes(tokens[start:])
        ends = self._piece_ends(segment.decode("utf-8"))
        piece_len = int(ends[-1]) - (int(ends[-2]) if len(ends) > 1 else 0)
        count = covered = 0
        while covered < piece_len:
            count += 1
            covered += len(self._core.token_bytes(tokens[-count]))
        return tokens, count

    def _increase_last_piece_token_len(self, tokens: list[int], last: int) -> tuple[list[int], int]:
        """tiktoken's fix for unstable splits: whitespace tokens before a whitespace last piece count too."""

        def all_space(token: int) -> bool:
            if token in self._special_token_values:
                return False
            return all(b in b" \n\t" for b in self._core.token_bytes(token))

        if last > 0 and all_space(tokens[len(tokens) - last]):
            while last < len(tokens) and all_space(tokens[len(tokens) - last - 1]):
                last += 1
        return tokens, last


class _TiktokenEngineEncoding(Encoding):
    """An `Encoding` whose pattern has no native pre-tokenizer: every call goes to `tiktoken.Encoding`.

    Built by `Encoding(...)` itself (see `Encoding.__new__`); the ids are tiktoken's by construction.
    llmprep's extra arguments are accepted (``num_threads`` is validated; batches pass it on).
    """

    def _build(
        self, name: str, pat_str: str, ranks: dict[bytes, int], specials: dict[str, int], explicit_n_vocab: int | None
    ) -> None:
        """Builds tiktoken's encoder instead of the native one (Encoding.__init__ calls this)."""
        tiktoken = _import_tiktoken(f"the encoding {name!r} (a pattern llmprep has no native pre-tokenizer for)")
        ranks = dict(ranks)
        if len(set(ranks.values())) != len(ranks):
            raise ValueError(f"{name}: mergeable_ranks gives the same rank to two tokens")
        _check_n_vocab(
            name,
            len(ranks),
            len(specials),
            max(max(ranks.values()), max(specials.values(), default=0)),
            explicit_n_vocab,
        )
        _warn_fallback(name, pat_str)
        self._tt = tiktoken.Encoding(name, pat_str=pat_str, mergeable_ranks=ranks, special_tokens=specials)
        self.name = name
        self._pat_str = pat_str
        self._native = ""
        self._ranks = ranks
        self._special_tokens = specials
        self._special_set = frozenset(specials)
        self._special_token_values = set(specials.values())
        self._sorted_tokens = None
        self.max_token_value = self._tt.max_token_value

    def encode_ordinary(self, text: str, *, num_threads: int | None = None) -> list[int]:
        _threads(num_threads)
        _check_str(text)
        return self._tt.encode_ordinary(text)  # type: ignore[no-any-return]

    def encode(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
        num_threads: int | None = None,
    ) -> list[int]:
        _threads(num_threads)
        _check_str(text)
        return self._tt.encode(  # type: ignore[no-any-return]
            text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
        num_threads: int | None = None,
    ) -> npt.NDArray[np.uint32]:
        _threads(num_threads)
        _check_str(text)
        return self._tt.encode_to_numpy(  # type: ignore[no-any-return]
            text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int | None = None) -> list[list[int]]:
        texts = list(text)
        for t in texts:
            _check_str(t)
        return self._tt.encode_ordinary_batch(texts, num_threads=_threads(num_threads) or 8)  # type: ignore[no-any-return]

    def encode_batch(
        self,
        text: Sequence[str],
        *,
        num_threads: int | None = None,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> list[list[int]]:
        texts = list(text)
        for t in texts:
            _check_str(t)
        return self._tt.encode_batch(  # type: ignore[no-any-return]
            texts,
            num_threads=_threads(num_threads) or 8,
            allowed_special=allowed_special,
            disallowed_special=disallowed_special,
        )

    def encode_with_unstable(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
    ) -> tuple[list[int], list[list[int]]]:
        tokens, completions = self._tt.encode_with_unstable(
            text, allowed_special=allowed_special, disallowed_special=disallowed_special
        )
        return tokens, sorted(list(c) for c in completions)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        if not isinstance(text_or_bytes, (str, bytes)):
            raise TypeError(f"expected str or bytes, not {type(text_or_bytes).__name__}")
        return self._tt.encode_single_token(text_or_bytes)  # type: ignore[no-any-return]

    def decode_bytes(self, tokens: Iterable[int]) -> bytes:
        ids = _id_sequence(tokens)
        try:
            return self._tt.decode_bytes(ids)  # type: ignore[no-any-return]
        except OverflowError:
            _raise_if_out_of_range(ids)
            raise

    def decode_single_token_bytes(self, token: int) -> bytes:
        try:
            return self._tt.decode_single_token_bytes(token)  # type: ignore[no-any-return]
        except OverflowError:
            _raise_if_out_of_range([token])
            raise

    def token_byte_values(self) -> list[bytes]:
        return self._tt.token_byte_values()  # type: ignore[no-any-return]

    def _encode_single_piece(self, text_or_bytes: str | bytes) -> list[int]:
        return self._tt._encode_single_piece(text_or_bytes)  # type: ignore[no-any-return]

    def _encode_bytes(self, text: bytes) -> list[int]:
        return self._tt._encode_bytes(text)  # type: ignore[no-any-return]

    def _byte_pair_encode(self, piece: bytes) -> NoReturn:
        raise NotImplementedError("tiktoken's engine does this itself")  # never called: no native core


# ----------------------------------------------------------------------------------------------
# Helpers


class _SharedIdText(Exception):
    """A text needs tiktoken's text-based special-token rule (see `Encoding._check_shared`)."""


def _shared_special_ids(special_tokens: dict[str, int]) -> dict[int, tuple[str, ...]]:
    """Special ids that two or more special tokens share -> those tokens (empty for most encodings)."""
    by_id: dict[int, list[str]] = {}
    for text, token_id in special_tokens.items():
        by_id.setdefault(token_id, []).append(text)
    return {token_id: tuple(texts) for token_id, texts in by_id.items() if len(texts) > 1}


def _rebuild(name: str, pat_str: str, mergeable_ranks: dict[bytes, int], special_tokens: dict[str, int]) -> Encoding:
    """Unpickles an unregistered encoding."""
    return Encoding(name, pat_str=pat_str, mergeable_ranks=mergeable_ranks, special_tokens=special_tokens)


def _check_n_vocab(
    name: str, n_mergeable: int, n_special: int, max_token_value: int, explicit_n_vocab: int | None
) -> None:
    if explicit_n_vocab is None:
        return
    if n_mergeable + n_special != explicit_n_vocab:
        raise ValueError(
            f"{name}: {n_mergeable} ordinary + {n_special} special tokens != explicit_n_vocab={explicit_n_vocab}; "
            "the vocabulary files are incomplete or wrong"
        )
    if max_token_value != explicit_n_vocab - 1:
        raise ValueError(f"{name}: the largest id is {max_token_value}, expected {explicit_n_vocab - 1}")


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int or None, not {num_threads!r}")
    return num_threads


def _check_str(text: object) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")


def _id_sequence(tokens: Iterable[int]) -> Any:
    """Token ids in a form tiktoken's decoders take: a list, unless already a sequence or an array."""
    if isinstance(tokens, (list, tuple)) or hasattr(tokens, "__array_interface__"):
        return tokens
    return list(tokens)


def _raise_if_out_of_range(tokens: Any) -> None:
    """Raises OverflowError naming the first id outside uint32 (tiktoken's ids are u32), if any."""
    if hasattr(tokens, "__array_interface__"):
        import numpy as np

        array = np.asarray(tokens)
        if array.dtype.kind in "iu" and array.size:
            bad = np.flatnonzero((array < 0) | (array > _MAX_ID))
            if bad.size:
                _overflow(int(array.flat[int(bad[0])]))
        return
    for token in tokens:
        try:
            value = int(token)
        except (TypeError, ValueError):
            return
        if not 0 <= value <= _MAX_ID:
            _overflow(value)


def _overflow(token: int) -> NoReturn:
    raise OverflowError(f"token id {token} is outside the range of token ids (0..{_MAX_ID})")


def _decode_last_utf8(data: bytes) -> str | None:
    """The last character of ``data`` if its bytes end with a complete, valid UTF-8 character, else
    None (bstr's decode_last_utf8, which tiktoken uses)."""
    start = len(data) - 1
    limit = max(len(data) - 4, 0)
    while start > limit and (data[start] & 0xC0) == 0x80:
        start -= 1
    try:
        char = data[start:].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return char if len(char) == 1 else None


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _replace_surrogates(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def raise_disallowed_special_token(token: str) -> NoReturn:
    """Raises tiktoken's ValueError for a disallowed special token found in a text."""
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )
