#!/usr/bin/env python3
"""Generate cpp/src/unicode_tables.cpp: the character classes of the pre-tokenizers.

tiktoken 0.14 (Rust regex) classifies ``\\p{L}``, ``\\p{N}`` and the letter and mark categories by
Unicode 16.0.0, and its ``\\s`` is the Unicode White_Space property (25 code points; Python's ``\\s``
adds U+001C..U+001F). This script derives the same sets from ``unicodedata2==16.0.0`` and writes a
two-stage lookup table: one byte per 256-code-point block naming one of the distinct blocks, then one
class byte per code point. The low two bits of a class byte are the GPT-2 / cl100k class (other,
letter, number, whitespace); bits 2-3 split letters into the o200k sets (Lu/Lt, Ll, Lm/Lo) and mark
the \\p{M} code points among the others. It also lists the code points beyond ASCII that a
case-insensitive contraction letter matches. ``tests/test_pretokenize_*.py`` check the result against
tiktoken itself on every code point.

Usage (from the repository root; the output is committed)::

    python scripts/gen_unicode_tables.py            # writes cpp/src/unicode_tables.cpp
    python scripts/gen_unicode_tables.py --check    # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

UNICODE_VERSION = "16.0.0"  # the version tiktoken 0.14's regex crate uses (see ../shared/FACTS.md)
OUTPUT = Path(__file__).resolve().parents[1] / "cpp" / "src" / "unicode_tables.cpp"

# Class values: keep in step with llmprep::unicode::CharClass and the kFine* values in unicode_tables.hpp.
OTHER, LETTER, NUMBER, WHITESPACE = 0, 1, 2, 3
MARK = OTHER | 4  # \p{M}: other to GPT-2 and cl100k, in both o200k letter sets
UPPER, LOWER, BOTH = LETTER, LETTER | 4, LETTER | 8  # Lu/Lt, Ll, Lm/Lo
CATEGORY_CLASS = {"Lu": UPPER, "Lt": UPPER, "Ll": LOWER, "Lm": BOTH, "Lo": BOTH}
CATEGORY_CLASS.update({"Nd": NUMBER, "Nl": NUMBER, "No": NUMBER, "Mn": MARK, "Mc": MARK, "Me": MARK})

# The letters of tiktoken's case-insensitive contractions (?i:'s|'t|'re|'ve|'m|'ll|'d). The regex engine
# matches them by Unicode simple case folding; the only code point beyond ASCII in those classes is
# U+017F LATIN SMALL LETTER LONG S (folds to "s"; U+212A KELVIN SIGN folds to "k", not used). Derived
# below from the case mappings and checked against tiktoken by tests/test_pretokenize_cl100k.py.
CONTRACTION_LETTERS = "sdmtlvre"

# Unicode White_Space (PropList.txt), which Rust regex's \s matches. It has been the same 25 code
# points since Unicode 6.3 (when U+180E left it), so it is listed rather than derived:
# unicodedata has no property lookup for it.
WHITE_SPACE = frozenset(
    [
        *range(0x0009, 0x000E),
        0x0020,
        0x0085,
        0x00A0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    ]
)

BLOCK_SHIFT = 8
BLOCK_SIZE = 1 << BLOCK_SHIFT
CODE_POINTS = 0x110000


def load_unicodedata():
    """Returns the unicodedata2 module after checking it is the Unicode version tiktoken uses."""
    try:
        import unicodedata2
    except ImportError:
        sys.exit(f"error: needs unicodedata2=={UNICODE_VERSION} (pip install unicodedata2=={UNICODE_VERSION})")
    if unicodedata2.unidata_version != UNICODE_VERSION:
        sys.exit(
            f"error: unicodedata2 has Unicode {unicodedata2.unidata_version}, but the tables must be "
            f"Unicode {UNICODE_VERSION} to match tiktoken; pip install unicodedata2=={UNICODE_VERSION}"
        )
    return unicodedata2


def class_table(unicodedata) -> bytes:
    """One class byte per code point, 0..U+10FFFF (surrogates are Cs, so OTHER)."""
    table = bytearray(CODE_POINTS)
    for cp in range(CODE_POINTS):
        if cp in WHITE_SPACE:
            table[cp] = WHITESPACE
            continue
        table[cp] = CATEGORY_CLASS.get(unicodedata.category(chr(cp)), OTHER)
    return bytes(table)


def contraction_folds(unicodedata) -> list[tuple[int, str]]:
    """(code point, ASCII letter) for each non-ASCII letter that simple case folding maps onto a
    contraction letter: its one-character upper or lower case mapping is that letter in some case. (str's
    case mappings come from Python's own Unicode version; those of these letters have not changed since
    Unicode 1.1, and the tests compare the result with tiktoken.)"""
    folds = []
    for cp in range(0x80, CODE_POINTS):
        c = chr(cp)
        if not unicodedata.category(c).startswith("L"):
            continue
        for mapped in (c.upper(), c.lower()):
            if len(mapped) == 1 and mapped.lower() in CONTRACTION_LETTERS and mapped.isascii():
                folds.append((cp, mapped.lower()))
                break
    return folds


def two_stage(table: bytes) -> tuple[list[int], list[bytes]]:
    """Splits the table into a block index (one entry per 256 code points) and the distinct blocks."""
    index: list[int] = []
    blocks: list[bytes] = []
    seen: dict[bytes, int] = {}
    for start in range(0, CODE_POINTS, BLOCK_SIZE):
        block = table[start : start + BLOCK_SIZE]
        if block not in seen:
            seen[block] = len(blocks)
            blocks.append(block)
        index.append(seen[block])
    if len(blocks) > 256:
        sys.exit(f"error: {len(blocks)} distinct blocks no longer fit the uint8_t block index")
    return index, blocks


def rows(values, per_row: int) -> str:
    return "\n".join(
        "    " + ",".join(str(v) for v in values[i : i + per_row]) + "," for i in range(0, len(values), per_row)
    )


def render(table: bytes, folds: list[tuple[int, str]]) -> str:
    index, blocks = two_stage(table)
    counts = {
        name: table.count(value)
        for name, value in (
            ("Lu/Lt", UPPER),
            ("Ll", LOWER),
            ("Lm/Lo", BOTH),
            ("marks", MARK),
            ("numbers", NUMBER),
            ("whitespace", WHITESPACE),
        )
    }
    fold_rows = "\n".join(f"    {{0x{cp:04X}, '{letter}'}}," for cp, letter in folds)
    block_text = "\n".join("  {\n" + rows(list(block), 32) + "\n  }," for block in blocks)
    return f"""\
// GENERATED by scripts/gen_unicode_tables.py from unicodedata2 {UNICODE_VERSION}: do not edit by hand.
// The character classes of the pre-tokenizers (letter categories, \\p{{M}}, \\p{{N}}, Unicode
// White_Space) as a two-stage table, and the case folds of the contraction letters.
// {", ".join(f"{count} {name}" for name, count in counts.items())};
// {len(blocks)} distinct blocks.
#include "llmprep/unicode_tables.hpp"

namespace llmprep::unicode::detail {{

const uint8_t kClassBlockIndex[kBlockCount] = {{
{rows(index, 32)}
}};

const uint8_t kClassBlocks[{len(blocks)}][kBlockSize] = {{
{block_text}
}};

static_assert(kContractionFoldCount == {len(folds)}, "update kContractionFoldCount in unicode_tables.hpp");
const ContractionFold kContractionFolds[kContractionFoldCount] = {{
{fold_rows}
}};

}}  // namespace llmprep::unicode::detail
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed output is stale")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    unicodedata = load_unicodedata()
    text = render(class_table(unicodedata), contraction_folds(unicodedata))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run scripts/gen_unicode_tables.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
