// Unicode character classes for the pre-tokenizers: letter (\p{L}, split into the o200k letter sets),
// mark (\p{M}), number (\p{N}) and whitespace (Unicode White_Space, i.e. Rust regex's \s), as tiktoken
// 0.14 sees them (Unicode 16.0.0), and the case folds of the contraction letters.
// The data lives in the generated cpp/src/unicode_tables.cpp (scripts/gen_unicode_tables.py).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmprep::unicode {

// The Unicode version the generated tables were built from (tiktoken 0.14 uses the same).
inline constexpr const char* kUnicodeVersion = "16.0.0";

// Every code point is in exactly one class. Values are part of the binding's table format
// (_core.unicode_class_table) and of the generator script: do not renumber.
enum class CharClass : uint8_t {
  kOther = 0,       // [^\s\p{L}\p{N}]: punctuation, symbols, marks, controls, unassigned, ...
  kLetter = 1,      // \p{L}: Lu Ll Lt Lm Lo
  kNumber = 2,      // \p{N}: Nd Nl No
  kWhitespace = 3,  // \s in tiktoken's regex: the 25 White_Space code points (not U+001C..U+001F)
};

// A table byte: the CharClass in bits 0-1, and in bits 2-3 the finer class o200k needs. Fine values
// (the generator writes these; _core.unicode_fine_class_table exposes them):
inline constexpr uint8_t kFineOther = 0;  // other, not a mark
inline constexpr uint8_t kFineMark = 4;   // \p{M} (Mn Mc Me): other to GPT-2 and cl100k
inline constexpr uint8_t kFineUpper = 1;  // Lu Lt: only in o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
inline constexpr uint8_t kFineLower = 5;  // Ll: only in o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]
inline constexpr uint8_t kFineBoth = 9;   // Lm Lo: in both o200k letter sets
inline constexpr uint8_t kFineNumber = 2;
inline constexpr uint8_t kFineWhitespace = 3;

// A letter beyond ASCII that a case-insensitive contraction letter matches, and that letter.
struct ContractionFold {
  uint32_t cp;
  char letter;
};

namespace detail {
// Two stages: kClassBlockIndex[cp >> 8] names one of the distinct 256-entry blocks, which holds
// the class byte of each code point. About 140 distinct blocks: 4.25 KiB + 35 KiB, and typical
// text only touches a handful of them.
inline constexpr int kBlockShift = 8;
inline constexpr size_t kBlockSize = size_t{1} << kBlockShift;
inline constexpr size_t kBlockCount = size_t{0x110000} >> kBlockShift;
extern const uint8_t kClassBlockIndex[kBlockCount];
extern const uint8_t kClassBlocks[][kBlockSize];
inline constexpr size_t kContractionFoldCount = 1;
extern const ContractionFold kContractionFolds[kContractionFoldCount];
}  // namespace detail

// The fine class byte of a code point (see kFine*); anything above U+10FFFF is kFineOther (valid
// UTF-8 never yields one).
inline uint8_t fine_class(uint32_t cp) {
  if (cp >= 0x110000) return kFineOther;
  return detail::kClassBlocks[detail::kClassBlockIndex[cp >> detail::kBlockShift]][cp & (detail::kBlockSize - 1)];
}

// The class of a code point.
inline CharClass char_class(uint32_t cp) { return static_cast<CharClass>(fine_class(cp) & 3); }

inline bool is_letter(uint32_t cp) { return char_class(cp) == CharClass::kLetter; }
inline bool is_number(uint32_t cp) { return char_class(cp) == CharClass::kNumber; }
// tiktoken's \s (Unicode White_Space). Python's \s and str.isspace() also accept U+001C..U+001F.
inline bool is_gpt2_whitespace(uint32_t cp) { return char_class(cp) == CharClass::kWhitespace; }

// The lower-case ASCII letter that `cp` matches in a case-insensitive contraction ("s" for "S" and
// U+017F), or 0 when it matches none of s d m t l v r e.
inline char contraction_letter(uint32_t cp) {
  if (cp < 0x80) {
    const char lower = static_cast<char>(cp | 0x20);
    switch (lower) {
      case 's':
      case 'd':
      case 'm':
      case 't':
      case 'l':
      case 'v':
      case 'r':
      case 'e':
        return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ? lower : 0;
      default:
        return 0;
    }
  }
  for (const ContractionFold& fold : detail::kContractionFolds) {
    if (fold.cp == cp) return fold.letter;
  }
  return 0;
}

}  // namespace llmprep::unicode
