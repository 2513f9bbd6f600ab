// Unicode character classes for the pre-tokenizers: letter (\p{L}), number (\p{N}) and whitespace
// (Unicode White_Space, i.e. Rust regex's \s), as tiktoken 0.14 sees them (Unicode 16.0.0).
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

namespace detail {
// Two stages: kClassBlockIndex[cp >> 8] names one of the distinct 256-entry blocks, which holds
// the class byte of each code point. 133 distinct blocks: 4.25 KiB + 33 KiB, and typical text only
// touches a handful of them.
inline constexpr int kBlockShift = 8;
inline constexpr size_t kBlockSize = size_t{1} << kBlockShift;
inline constexpr size_t kBlockCount = size_t{0x110000} >> kBlockShift;
extern const uint8_t kClassBlockIndex[kBlockCount];
extern const uint8_t kClassBlocks[][kBlockSize];
}  // namespace detail

// The class of a code point; anything above U+10FFFF is kOther (valid UTF-8 never yields one).
inline CharClass char_class(uint32_t cp) {
  if (cp >= 0x110000) return CharClass::kOther;
  return static_cast<CharClass>(
      detail::kClassBlocks[detail::kClassBlockIndex[cp >> detail::kBlockShift]][cp & (detail::kBlockSize - 1)]);
}

inline bool is_letter(uint32_t cp) { return char_class(cp) == CharClass::kLetter; }
inline bool is_number(uint32_t cp) { return char_class(cp) == CharClass::kNumber; }
// tiktoken's \s (Unicode White_Space). Python's \s and str.isspace() also accept U+001C..U+001F.
inline bool is_gpt2_whitespace(uint32_t cp) { return char_class(cp) == CharClass::kWhitespace; }

}  // namespace llmprep::unicode
