"""The pre-tokenization patterns of tiktoken's encodings, and which of them run natively.

llmprep's C++ encoder has a hand-written scanner for each of three patterns (no regex engine): the
GPT-2 one (gpt2, r50k_base, p50k_base, p50k_edit), cl100k_base's and o200k_base's (o200k_harmony
shares it). A pattern runs natively only when ``pat_str`` is exactly one of the spellings below;
any other pattern runs through tiktoken's own engine (see `llmprep.encoding.core`).
`tests/test_encoding_registry.py` checks the strings against tiktoken_ext/openai_public.py.
"""

from __future__ import annotations

__all__ = ["CL100K_PATTERN", "GPT2_PATTERN", "NATIVE_PATTERNS", "O200K_PATTERN", "native_pattern_name"]

# tiktoken's spelling of the GPT-2 pattern (possessive quantifiers where that changes nothing).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
# The original from OpenAI's GPT-2 encoder.py, and the spelling tiktoken's comment quotes: the same pieces.
_GPT2_ORIGINAL_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_GPT2_COMMENT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?[\p{L}]+| ?[\p{N}]+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)

O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

# pat_str -> the name of the C++ pre-tokenizer that gives exactly its pieces.
NATIVE_PATTERNS: dict[str, str] = {
    GPT2_PATTERN: "gpt2",
    _GPT2_ORIGINAL_PATTERN: "gpt2",
    _GPT2_COMMENT_PATTERN: "gpt2",
    CL100K_PATTERN: "cl100k_base",
    O200K_PATTERN: "o200k_base",
}

# The native names, each with its canonical pat_str (what a native encoding reports as _pat_str).
PATTERN_OF_NAME: dict[str, str] = {"gpt2": GPT2_PATTERN, "cl100k_base": CL100K_PATTERN, "o200k_base": O200K_PATTERN}


def native_pattern_name(pat_str: str) -> str | None:
    """The native pre-tokenizer for ``pat_str`` (``"gpt2"``, ``"cl100k_base"``, ``"o200k_base"``), or None.

    Example:
        >>> native_pattern_name(GPT2_PATTERN), native_pattern_name(r"\\w+")
        ('gpt2', None)
    """
    return NATIVE_PATTERNS.get(pat_str)
