// The chapter's word-level splitter, without a regex engine:
//   [item.strip() for item in re.split(r'([,.:;?_!"()\']|--|\s)', text) if item.strip()]
// plus the chapter's decode clean-up, re.sub(r'\s+([,.?!"()\'])', r'\1', text) (V2 adds ':;').
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmprep::simple {

// Why the split reduces to a scan: every match of the pattern is non-empty, so re.split yields
// the text between matches and the matches themselves. A match is a punctuation character (kept),
// "--" (kept) or one whitespace character (strip() empties it, so it is dropped). The text between
// matches holds no whitespace, so strip() never changes it. Leftmost matching means "---" is "--"
// followed by a word starting with "-", and a lone "-" belongs to its word.
//
// Python's \s and str.isspace() agree on these 29 code points: U+0009-000D, U+001C-001F, U+0020,
// U+0085, U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000.

// Byte length of the whitespace character at p (valid UTF-8, `available` > 0 bytes), or 0.
inline int whitespace_length(const unsigned char* p, size_t available) {
  const unsigned char b = p[0];
  if (b < 0x80) return ((b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20)) ? 1 : 0;
  if (b == 0xC2) return (available >= 2 && (p[1] == 0x85 || p[1] == 0xA0)) ? 2 : 0;
  if (available < 3) return 0;
  if (b == 0xE1) return (p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;  // U+1680
  if (b == 0xE2) {
    if (p[1] == 0x80) {
      const unsigned char c = p[2];  // U+2000-200A, U+2028, U+2029, U+202F
      return ((c >= 0x80 && c <= 0x8A) || c == 0xA8 || c == 0xA9 || c == 0xAF) ? 3 : 0;
    }
    return (p[1] == 0x81 && p[2] == 0x9F) ? 3 : 0;  // U+205F
  }
  if (b == 0xE3) return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;  // U+3000
  return 0;
}

enum class AsciiKind : unsigned char { kWord, kSpace, kPunct, kDash };

struct AsciiKinds {
  AsciiKind kind[128];
  constexpr AsciiKinds() : kind() {
    for (int c = 0; c < 128; ++c) kind[c] = AsciiKind::kWord;
    for (int c = 0x09; c <= 0x0D; ++c) kind[c] = AsciiKind::kSpace;
    for (int c = 0x1C; c <= 0x20; ++c) kind[c] = AsciiKind::kSpace;
    for (char c : {',', '.', ':', ';', '?', '_', '!', '"', '(', ')', '\''}) kind[static_cast<int>(c)] = AsciiKind::kPunct;
    kind[static_cast<int>('-')] = AsciiKind::kDash;
  }
};
inline constexpr AsciiKinds kAsciiKinds{};

// Calls sink(begin, end) with the byte range of every token of valid UTF-8 `text`, in order.
template <class Sink>
void for_each_token(std::string_view text, Sink&& sink) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t word_start = kNone;
  size_t i = 0;
  auto end_word = [&](size_t at) {
    if (word_start != kNone) {
      sink(word_start, at);
      word_start = kNone;
    }
  };
  while (i < n) {
    const unsigned char b = p[i];
    if (b < 0x80) {
      switch (kAsciiKinds.kind[b]) {
        case AsciiKind::kWord:
          if (word_start == kNone) word_start = i;
          ++i;
          continue;
        case AsciiKind::kSpace:
          end_word(i);
          ++i;
          continue;
        case AsciiKind::kPunct:
          end_word(i);
          sink(i, i + 1);
          ++i;
          continue;
        case AsciiKind::kDash:
          if (i + 1 < n && p[i + 1] == '-') {
            end_word(i);
            sink(i, i + 2);
            i += 2;
          } else {
            if (word_start == kNone) word_start = i;
            ++i;
          }
          continue;
      }
    }
    // Non-ASCII: only a few lead bytes can start whitespace; continuation bytes (0x80-0xBF)
    // never can, so stepping one byte at a time through a word is safe.
    const int ws = whitespace_length(p + i, n - i);
    if (ws > 0) {
      end_word(i);
      i += static_cast<size_t>(ws);
    } else {
      if (word_start == kNone) word_start = i;
      ++i;
    }
  }
  end_word(n);
}

// The tokens as views into `text`.
std::vector<std::string_view> split(std::string_view text);

// sorted(set(tokens)) in code-point order (which is UTF-8 byte order).
std::vector<std::string> sorted_unique_tokens(std::string_view text);

// Which characters the decode clean-up glues to the previous word: V1's ,.?!"()' or V2's,
// which adds :;.
enum class Cleanup { kV1, kV2 };

// re.sub(r'\s+([<punct>])', r'\1', text): drops every whitespace run that is followed by one of
// the clean-up characters.
std::string cleanup_decoded(std::string_view joined, Cleanup style);

}  // namespace llmprep::simple
