// The GPT-2 pre-tokenizer scanner and its safe-cut rule. Owns the semantics of tiktoken's r50k
// pattern; character classes come from the generated Unicode tables.
#include "llmprep/pretokenize_gpt2.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "pretokenize_scan.hpp"

// What the regex does, alternative by alternative, at a piece start `pos` (the first alternative
// that matches wins; every quantifier is greedy and none of them ever needs to give back, except
// in \s+(?!\S)):
//
//   '(?:[sdmt]|ll|ve|re)  a lower-case ASCII contraction, matched without looking further ("'sam"
//                         gives "'s" + "am"). "'S" and U+2019 are not contractions: "'" then
//                         falls to the [^\s\p{L}\p{N}] run.
//   ' ?\p{L}++' etc.      an optional U+0020 and a maximal run of one class (letter, number or
//                         other). Only U+0020 can lead, and only when a non-space follows it.
//   \s++$                 a whitespace run that reaches the end of the text: all of it.
//   \s+(?!\S)             a run of n >= 2 whitespace characters followed by a non-space: the first
//                         n-1 (backtracking one character makes the lookahead see whitespace). The
//                         last one then starts the next piece: " " + word if it is U+0020,
//                         otherwise it stands alone via \s.
//   \s                    a run of one whitespace character that is not U+0020, followed by a
//                         non-space: that character alone ("\n" before "word").
//
// Every decision depends only on text at and after `pos` (no lookbehind), so the scan is
// memoryless: the pieces of text[p:] are the pieces of text after p whenever p is a boundary.
//
// Design notes (measurements and rejected designs: docs/performance.md): a 256-entry byte-class
// table decides ASCII bytes with one load; other code points go through the two-stage Unicode
// table. ASCII letter and digit runs are scanned 8 bytes at a time (SWAR range test + count
// trailing zeros), entered only after an ASCII byte of the run's class, so non-Latin runs keep the
// per-character loop. No allocation per piece.
namespace llmprep::gpt2 {

namespace {

using scan::bytes_of;
using scan::class_at;
using scan::is_continuation;
using scan::kLetter;
using scan::kNumber;
using scan::kOther;
using scan::kSpace;
using scan::previous_start;
using scan::run_end;

// The piece starting with a whitespace run at `pos` (see the table above). When the run is a single
// U+0020 followed by a non-space, the caller has already taken the " ?X+" branch instead.
inline size_t whitespace_piece_end(const unsigned char* s, size_t n, size_t pos) {
  size_t i = pos;
  size_t last_start = pos;
  while (i < n) {
    int length = 1;
    if (class_at(s, i, length) != kSpace) break;
    last_start = i;
    i += static_cast<size_t>(length);
  }
  if (i == n) return n;                     // \s++$
  if (last_start > pos) return last_start;  // \s+(?!\S): give back the last character
  return i;                                 // \s: one character that is not U+0020
}

inline size_t scan_piece(const unsigned char* s, size_t n, size_t pos) {
  const unsigned char b = s[pos];
  if (b == '\'' && pos + 1 < n) {
    const unsigned char c1 = s[pos + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'd' || c1 == 'm') return pos + 2;
    if (pos + 2 < n) {
      const unsigned char c2 = s[pos + 2];
      if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e')) return pos + 3;
    }
    return run_end(s, n, pos + 1, kOther);
  }
  if (b == ' ') {
    if (pos + 1 == n) return n;
    int length = 1;
    const uint8_t c = class_at(s, pos + 1, length);
    if (c != kSpace) return run_end(s, n, pos + 1 + static_cast<size_t>(length), c);
    return whitespace_piece_end(s, n, pos);
  }
  int length = 1;
  const uint8_t c = class_at(s, pos, length);
  if (c == kSpace) return whitespace_piece_end(s, n, pos);
  return run_end(s, n, pos + static_cast<size_t>(length), c);
}

}  // namespace

size_t next_piece_end(std::string_view text, size_t pos) { return scan::checked_piece_end(text, pos, scan_piece); }

void piece_ends(std::string_view text, std::vector<size_t>& ends) { scan::append_piece_ends(text, ends, scan_piece); }

namespace {

// The piece starts among the 64 bytes at s + pos (pos a piece start), as a bit mask (bit i: a piece
// starts at pos + i; scan::block_piece_ends keeps the trusted bits and finds the masks). The rules
// are the scanner's, stated per position with x, y, z the classes of
// bytes i-1, i, i+1 (W: whitespace, SP: U+0020, otherwise letter, digit or other):
//   y non-space, x non-space:   a start iff the classes differ ("ab" no, "a." yes);
//   y non-space, x whitespace:  a start iff x is not U+0020 (" a" is one piece, "\na" is two);
//   y whitespace, x non-space:  always (no piece carries a non-space into whitespace);
//   y whitespace, x whitespace: iff z is non-space (\s+(?!\S) gives back the run's last character).
// Then contractions: "'" that starts a piece followed by s t d m (or ll ve re) makes a piece of those
// 2 (3) bytes: no start inside it, a start after it. Bit i depends on bytes i-1..i+1 and on
// contractions starting at i-3..i-1 (bytes up to i+1), hence the trusted range: bits 1..61, and only
// up to two bytes before the first byte >= 0x80 (its class needs the Unicode table; U+00A0 is a
// space). A whitespace run that reaches the end of the text (\s++$) is never inside a block: the caller only takes
// blocks that end before the text does, and the rules give no start inside a run not followed by a non-space.
inline uint64_t block_starts(const unsigned char* s, size_t pos, const scan::BlockMasks& m, int& /*trusted*/) {
  const uint64_t w = m.whitespace, nw = ~w;
  const uint64_t other = ~(m.letter | m.digit | w | m.non_ascii);
  const uint64_t same = (m.letter & (m.letter << 1)) | (m.digit & (m.digit << 1)) | (other & (other << 1));
  uint64_t starts =
      (nw & (w << 1) & ~(m.space << 1)) | (nw & (nw << 1) & ~same) | (w & (nw << 1)) | (w & (w << 1) & (nw >> 1));
  starts |= 1;  // pos itself (the shifts above see no byte before it)
  // Quotes at bits 0..60: one at 61 only changes bits past the trusted range (and 61 + 3 would
  // shift by 64).
  for (uint64_t quotes = m.apostrophe & starts & scan::bits_below(61); quotes != 0; quotes &= quotes - 1) {
    const int c = scan::trailing_zeros(quotes);
    const unsigned char c1 = s[pos + size_t(c) + 1], c2 = s[pos + size_t(c) + 2];
    int length = 0;
    if (c1 == 's' || c1 == 't' || c1 == 'd' || c1 == 'm') {
      length = 2;
    } else if ((c1 == 'l' && c2 == 'l') || (c1 == 'v' && c2 == 'e') || (c1 == 'r' && c2 == 'e')) {
      length = 3;
    }
    if (length == 0) continue;
    starts &= ~(uint64_t(1) << (c + 1));  // the letter after "'" (c + 2 is a letter too for length 3)
    starts |= uint64_t(1) << (c + length);
  }
  return starts;
}

}  // namespace

size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
  return scan::block_piece_ends(text, pos, ends, max, block_starts, scan_piece);
}

// Why the rule below is right. Write P(t) for the pieces of t. Cutting at p is safe iff
//   (a) the scan of the whole text has a boundary at p (then, the scan being memoryless, the pieces
//       after p are P(text[p:])), and
//   (b) the scan of text[:p] reproduces the pieces before p. Each piece ending before p is decided
//       by the text up to at most one character past it, except a whitespace run, which is decided
//       by the run and the character after it. So (b) can only fail when the last piece before p
//       depends on text[p]: that is a whitespace run ending at p and followed by a non-space
//       ("a\n\nb" cut before "b": the whole text gives "\n", "\n"; the prefix gives "\n\n").
// With x the code point ending at p and y the one starting there:
//   x, y both non-space, different classes: no alternative puts two classes in one piece except a
//       contraction ("'" + letters), so p is a boundary unless x is "'" and y a letter; (b) holds
//       because the last piece ends in a non-space. Same class: usually one run (no cut), except
//       after a contraction ("'s" + "am"); we answer false, which is conservative.
//   x non-space, y space: no piece carries a non-space into following whitespace (U+0020 only ever
//       leads a piece), so p is a boundary, and (b) holds as above. This covers "word" + " next".
//   x space, y non-space: a boundary iff the run ending at p is one character that is not U+0020
//       (U+0020 would lead y's piece; a longer run gives back its last character, which then
//       stands alone and ends at p, but the prefix alone would keep the run whole: (b) fails).
//   x, y both space: inside one run. The only boundary inside a run is before its last character
//       when a non-space follows the run (\s+(?!\S)); then the prefix ends in the rest of the run,
//       one piece (\s++$), as in the whole text, so (b) holds. A run that reaches the end of the
//       text is one piece: no cut.
bool is_safe_cut(std::string_view text, size_t p) {
  scan::CutSides c;
  const scan::Cut trivial = scan::cut_sides(text, p, class_at, c);
  if (trivial != scan::Cut::kRule) return trivial == scan::Cut::kSafe;
  const unsigned char* s = c.s;
  const uint8_t x = c.x, y = c.y;

  if (x != kSpace && y != kSpace) return x != y && !(s[c.x_start] == '\'' && y == kLetter);
  if (x != kSpace) return true;
  if (y != kSpace) {
    if (s[c.x_start] == ' ') return false;
    if (c.x_start == 0) return true;
    return scan::class_before(s, c.x_start, class_at) != kSpace;
  }
  if (c.after_y == c.n) return false;
  int z_length = 1;
  return class_at(s, c.after_y, z_length) != kSpace;
}

size_t next_safe_cut(std::string_view text, size_t p) { return scan::first_safe_cut(text, p, is_safe_cut); }

}  // namespace llmprep::gpt2
