// Building blocks shared by the hand-written pre-tokenizer scanners (pretokenize_*.cpp): the ASCII
// byte-class table, eight-bytes-at-a-time runs of ASCII letters or digits, and code-point stepping.
// Internal to the core library (not installed, not part of the API).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#if defined(_MSC_VER)
#include <intrin.h>
#endif
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define LLMPREP_SCAN_SSE2 1
#endif

#include "llmprep/unicode_tables.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep::scan {

// Byte classes: the four CharClass values for ASCII bytes, plus kNonAscii for every byte >= 0x80
// (a lead or continuation byte: decode, then use the Unicode table). U+001C..U+001F are kOther:
// tiktoken's \s does not contain them.
constexpr uint8_t kOther = static_cast<uint8_t>(unicode::CharClass::kOther);
constexpr uint8_t kLetter = static_cast<uint8_t>(unicode::CharClass::kLetter);
constexpr uint8_t kNumber = static_cast<uint8_t>(unicode::CharClass::kNumber);
constexpr uint8_t kSpace = static_cast<uint8_t>(unicode::CharClass::kWhitespace);
constexpr uint8_t kNonAscii = 4;

struct ByteClasses {
  uint8_t of[256];
  constexpr ByteClasses() : of() {
    for (int b = 0; b < 256; ++b) {
      uint8_t c = kOther;
      if (b >= 0x80)
        c = kNonAscii;
      else if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'))
        c = kLetter;
      else if (b >= '0' && b <= '9')
        c = kNumber;
      else if (b == ' ' || (b >= 0x09 && b <= 0x0D))
        c = kSpace;
      of[b] = c;
    }
  }
};
inline constexpr ByteClasses kByteClass{};

inline uint8_t byte_class(unsigned char b) { return kByteClass.of[b]; }

// Class and byte length of the code point starting at s[i] (valid UTF-8, i < size).
inline uint8_t class_at(const unsigned char* s, size_t i, int& length) {
  const uint8_t c = byte_class(s[i]);
  if (c != kNonAscii) {
    length = 1;
    return c;
  }
  uint32_t cp = 0;
  length = decode_code_point(s + i, cp);
  return static_cast<uint8_t>(unicode::char_class(cp));
}

// Fine classes (unicode::kFine*) of the ASCII bytes; bytes >= 0x80 map to 0xFF (decode first).
struct AsciiFineClasses {
  uint8_t of[256];
  constexpr AsciiFineClasses() : of() {
    for (int b = 0; b < 256; ++b) {
      uint8_t c = unicode::kFineOther;
      if (b >= 0x80)
        c = 0xFF;
      else if (b >= 'a' && b <= 'z')
        c = unicode::kFineLower;
      else if (b >= 'A' && b <= 'Z')
        c = unicode::kFineUpper;
      else if (b >= '0' && b <= '9')
        c = unicode::kFineNumber;
      else if (b == ' ' || (b >= 0x09 && b <= 0x0D))
        c = unicode::kFineWhitespace;
      of[b] = c;
    }
  }
};
inline constexpr AsciiFineClasses kAsciiFine{};

// Fine class and byte length of the code point starting at s[i] (valid UTF-8, i < size).
inline uint8_t fine_at(const unsigned char* s, size_t i, int& length) {
  const uint8_t c = kAsciiFine.of[s[i]];
  if (c != 0xFF) {
    length = 1;
    return c;
  }
  uint32_t cp = 0;
  length = decode_code_point(s + i, cp);
  return unicode::fine_class(cp);
}

// SWAR over 8 bytes: the high bit of each byte of the result is set where the byte is in [lo, hi]
// (both ASCII). Clearing the high bit first keeps every per-byte sum below 0x100, so no carry crosses
// into the next byte; bytes >= 0x80 are then excluded by their own high bit.
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

inline uint64_t bytes_in_range(uint64_t w, unsigned char lo, unsigned char hi) {
  const uint64_t low7 = w & ~kHighBits;
  const uint64_t at_least_lo = low7 + kOnes * (0x80 - lo);
  const uint64_t above_hi = low7 + kOnes * (0x7F - hi);
  return at_least_lo & ~above_hi & ~w & kHighBits;
}

inline int trailing_zeros(uint64_t x) {  // x != 0
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index = 0;
  _BitScanForward64(&index, x);
  return static_cast<int>(index);
#else
  return __builtin_ctzll(x);
#endif
}

inline int highest_bit(uint64_t x) {  // x != 0
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index = 0;
  _BitScanReverse64(&index, x);
  return static_cast<int>(index);
#else
  return 63 - __builtin_clzll(x);
#endif
}

// Which ASCII run ascii_run_end measures.
enum class AsciiRun { kLetters, kLower, kUpper, kDigits };

template <AsciiRun kind>
inline bool in_ascii_run(unsigned char b) {
  if constexpr (kind == AsciiRun::kLetters) return (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
  if constexpr (kind == AsciiRun::kLower) return b >= 'a' && b <= 'z';
  if constexpr (kind == AsciiRun::kUpper) return b >= 'A' && b <= 'Z';
  if constexpr (kind == AsciiRun::kDigits) return b >= '0' && b <= '9';
  return false;
}

// End of the run of ASCII bytes of one kind starting at byte i, eight bytes per step: most words
// end inside the first word of 8, so the loop exit is a count of trailing zeros instead of a
// mispredicted per-byte branch.
template <AsciiRun kind>
inline size_t ascii_run_end(const unsigned char* s, size_t n, size_t i) {
#if (defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) || defined(_M_X64) || defined(_M_ARM64)
  while (i + 8 <= n) {
    uint64_t w = 0;
    std::memcpy(&w, s + i, 8);
    uint64_t in_class = 0;
    if constexpr (kind == AsciiRun::kLetters) in_class = bytes_in_range(w | (kOnes * 0x20), 'a', 'z');
    if constexpr (kind == AsciiRun::kLower) in_class = bytes_in_range(w, 'a', 'z');
    if constexpr (kind == AsciiRun::kUpper) in_class = bytes_in_range(w, 'A', 'Z');
    if constexpr (kind == AsciiRun::kDigits) in_class = bytes_in_range(w, '0', '9');
    if (in_class != kHighBits) return i + static_cast<size_t>(trailing_zeros(~in_class & kHighBits) >> 3);
    i += 8;
  }
#endif
  while (i < n && in_ascii_run<kind>(s[i])) ++i;
  return i;
}

// End of the maximal run of class `cls` (kLetter, kNumber or kOther) starting at byte i.
inline size_t run_end(const unsigned char* s, size_t n, size_t i, uint8_t cls) {
  while (i < n) {
    const uint8_t c = byte_class(s[i]);
    if (c == cls) {
      i = cls == kOther    ? i + 1
          : cls == kLetter ? scan::ascii_run_end<scan::AsciiRun::kLetters>(s, n, i + 1)
                           : scan::ascii_run_end<scan::AsciiRun::kDigits>(s, n, i + 1);
      continue;
    }
    if (c != kNonAscii) break;
    uint32_t cp = 0;
    const int length = decode_code_point(s + i, cp);
    if (static_cast<uint8_t>(unicode::char_class(cp)) != cls) break;
    i += static_cast<size_t>(length);
  }
  return i;
}

inline const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

inline bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Start of the code point that ends at byte p (0 < p, p on a code point boundary).
inline size_t previous_start(const unsigned char* s, size_t p) {
  size_t q = p - 1;
  while (q > 0 && is_continuation(s[q])) --q;
  return q;
}

inline bool is_crlf(unsigned char b) { return b == '\r' || b == '\n'; }

// The lower-case contraction letter the code point at s[i] matches case-insensitively (see
// unicode::contraction_letter), or 0; `length` receives its byte length.
inline char contraction_letter_at(const unsigned char* s, size_t i, int& length) {
  if (s[i] < 0x80) {
    length = 1;
    return unicode::contraction_letter(s[i]);
  }
  uint32_t cp = 0;
  length = decode_code_point(s + i, cp);
  return unicode::contraction_letter(cp);
}

// If a contraction 's 't 'm 'd 're 've 'll (any case, as tiktoken's (?i:...) matches) starts at
// byte i (at s[i] == '\''), its end; otherwise i.
inline size_t contraction_end(const unsigned char* s, size_t n, size_t i) {
  if (i + 1 >= n || s[i] != '\'') return i;
  int l1 = 1;
  const char c1 = contraction_letter_at(s, i + 1, l1);
  const size_t after1 = i + 1 + static_cast<size_t>(l1);
  if (c1 == 's' || c1 == 't' || c1 == 'd' || c1 == 'm') return after1;
  if ((c1 == 'l' || c1 == 'v' || c1 == 'r') && after1 < n) {
    int l2 = 1;
    const char c2 = contraction_letter_at(s, after1, l2);
    if ((c1 == 'l' && c2 == 'l') || (c1 != 'l' && c2 == 'e')) return after1 + static_cast<size_t>(l2);
  }
  return i;
}

[[noreturn]] void throw_position(const char* function, size_t pos, size_t size, bool inside);

// What every scanner's entry points share, one helper each; `scan_piece(s, n, pos)` is the scanner's
// piece rule, `is_safe_cut(text, p)` and `classify(s, i, length)` (class_at or fine_at) its cut rule.
// Templates over the rule, so each inlines into the pattern's own functions as before.

// next_piece_end: the position check, then the rule.
template <class ScanPiece>
inline size_t checked_piece_end(std::string_view text, size_t pos, ScanPiece scan_piece) {
  if (pos >= text.size()) throw_position("next_piece_end", pos, text.size(), true);
  return scan_piece(bytes_of(text), text.size(), pos);
}

// piece_ends: scan from 0, restarting at each end.
template <class ScanPiece>
inline void append_piece_ends(std::string_view text, std::vector<size_t>& ends, ScanPiece scan_piece) {
  const unsigned char* s = bytes_of(text);
  const size_t n = text.size();
  for (size_t pos = 0; pos < n;) {
    pos = scan_piece(s, n, pos);
    ends.push_back(pos);
  }
}

// Classes of 64 consecutive bytes as bit masks (bit i: byte i), for the block scanners: which bytes
// are ASCII letters (and which of them upper case), digits, U+0020, ASCII whitespace (\t..\r and U+0020),
// \r or \n, "'", "/", and bytes >= 0x80
// (not classified here: a scanner trusts its masks only before the first of them). SSE2 is part of
// every x86-64, so this needs no run-time dispatch; elsewhere a table loop gives the same masks.
struct BlockMasks {
  uint64_t letter, upper, digit, space, whitespace, crlf, apostrophe, slash, non_ascii;
};

inline BlockMasks block_masks(const unsigned char* p) {
  BlockMasks m{};
#if defined(LLMPREP_SCAN_SSE2)
  // Signed byte compares: bytes >= 0x80 are negative and fail every "greater than" test below.
  for (int chunk = 0; chunk < 4; ++chunk) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * chunk));
    const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i letter =
        _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
    const __m128i upper =
        _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    const __m128i digit =
        _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    const __m128i space = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    const __m128i controls =
        _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x08)), _mm_cmplt_epi8(v, _mm_set1_epi8(0x0E)));
    const __m128i apostrophe = _mm_cmpeq_epi8(v, _mm_set1_epi8('\''));
    const __m128i crlf = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    const int shift = 16 * chunk;
    m.letter |= uint64_t(uint16_t(_mm_movemask_epi8(letter))) << shift;
    m.upper |= uint64_t(uint16_t(_mm_movemask_epi8(upper))) << shift;
    m.digit |= uint64_t(uint16_t(_mm_movemask_epi8(digit))) << shift;
    m.space |= uint64_t(uint16_t(_mm_movemask_epi8(space))) << shift;
    m.whitespace |= uint64_t(uint16_t(_mm_movemask_epi8(_mm_or_si128(space, controls)))) << shift;
    m.crlf |= uint64_t(uint16_t(_mm_movemask_epi8(crlf))) << shift;
    m.apostrophe |= uint64_t(uint16_t(_mm_movemask_epi8(apostrophe))) << shift;
    m.slash |= uint64_t(uint16_t(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('/'))))) << shift;
    m.non_ascii |= uint64_t(uint16_t(_mm_movemask_epi8(v))) << shift;
  }
#else
  for (int i = 0; i < 64; ++i) {
    const unsigned char b = p[i];
    const uint64_t bit = uint64_t(1) << i;
    const uint8_t c = byte_class(b);
    if (c == kLetter) m.letter |= bit;
    if (b >= 'A' && b <= 'Z') m.upper |= bit;
    if (c == kNumber) m.digit |= bit;
    if (b == ' ') m.space |= bit;
    if (c == kSpace) m.whitespace |= bit;  // \t..\r and U+0020
    if (b == '\r' || b == '\n') m.crlf |= bit;
    if (b == '\'') m.apostrophe |= bit;
    if (b == '/') m.slash |= bit;
    if (c == kNonAscii) m.non_ascii |= bit;
  }
#endif
  return m;
}

// The bits below bit `i` (none for i <= 0, all for i >= 64).
inline uint64_t bits_below(int i) { return i <= 0 ? 0 : i >= 64 ? ~uint64_t(0) : (uint64_t(1) << i) - 1; }

// Block rules shared by cl100k_base and o200k_base (masks as in BlockMasks; bit 0 is a piece start).

// Digit runs cut into threes (\p{N}{1,3}): a start where a run starts and every third digit after.
inline uint64_t digit_triple_starts(uint64_t digit) {
  uint64_t starts = digit & ~(digit << 1);
  for (const uint64_t three = digit & (digit << 1) & (digit << 2);;) {
    const uint64_t more = starts | ((starts << 3) & three);
    if (more == starts) return starts;
    starts = more;
  }
}

// The bytes of `tail` absorbed into an "other" piece (cl100k: [\r\n]*+, o200k: [\r\n/]*): those
// reached from a newline right after an "other" byte through tail bytes only. A prefix fill in six
// steps (log2 64), as o200k's tail overlaps "other" ("/"), so a run of tail bytes may hold several
// entry points and no single carry can mark it.
inline uint64_t absorbed_tail(uint64_t other, uint64_t newline, uint64_t tail) {
  uint64_t reached = (other << 1) & newline;
  uint64_t through = tail;  // bit i: tail bytes at i and the 2^k - 1 bytes before it
  for (int shift = 1; shift < 64; shift *= 2) {
    reached |= through & (reached << shift);
    through &= through << shift;
  }
  return reached;
}

// Starts among whitespace for \s*[\r\n] (a run holding a newline ends after its last one), \s+(?!\S)
// (a run before a non-space gives back its last character) and \s: run starts and the byte after
// absorbed newlines, the last character of a run when it is not a newline, and the byte after a
// run's last newline when plain whitespace follows it up to a non-space. Lowers `trusted` where that
// is decided beyond the block or by a non-ASCII byte.
inline uint64_t newline_whitespace_starts(uint64_t ws, uint64_t newline, uint64_t absorbed, uint64_t non_ascii,
                                          int& trusted) {
  const uint64_t plain = ws & ~newline;
  uint64_t starts = ws & ~absorbed & (~(ws << 1) | (absorbed << 1));
  starts |= plain & (ws << 1) & ~(ws >> 1);
  // Rare in prose (lines indented after a break): one step per newline followed by plain whitespace.
  for (uint64_t seeds = (newline << 1) & plain; seeds != 0; seeds &= seeds - 1) {
    const int at = trailing_zeros(seeds);
    const uint64_t rest = ~plain & ~bits_below(at);  // bytes from `at` on that end the plain run
    const int end = rest == 0 ? 64 : trailing_zeros(rest);
    if (end >= 64 || ((non_ascii >> end) & 1) != 0) {
      if (at - 1 < trusted) trusted = at - 1;
      break;
    }
    if (((newline >> end) & 1) == 0) starts |= uint64_t(1) << at;
  }
  return starts;
}

// next_piece_ends for a pattern with a block rule: `block_starts(s, pos, masks, trusted)` gives the
// piece starts among the 64 bytes at s + pos (a piece start) as a bit mask, reading the bytes' masks
// and lowering `trusted` (the last bit it may decide, at most 61 and at most two bytes before the
// first byte >= 0x80, whose class needs the Unicode table) where a rule cannot be decided in the
// block; `scan_piece` is the scalar rule for everything else.
template <class BlockStarts, class ScanPiece>
inline size_t block_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max, BlockStarts block_starts,
                               ScanPiece scan_piece) {
  const size_t n = text.size();
  if (pos > n) throw_position("next_piece_ends", pos, n, false);
  const unsigned char* s = bytes_of(text);
  size_t k = 0;
  size_t scalar_end = pos;  // pieces that start before this go through the scalar scan
  while (k < max && pos < n) {
    // Blocks of 64 bytes while the text lasts (a block never holds the text's end, so no rule sees
    // a run reaching it): the piece starts of mostly-ASCII text come from bit masks, with no branch
    // per byte or per piece; the last start of a block begins the next one.
    if (pos >= scalar_end && n - pos > 64) {
      const BlockMasks masks = block_masks(s + pos);
      int trusted = 61;
      if (masks.non_ascii != 0) trusted = std::min(trusted, trailing_zeros(masks.non_ascii) - 2);
      uint64_t starts = trusted < 1 ? 0 : block_starts(s, pos, masks, trusted);
      starts &= bits_below(trusted + 1) & ~uint64_t(1);  // bit 0 is pos itself
      if (starts != 0) {
        const size_t base = pos;
        if (max - k >= 64) {
          // Room for every start of the block: one exit test per piece instead of two.
          for (; starts != 0; starts &= starts - 1) ends[k++] = base + size_t(trailing_zeros(starts));
          pos = ends[k - 1];
        } else {
          for (; starts != 0 && k < max; starts &= starts - 1) {
            pos = base + size_t(trailing_zeros(starts));
            ends[k++] = pos;
          }
        }
        continue;
      }
      // Undecided: scan past the block's non-ASCII bytes (one block test per 64 bytes of CJK text,
      // not one per piece), or else one piece (longer than a block).
      scalar_end = pos + (masks.non_ascii != 0 ? size_t(highest_bit(masks.non_ascii)) + 1 : 1);
    }
    pos = scan_piece(s, n, pos);
    ends[k++] = pos;
  }
  return k;
}

// next_safe_cut: the first p' >= p where the rule allows a cut, or the text's size.
template <class IsSafeCut>
inline size_t first_safe_cut(std::string_view text, size_t p, IsSafeCut is_safe_cut) {
  const size_t n = text.size();
  if (p > n) throw_position("next_safe_cut", p, n, false);
  for (; p < n; ++p) {
    if (is_safe_cut(text, p)) return p;
  }
  return n;
}

// The start of every is_safe_cut: the ends of the text are safe, the inside of a code point is not;
// otherwise the classes of x (the code point ending at p) and y (the one starting there).
struct CutSides {
  const unsigned char* s;
  size_t n;
  size_t x_start;
  size_t after_y;  // where the code point after y starts
  uint8_t x;
  uint8_t y;
};
enum class Cut { kSafe, kUnsafe, kRule };

template <class Classify>
inline Cut cut_sides(std::string_view text, size_t p, Classify classify, CutSides& sides) {
  const size_t n = text.size();
  if (p > n) throw_position("is_safe_cut", p, n, false);
  if (p == 0 || p == n) return Cut::kSafe;
  const unsigned char* s = bytes_of(text);
  if (is_continuation(s[p])) return Cut::kUnsafe;
  sides.s = s;
  sides.n = n;
  sides.x_start = previous_start(s, p);
  int length = 1;
  sides.x = classify(s, sides.x_start, length);
  sides.y = classify(s, p, length);
  sides.after_y = p + static_cast<size_t>(length);
  return Cut::kRule;
}

// The class of the code point ending at `start` (0 < start).
template <class Classify>
inline uint8_t class_before(const unsigned char* s, size_t start, Classify classify) {
  int length = 1;
  return classify(s, previous_start(s, start), length);
}

}  // namespace llmprep::scan
