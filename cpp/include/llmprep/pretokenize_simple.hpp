// The chapter's word-level splitter, without a regex engine:
//   [item.strip() for item in re.split(r'([,.:;?_!"()\']|--|\s)', text) if item.strip()]
// plus the chapter's decode clean-up, re.sub(r'\s+([,.?!"()\'])', r'\1', text) (V2 adds ':;').
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

// SSE2 is part of every x86-64 (GCC and Clang define __SSE2__ there): no run-time dispatch needed.
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#define LLMPREP_SIMPLE_SSE2 1
#endif

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

// What one byte can be, for the scanner: part of a word, ASCII whitespace, a punctuation
// token, '-', or a lead byte that may start multi-byte whitespace (0xC2, 0xE1, 0xE2, 0xE3).
// Continuation bytes and all other lead bytes are word bytes: they can never start whitespace.
enum ByteKind : unsigned char { kWordByte, kSpaceByte, kPunctByte, kDashByte, kMaybeSpaceLead };

struct ByteKinds {
  unsigned char kind[256];
  constexpr ByteKinds() : kind() {
    for (int c = 0; c < 256; ++c) kind[c] = kWordByte;
    for (int c = 0x09; c <= 0x0D; ++c) kind[c] = kSpaceByte;
    for (int c = 0x1C; c <= 0x20; ++c) kind[c] = kSpaceByte;
    for (char c : {',', '.', ':', ';', '?', '_', '!', '"', '(', ')', '\''}) kind[static_cast<int>(c)] = kPunctByte;
    kind[static_cast<int>('-')] = kDashByte;
    for (int c : {0xC2, 0xE1, 0xE2, 0xE3}) kind[c] = kMaybeSpaceLead;
  }
};
inline constexpr ByteKinds kByteKinds{};

#if defined(LLMPREP_SIMPLE_SSE2)
namespace simd {
inline __m128i load(const unsigned char* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); }
inline __m128i eq(__m128i v, int b) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(b))); }
// Unsigned v in [lo, lo + span].
inline __m128i in(__m128i v, int lo, int span) {
  const __m128i t = _mm_sub_epi8(v, _mm_set1_epi8(static_cast<char>(lo)));
  return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(static_cast<char>(span))), t);
}
inline __m128i any(__m128i a, __m128i b) { return _mm_or_si128(a, b); }
inline __m128i both(__m128i a, __m128i b) { return _mm_and_si128(a, b); }

// Where multi-byte whitespace starts among 16 bytes x (x1, x2: the same bytes shifted by one and
// two): whitespace_length's rule, 16 at a time. Two bytes: U+0085 U+00A0; three: U+1680
// U+2000-200A U+2028 U+2029 U+202F U+205F U+3000.
struct SpaceStarts {
  __m128i two, three;
};
inline SpaceStarts multibyte_space_starts(__m128i x, __m128i x1, __m128i x2) {
  const __m128i e2_80 = both(eq(x1, 0x80), any(any(in(x2, 0x80, 0x0A), in(x2, 0xA8, 1)), eq(x2, 0xAF)));
  const __m128i e2 = both(eq(x, 0xE2), any(e2_80, both(eq(x1, 0x81), eq(x2, 0x9F))));
  const __m128i e1 = both(eq(x, 0xE1), both(eq(x1, 0x9A), eq(x2, 0x80)));
  const __m128i e3 = both(eq(x, 0xE3), both(eq(x1, 0x80), eq(x2, 0x80)));
  return {both(eq(x, 0xC2), any(eq(x1, 0x85), eq(x1, 0xA0))), any(e1, any(e2, e3))};
}
}  // namespace simd
#endif

// The first position >= i whose byte may end a word, or n: every byte before it is a word byte
// (kByteKinds says kWordByte, or it leads a multi-byte character that is not whitespace). The byte
// found is only a candidate, for the caller to classify with kByteKinds. For the byte-at-a-time
// loop, which takes texts shorter than a block and the last bytes of longer ones (and all of a text
// where SSE2 is not: there the block splitter below is not built).
inline size_t skip_word_bytes(const unsigned char* p, size_t i, size_t n) {
#if defined(LLMPREP_SIMPLE_SSE2)
  // 16 bytes a step. Candidates: bytes <= '.' (controls, spaces, !"'(),-. and #$%&*+), : ; ? _,
  // and the starts of multi-byte whitespace (E3 also leads all of hiragana and katakana, which byte
  // by byte cost Japanese text ~3x). The look-ahead reads p[i + 17] at most: the loop stops 18
  // bytes before the end, where the scalar loop takes over.
  using namespace simd;
  while (i + 18 <= n) {
    const __m128i x = load(p + i);
    const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8('.')), x);  // x <= '.'
    const __m128i colons = eq(any(x, _mm_set1_epi8(1)), ';');                    // ':' or ';'
    const SpaceStarts spaces = multibyte_space_starts(x, load(p + i + 1), load(p + i + 2));
    const __m128i stop = any(any(low, colons), any(any(eq(x, '?'), eq(x, '_')), any(spaces.two, spaces.three)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) return i + static_cast<size_t>(__builtin_ctz(mask));
    i += 16;
  }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
  // ASCII letters 8 bytes a step; the scalar loop below goes on after a digit or non-ASCII byte.
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  while (i + 8 <= n) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    const uint64_t underscore = x ^ (kOnes * 0x5F);
    // Bit 7 of each byte flags a stop: bit 6 clear (below 0x40), bit 7 set (non-ASCII), or '_'
    // (the zero-byte test may also flag bytes after a true zero, never before one).
    const uint64_t stop = ((~x & (kOnes * 0x40)) << 1) | (x & kHigh) | ((underscore - kOnes) & ~underscore & kHigh);
    if (stop != 0) {
      i += static_cast<size_t>(__builtin_ctzll(stop)) >> 3;
      break;
    }
    i += 8;
  }
#endif
  while (i < n && kByteKinds.kind[p[i]] == kWordByte) ++i;
  return i;
}

#if defined(LLMPREP_SIMPLE_SSE2)
// The block splitter: 64 bytes at a time, classified into bit masks (bit i: byte base + i), then
// every token of the block emitted from the masks, without a branch per byte. Bytes are separators
// (whitespace, including the bytes of multi-byte whitespace), single-byte punctuation tokens,
// "--" tokens (a run of dashes pairs up from its first dash; an odd run's last dash is a word byte,
// as the regex's left-to-right scan leaves it), or word bytes; a token ends where the next token or
// separator starts. State crosses blocks: a word still open, the bytes of whitespace or of a "--"
// that began in the previous block, whether that block ended in a run of dashes and at which
// parity. Returns where the caller's scalar loop goes on (the last block needs 66 readable bytes:
// its look-ahead reads two bytes past it), with `word_start` set if a word is open there.
struct SimpleBlockMasks {
  uint64_t space, punct, dash, dash_next, ws2, ws3;
};

inline SimpleBlockMasks simple_block_masks(const unsigned char* p) {
  using namespace simd;
  const auto bits = [](__m128i m, int chunk) { return uint64_t(uint16_t(_mm_movemask_epi8(m))) << (16 * chunk); };
  SimpleBlockMasks m{};
  uint64_t non_ascii = 0;
  for (int c = 0; c < 4; ++c) {
    const __m128i x = load(p + 16 * c);
    m.space |= bits(any(in(x, 0x09, 4), in(x, 0x1C, 4)), c);
    // , . : ; ? _ ! " ( ) '   (',' '.' differ in bit 1, ':' ';' and '(' ')' in bit 0)
    const __m128i pairs = any(any(eq(any(x, _mm_set1_epi8(2)), '.'), eq(any(x, _mm_set1_epi8(1)), ';')),
                              eq(any(x, _mm_set1_epi8(1)), ')'));
    const __m128i singles = any(any(in(x, '!', 1), eq(x, '\'')), any(eq(x, '?'), eq(x, '_')));
    m.punct |= bits(any(pairs, singles), c);
    m.dash |= bits(eq(x, '-'), c);
    m.dash_next |= bits(eq(load(p + 16 * c + 1), '-'), c);
    non_ascii |= bits(x, c);
  }
  if (non_ascii != 0) {  // multi-byte whitespace needs a byte >= 0x80
    for (int c = 0; c < 4; ++c) {
      const unsigned char* q = p + 16 * c;
      const SpaceStarts spaces = multibyte_space_starts(load(q), load(q + 1), load(q + 2));
      m.ws2 |= bits(spaces.two, c);
      m.ws3 |= bits(spaces.three, c);
    }
  }
  return m;
}

template <class Sink>
size_t for_each_token_blocks(const unsigned char* p, size_t n, size_t& word_start, Sink& sink) {
  constexpr size_t kNone = static_cast<size_t>(-1);
  constexpr uint64_t kEven = 0x5555555555555555ULL;
  uint64_t sep_carry = 0;        // bits 0-1: bytes of whitespace begun in the last block
  uint64_t pair_carry = 0;       // bit 0: the second dash of a "--" begun in the last block
  uint64_t last_word = 0;        // 1: the last block's last byte was a word byte
  uint64_t last_dash = 0;        // 1: it was a dash, of a run that goes on into this block
  uint64_t dash_even_start = 0;  // 1: ... and this block's first byte is an even offset in that run
  size_t base = 0;
  for (; base + 66 <= n; base += 64) {
    const SimpleBlockMasks m = simple_block_masks(p + base);
    const uint64_t sep = m.space | m.ws2 | (m.ws2 << 1) | m.ws3 | (m.ws3 << 1) | (m.ws3 << 2) | sep_carry;
    // Dash runs by the parity of their start: adding a bit at a run's start clears the whole run
    // (the carry runs through it), so `d & ~(d + even_starts)` is the runs that start at an even
    // offset; a run continued from the last block starts at bit 0 if its parity there is even.
    const uint64_t d = m.dash;
    const uint64_t starts = d & ~((d << 1) | last_dash);
    const uint64_t even_starts = (starts & kEven) | (d & last_dash & dash_even_start);
    const uint64_t even_runs = d & ~(d + even_starts);
    const uint64_t pair_first = (even_runs & kEven) | (d & ~even_runs & ~kEven);
    const uint64_t pairs = pair_first & m.dash_next;  // "--" tokens start here
    const uint64_t second = (pairs << 1) | pair_carry;
    const uint64_t word = ~(sep | m.punct | pairs | second);
    const uint64_t token_starts = (word & ~((word << 1) | last_word)) | m.punct | pairs;
    const uint64_t token_ends = token_starts | sep;  // a token ends where the next one or a separator starts
    if (word_start != kNone && token_ends != 0) {
      // The word open since an earlier block ends at this block's first token end.
      sink(word_start, base + size_t(__builtin_ctzll(token_ends)));
      word_start = kNone;
    }
    for (uint64_t s = token_starts; s != 0; s &= s - 1) {
      const int i = __builtin_ctzll(s);
      const uint64_t after = token_ends & ~((uint64_t(2) << i) - 1);  // bits above i (none for i = 63)
      if (after != 0) {
        sink(base + size_t(i), base + size_t(__builtin_ctzll(after)));
      } else if (((m.punct | pairs) >> i) & 1) {
        sink(base + size_t(i), base + size_t(i) + 1 + ((pairs >> i) & 1));
      } else {
        word_start = base + size_t(i);
      }
    }
    sep_carry = (m.ws2 >> 63) | ((m.ws3 >> 62) & 1) | (m.ws3 >> 63) | ((m.ws3 >> 63) << 1);
    pair_carry = pairs >> 63;
    last_word = word >> 63;
    last_dash = d >> 63;
    dash_even_start = last_dash & ~(pair_first >> 63);  // bit 63 at an odd offset: the next one is even
  }
  // The scalar loop goes on after the bytes this block's tokens and whitespace took.
  const uint64_t carried = sep_carry | pair_carry;
  return base + size_t(carried & 2 ? 2 : carried & 1);
}
#endif

template <class Sink>
void for_each_token(std::string_view text, Sink&& sink) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t word_start = kNone;  // a word can continue across '-' and non-space multi-byte chars
#if defined(LLMPREP_SIMPLE_SSE2)
  size_t i = for_each_token_blocks(p, n, word_start, sink);
#else
  size_t i = 0;
#endif
  auto end_word = [&](size_t at) {
    if (word_start != kNone) {
      sink(word_start, at);
      word_start = kNone;
    }
  };
  while (i < n) {
    switch (kByteKinds.kind[p[i]]) {
      case kWordByte:
        if (word_start == kNone) word_start = i;
        i = skip_word_bytes(p, i + 1, n);
        break;
      case kSpaceByte:
        end_word(i);
        ++i;
        break;
      case kPunctByte:
        end_word(i);
        sink(i, i + 1);
        ++i;
        break;
      case kDashByte:
        if (i + 1 < n && p[i + 1] == '-') {
          end_word(i);
          sink(i, i + 2);
          i += 2;
        } else {
          if (word_start == kNone) word_start = i;
          ++i;
        }
        break;
      default: {  // kMaybeSpaceLead
        const int ws = whitespace_length(p + i, n - i);
        if (ws > 0) {
          end_word(i);
          i += static_cast<size_t>(ws);
        } else {
          if (word_start == kNone) word_start = i;
          ++i;
        }
      }
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
