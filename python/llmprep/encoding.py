"""GPT-2 byte-pair encoding with tiktoken's API and output, on llmprep's C++ encoder.

`Encoding` mirrors `tiktoken.Encoding` where the two overlap (same method names, arguments, special-token
rules and ids), so code written for tiktoken can switch by changing the import. The vocabulary comes
from tiktoken's download cache (hash-checked as tiktoken checks it, parsed in C++), from tiktoken's own
loader when the cache lacks it, or from local files.

Only the GPT-2 pre-tokenization pattern is implemented (the C++ scanner is written for it): that covers
the ``gpt2`` and ``r50k_base`` encodings, and any rank table used with that pattern.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from llmprep import _core

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["GPT2_PATTERN", "Encoding", "get_encoding"]

# tiktoken's spelling of the GPT-2 pattern (possessive quantifiers where that changes nothing) and
# the original one from OpenAI's encoder.py: both name the pre-tokenization the C++ scanner implements.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_GPT2_ORIGINAL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_GPT2_PATTERNS = frozenset({GPT2_PATTERN, _GPT2_ORIGINAL_PATTERN})

_SUPPORTED = ("gpt2", "r50k_base")  # the same ranks, pattern and special token

AllowedSpecial = Literal["all"] | AbstractSet[str]
DisallowedSpecial = Literal["all"] | Collection[str]


class Encoding:
    """A byte-level BPE encoding with the GPT-2 pre-tokenizer, compatible with `tiktoken.Encoding`.

    Build one with `get_encoding`, `Encoding.from_files` or `Encoding.from_tiktoken_file`; the
    constructor takes the same arguments as tiktoken's.

    Args:
        name: The encoding's name (e.g. ``"gpt2"``).
        pat_str: The pre-tokenization pattern; only the GPT-2 pattern is supported.
        mergeable_ranks: Token bytes -> rank (the rank is the id and the merge priority).
        special_tokens: Special-token text -> id.
        explicit_n_vocab: If given, the vocabulary size that the tables must add up to.

    Raises:
        ValueError: For another pattern, a table without all 256 single bytes, duplicate ids, or a
            size that does not match ``explicit_n_vocab``.

    Example:
        >>> enc = get_encoding("gpt2")
        >>> enc.encode("hello world")
        [31373, 995]
        >>> enc.decode([31373, 995])
        'hello world'
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str = GPT2_PATTERN,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None = None,
    ) -> None:
        if pat_str not in _GPT2_PATTERNS:
            raise ValueError(
                "llmprep's encoder implements only the GPT-2 pre-tokenization pattern "
                f"(used by {', '.join(_SUPPORTED)}); got pat_str={pat_str!r}. Use tiktoken for other encodings."
            )
        special_tokens = dict(special_tokens)
        core = _core.BpeEncoder(mergeable_ranks, special_tokens)
        self._setup(name, pat_str, core, len(mergeable_ranks), special_tokens, explicit_n_vocab)
        self._ranks: dict[bytes, int] | None = mergeable_ranks

    @classmethod
    def _from_core(
        cls,
        name: str,
        built: tuple[_core.BpeEncoder, int, dict[str, int]],
        explicit_n_vocab: int | None = None,
    ) -> Encoding:
        """An Encoding around an encoder the C++ loaders built: no Python dict of the ranks exists."""
        self = cls.__new__(cls)
        core, n_mergeable, special_tokens = built
        self._setup(name, GPT2_PATTERN, core, n_mergeable, special_tokens, explicit_n_vocab)
        self._ranks = None
        return self

    def _setup(
        self,
        name: str,
        pat_str: str,
        core: _core.BpeEncoder,
        n_mergeable: int,
        special_tokens: dict[str, int],
        explicit_n_vocab: int | None,
    ) -> None:
        self.name = name
        self._pat_str = pat_str
        self._special_tokens = special_tokens
        self._special_set = frozenset(special_tokens)
        self._core = core
        self._n_mergeable = n_mergeable
        self.max_token_value: int = core.max_token_value
        if explicit_n_vocab is not None:
            if n_mergeable + len(special_tokens) != explicit_n_vocab:
                raise ValueError(
                    f"{name}: {n_mergeable} ordinary + {len(special_tokens)} special tokens "
                    f"!= explicit_n_vocab={explicit_n_vocab}; the vocabulary files are incomplete or wrong"
                )
            if self.max_token_value != explicit_n_vocab - 1:
                raise ValueError(f"{name}: the largest id is {self.max_token_value}, expected {explicit_n_vocab - 1}")

    def __repr__(self) -> str:
        return f"<Encoding {self.name!r}>"

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

        Encodings loaded by llmprep's C++ parsers keep their ranks only in C++ (a dict of 50k bytes
        costs ~10 ms to build); this makes it from the decode table for code that reads it.
        """
        if self._ranks is None:
            special_ids = set(self._special_tokens.values())
            ranks: dict[bytes, int] = {}
            token_bytes = self._core.token_bytes
            for token in range(self.max_token_value + 1):
                if token in special_ids:
                    continue
                try:
                    ranks[token_bytes(token)] = token
                except KeyError:  # a gap in the ids
                    continue
            self._ranks = ranks
        return self._ranks

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
            >>> get_encoding("gpt2").encode_ordinary("hello <|endoftext|>")
            [31373, 1279, 91, 437, 1659, 5239, 91, 29]
        """
        return self._call(self._core.encode, text, [], num_threads)

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
            >>> enc = get_encoding("gpt2")
            >>> enc.encode("hello <|endoftext|>", allowed_special="all")
            [31373, 220, 50256]
            >>> enc.encode("<|endoftext|>", disallowed_special=())
            [27, 91, 437, 1659, 5239, 91, 29]
        """
        allowed = self._allowed_ids(text, allowed_special, disallowed_special)
        return self._call(self._core.encode, text, allowed, num_threads)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = set(),  # noqa: B006
        disallowed_special: DisallowedSpecial = "all",
        num_threads: int | None = None,
    ) -> npt.NDArray[np.uint32]:
        """Encodes text like `encode`, returning a uint32 numpy array.

        The array owns the encoder's output buffer: no copy, and no Python int per token, which
        makes this the fast path for large texts.

        Returns:
            A 1-D ``uint32`` array of token ids (a view of memory it owns).

        Example:
            >>> get_encoding("gpt2").encode_to_numpy("hello world").tolist()
            [31373, 995]
        """
        allowed = self._allowed_ids(text, allowed_special, disallowed_special)
        return self._call(self._core.encode_to_numpy, text, allowed, num_threads)

    def encode_ordinary_batch(self, text: Sequence[str], *, num_threads: int | None = None) -> list[list[int]]:
        """Encodes many texts in parallel, treating special tokens as ordinary text.

        Args:
            text: The texts.
            num_threads: Threads to use; None: ``LLMPREP_NUM_THREADS`` or all cores.

        Returns:
            One list of ids per text, equal to ``[enc.encode_ordinary(t) for t in text]``.

        Example:
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
            >>> get_encoding("gpt2").encode_batch(["a<|endoftext|>", "b"], allowed_special="all")
            [[64, 50256], [65]]
        """
        texts = list(text)
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        for t in texts:
            self._check_disallowed(t, disallowed)
        return self._call_batch(texts, allowed, num_threads)

    def encode_single_token(self, text_or_bytes: str | bytes) -> int:
        """The id of a text or byte string that is exactly one token (ordinary or special).

        Raises:
            KeyError: If it is not a single token.

        Example:
            >>> get_encoding("gpt2").encode_single_token("hello")
            31373
        """
        if isinstance(text_or_bytes, str):
            if text_or_bytes in self._special_tokens:
                return self._special_tokens[text_or_bytes]
            text_or_bytes = text_or_bytes.encode("utf-8")
        rank = _core.bpe_token_rank(self._core, text_or_bytes)
        if rank is None:
            raise KeyError(text_or_bytes)
        return rank

    # ------------------------------------------------------------------------------------------
    # Decoding

    def decode_bytes(self, tokens: Iterable[int]) -> bytes:
        """The bytes of a sequence of token ids (a list, or an integer numpy array).

        Raises:
            KeyError: For an id that is not in the vocabulary (the message names it).

        Example:
            >>> get_encoding("gpt2").decode_bytes([31373, 995])
            b'hello world'
        """
        return self._core.decode_bytes(tokens)

    def decode(self, tokens: Iterable[int], errors: str = "replace") -> str:
        """Decodes token ids to text.

        Args:
            tokens: The ids.
            errors: How to treat bytes that are not UTF-8 (a token can end inside a character), as
                in `bytes.decode`; "replace" (the default) gives U+FFFD.

        Raises:
            KeyError: For an id that is not in the vocabulary.

        Example:
            >>> get_encoding("gpt2").decode([15496, 11, 995])
            'Hello, world'
        """
        return self._core.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token id.

        Raises:
            KeyError: If the id is not in the vocabulary.

        Example:
            >>> get_encoding("gpt2").decode_single_token_bytes(995)
            b' world'
        """
        return self._core.token_bytes(token)

    def decode_tokens_bytes(self, tokens: Iterable[int]) -> list[bytes]:
        """The bytes of each token id, one entry per id.

        Example:
            >>> get_encoding("gpt2").decode_tokens_bytes([31373, 995])
            [b'hello', b' world']
        """
        return [self._core.token_bytes(t) for t in tokens]

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
        vocab_data = _read_bytes(vocab_bpe, "GPT-2 vocab.bpe file")
        encoder_data = _read_bytes(encoder_json, "GPT-2 encoder.json file")
        built = _core.bpe_encoder_from_data_gym(vocab_data, encoder_data, str(vocab_bpe), str(encoder_json), None)
        return cls._from_core(name, built)

    @classmethod
    def from_tiktoken_file(
        cls,
        path: str | os.PathLike[str],
        *,
        special_tokens: dict[str, int] | None = None,
        name: str | None = None,
    ) -> Encoding:
        """Loads a ``.tiktoken`` rank file (one ``base64-token rank`` pair per line), with no network.

        Args:
            path: The file.
            special_tokens: Special-token ids; default ``{"<|endoftext|>": largest rank + 1}``,
                which is GPT-2's.
            name: The encoding's name; default the file name without its suffix.

        Raises:
            FileNotFoundError: If the file is missing.
            ValueError: If a line is not ``base64 rank``.

        Example:
            >>> enc = Encoding.from_tiktoken_file("r50k_base.tiktoken")  # doctest: +SKIP
        """
        path = Path(path)
        data = _read_bytes(path, "tiktoken rank file")
        special = None if special_tokens is None else dict(special_tokens)
        return cls._from_core(name or path.stem, _core.bpe_encoder_from_tiktoken(data, str(path), special))

    # ------------------------------------------------------------------------------------------
    # Internals

    def _allowed_ids(
        self, text: object, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> list[int]:
        """Applies tiktoken's special-token policy to one text: raises for a disallowed token,
        returns the ids of the allowed ones."""
        allowed, disallowed = self._policy(allowed_special, disallowed_special)
        self._check_disallowed(text, disallowed)
        return allowed

    def _policy(
        self, allowed_special: AllowedSpecial, disallowed_special: DisallowedSpecial
    ) -> tuple[list[int], frozenset[str]]:
        if not allowed_special and disallowed_special == "all":
            return [], self._special_set  # the default, on every short encode() call
        allowed = self._special_set if allowed_special == "all" else frozenset(allowed_special)
        disallowed = self._special_set - allowed if disallowed_special == "all" else frozenset(disallowed_special)
        # Strings in allowed_special that are not special tokens change nothing, as in tiktoken.
        return [self._special_tokens[t] for t in allowed if t in self._special_tokens], disallowed

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
            if len(text) >= 4096:
                try:
                    token = _core.BpeEncoder.find_first(text, sorted(disallowed))
                    short = False
                except ValueError:
                    short = True
            else:
                short = True
            if short:
                found = [tok for tok in disallowed if tok in text]
                if found:
                    token = min(found, key=lambda tok: (text.find(tok), -len(tok)))
            if token is not None:
                _raise_disallowed_special_token(token)

    def _call(self, method, text, allowed: list[int], num_threads: int | None):  # noqa: ANN001, ANN202
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


def _threads(num_threads: int | None) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive int or None, not {num_threads!r}")
    return num_threads


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _replace_surrogates(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _raise_disallowed_special_token(token: str) -> None:
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        f"If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


# ----------------------------------------------------------------------------------------------
# Vocabulary files


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise FileNotFoundError(
            errno.ENOENT, f"{what} not found (pass the path of an existing file)", str(path)
        ) from None


# GPT-2's files as tiktoken fetches them, with the sha256 tiktoken requires of each (both from
# tiktoken_ext/openai_public.py's gpt2(); tests/test_vocab_load.py checks them against it).
_GPT2_VOCAB_BPE = (
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
    "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
)
_GPT2_ENCODER_JSON = (
    "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
    "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
)
_GPT2_SPECIAL_TOKENS = {"<|endoftext|>": 50256}
_GPT2_N_VOCAB = 50257


def _tiktoken_cache_path(url: str) -> Path | None:
    """Where tiktoken's loader keeps its copy of ``url`` (as tiktoken.load.read_file_cached names
    it), or None when its cache is switched off (``TIKTOKEN_CACHE_DIR=""``)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        folder = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        folder = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        import tempfile

        folder = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if folder == "":
        return None
    return _tiktoken_cache_path_in(folder, url)


def _tiktoken_cache_path_in(folder: str | os.PathLike[str], url: str) -> Path:
    return Path(folder) / hashlib.sha1(url.encode()).hexdigest()


def _read_tiktoken_cached(url: str, sha256: str, problems: list[str]) -> bytes | None:
    """tiktoken's cached copy of ``url`` if it is there and has the expected hash, else None (with
    the reason appended to ``problems`` when a file is there but wrong)."""
    path = _tiktoken_cache_path(url)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        problems.append(
            f"tiktoken's cached copy of {url.rsplit('/', 1)[-1]} at {path} is corrupt or was altered "
            f"(sha256 {actual}, expected {sha256}; {len(data):,} bytes)"
        )
        return None
    return data


def _load_gpt2(name: str) -> Encoding:
    """GPT-2's encoding from tiktoken's cache, parsed in C++, else through tiktoken's own loader.

    Both paths accept only files with tiktoken's expected sha256. The fast path reads the files
    that tiktoken's loader would read and parses them as it does (~30 ms with the table build,
    instead of ~185 ms). It falls back whenever a file is absent or fails the hash: tiktoken then
    deletes a bad copy and downloads it again, which needs the network.
    """
    problems: list[str] = []
    vocab_bpe = _read_tiktoken_cached(*_GPT2_VOCAB_BPE, problems)
    encoder_json = _read_tiktoken_cached(*_GPT2_ENCODER_JSON, problems)
    if vocab_bpe is not None and encoder_json is not None:
        built = _core.bpe_encoder_from_data_gym(
            vocab_bpe, encoder_json, _GPT2_VOCAB_BPE[0], _GPT2_ENCODER_JSON[0], _GPT2_SPECIAL_TOKENS
        )
        return Encoding._from_core(name, built, explicit_n_vocab=_GPT2_N_VOCAB)
    try:
        from tiktoken_ext.openai_public import ENCODING_CONSTRUCTORS

        # r50k_base has exactly gpt2's ranks, pattern and special token; loading it through the
        # gpt2 files means one download/cache entry serves both.
        spec = ENCODING_CONSTRUCTORS["gpt2"]()
    except Exception as e:
        found = "; ".join(problems) + ". " if problems else ""
        raise RuntimeError(
            f"could not load the {name!r} vocabulary (gpt2's files) through tiktoken ({type(e).__name__}: {e}). "
            f"{found}Without network access, set TIKTOKEN_CACHE_DIR to a directory that holds tiktoken's cached "
            "files, or use llmprep.Encoding.from_files(encoder_json, vocab_bpe)."
        ) from e
    return Encoding(
        name,
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
        explicit_n_vocab=spec.get("explicit_n_vocab"),
    )


_cache: dict[str, Encoding] = {}
_cache_lock = threading.Lock()


def get_encoding(name: str) -> Encoding:
    """The named encoding (``"gpt2"`` or ``"r50k_base"``, which share ranks), built once per process.

    The vocabulary is the one tiktoken downloads once and caches (set ``TIKTOKEN_CACHE_DIR`` to
    choose where): read from tiktoken's cache and parsed in C++ when it is there, else through
    tiktoken's own loader. Either way a file without tiktoken's expected sha256 is never used.

    Raises:
        ValueError: For another name.
        RuntimeError: If the vocabulary cannot be loaded (e.g. no network and no cache, or a
            corrupt cached file that cannot be downloaded again); the message says which file.

    Example:
        >>> get_encoding("gpt2").n_vocab
        50257
    """
    if name not in _SUPPORTED:
        raise ValueError(
            f"unknown encoding {name!r}: llmprep supports {', '.join(map(repr, _SUPPORTED))} "
            "(the GPT-2 pre-tokenizer); use tiktoken for others"
        )
    with _cache_lock:
        if name in _cache:
            return _cache[name]
        encoding = _load_gpt2(name)
        _cache[name] = encoding
        return encoding
