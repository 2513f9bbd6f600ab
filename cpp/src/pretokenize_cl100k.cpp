// The cl100k_base pre-tokenizer scanner and its safe-cut rule. Owns the semantics of tiktoken's
// cl100k pattern; character classes come from the generated Unicode tables.
#include "llmprep/pretokenize_cl100k.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "pretokenize_scan.hpp"

// What the regex does at a piece start `pos` (first matching alternative wins; c0, c1 are the code
// points at pos and after it; "run" is a maximal run of one class):
//
//   '(?i:[sdmt]|ll|ve|re)      "'" and a contraction in any case: "'S", "'Ll", and U+017F (long s,
//                              which simple case folding maps to "s"; measured with probe encodings
//                              over every letter, see tests/test_pretokenize_cl100k.py).
//   [^\r\n\p{L}\p{N}]?+\p{L}++ a letter run, led by c0 if c0 is neither \r, \n, a letter nor a
//                              number and c1 is a letter (" word", "\tword", ",word", "'word").
//   \p{N}{1,3}+                one to three numbers ("12345" gives "123", "45"); never led by " ".
//   ?[^\s\p{L}\p{N}]++[\r\n]*+ an "other" run (punctuation, symbols, marks, ...), led by U+0020 if
//                              c0 is one, followed by any run of \r and \n ("!!\n\n" is one piece).
//   \s++$                      a whitespace run reaching the end of the text: all of it.
//   \s*[\r\n]                  a whitespace run holding \r or \n: up to and including the last one.
//   \s+(?!\S)                  a run of n >= 2 whitespace characters before a non-space: n - 1.
//   \s                         one whitespace character.
// Possessive quantifiers never give back, and the two optional leads are tried only where the rest
// cannot match without them, so no alternative needs backtracking: each decision looks at most at
// the run it consumes and the code point after it. No lookbehind: the scan is memoryless.
//
// Performance notes: the same design as the GPT-2 scanner (pretokenize_gpt2.cpp): a byte-class
// table for ASCII, a short branch on the first byte, then a run loop that takes ASCII letters eight
// bytes at a time; non-ASCII bytes decode and use the two-stage Unicode table. An ASCII letter start
// (alone or after one space) skips the contraction test and the class dispatch (~29 -> ~28
// instructions per byte on WikiText, counted with valgrind).
namespace llmprep::cl100k {

namespace {

using scan::bytes_of;
using scan::class_at;
using scan::is_continuation;
using scan::is_crlf;
using scan::kLetter;
using scan::kNumber;
using scan::kOther;
using scan::kSpace;
using scan::previous_start;
using scan::run_end;

// After a run of "other": its trailing [\r\n]*+.
inline size_t crlf_run_end(const unsigned char* s, size_t n, size_t i) {
  while (i < n && is_crlf(s[i])) ++i;
  return i;
}

// At most three numbers starting at i (the first is known to be one, `length` bytes long).
inline size_t numbers_end(const unsigned char* s, size_t n, size_t i, int length) {
  i += static_cast<size_t>(length);
  for (int k = 0; k < 2 && i < n; ++k) {
    int l = 1;
    if (class_at(s, i, l) != kNumber) break;
    i += static_cast<size_t>(l);
  }
  return i;
}

// The piece starting with a whitespace run at pos, once the letter and " other" leads are ruled out.
inline size_t whitespace_piece_end(const unsigned char* s, size_t n, size_t pos) {
  size_t i = pos;
  size_t last_start = pos;
  size_t after_last_crlf = 0;  // 0: none (a real end is > pos >= 0)
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      if (scan::byte_class(b) != kSpace) break;
      last_start = i;
      ++i;
      if (is_crlf(b)) after_last_crlf = i;
      continue;
    }
    int length = 1;
    if (class_at(s, i, length) != kSpace) break;
    last_start = i;
    i += static_cast<size_t>(length);
  }
  if (i == n) return n;                              // \s++$
  if (after_last_crlf != 0) return after_last_crlf;  // \s*[\r\n]
  if (last_start > pos) return last_start;           // \s+(?!\S)
  return i;                                          // \s
}

inline size_t scan_piece(const unsigned char* s, size_t n, size_t pos) {
  const unsigned char b = s[pos];
  // The commonest starts first: an ASCII letter, alone or after one space.
  if (static_cast<unsigned char>((b | 0x20) - 'a') < 26) {
    return run_end(s, n, scan::ascii_run_end<scan::AsciiRun::kLetters>(s, n, pos + 1), kLetter);
  }
  if (b == ' ' && pos + 1 < n && static_cast<unsigned char>((s[pos + 1] | 0x20) - 'a') < 26) {
    return run_end(s, n, scan::ascii_run_end<scan::AsciiRun::kLetters>(s, n, pos + 2), kLetter);
  }
  if (b == '\'') {
    const size_t end = scan::contraction_end(s, n, pos);
    if (end != pos) return end;
  }
  int l0 = 1;
  const uint8_t c0 = class_at(s, pos, l0);
  const size_t p1 = pos + static_cast<size_t>(l0);
  if (c0 == kLetter) return run_end(s, n, p1, kLetter);
  if (c0 == kNumber) return numbers_end(s, n, pos, l0);
  // c0 is other or whitespace: it leads a letter run unless it is \r or \n.
  int l1 = 1;
  const uint8_t c1 = p1 < n ? class_at(s, p1, l1) : kSpace;
  if (c1 == kLetter && !is_crlf(b)) return run_end(s, n, p1 + static_cast<size_t>(l1), kLetter);
  if (c0 == kOther) return crlf_run_end(s, n, run_end(s, n, p1, kOther));
  if (b == ' ' && p1 < n && c1 == kOther) {
    return crlf_run_end(s, n, run_end(s, n, p1 + static_cast<size_t>(l1), kOther));
  }
  return whitespace_piece_end(s, n, pos);
}

}  // namespace

size_t next_piece_end(std::string_view text, size_t pos) { return scan::checked_piece_end(text, pos, scan_piece); }

void piece_ends(std::string_view text, std::vector<size_t>& ends) { scan::append_piece_ends(text, ends, scan_piece); }

namespace {

// The piece starts among the 64 bytes at s + pos (pos a piece start), as a bit mask (bit i: a piece
// starts at pos + i; scan::block_piece_ends keeps the trusted bits). The
// scanner's alternatives restated per position i, with x, y the classes of bytes i-1, i (L letter,
// D digit, O other, W whitespace, NL \r or \n, SP U+0020):
//   y L:  a start unless x is L, or x leads y's run: x is W but not NL (the last character of a
//         whitespace run always starts a piece), or x is an O that starts a piece;
//   y D:  a start where a digit run starts, and every third digit after (\p{N}{1,3}+);
//   y O:  a start unless x is O (one run) or SP (" ?" leads the run);
//   an O starts a piece unless the byte before it is O or SP (the same rule, one byte earlier);
//   y W:  NL right after an O run (through any NL run) is absorbed by it ([\r\n]*+): no start;
//         after a non-space (or after absorbed NLs) a start; inside a whitespace run a start only
//         before its last character when a non-space follows (\s+(?!\S)), and after its last NL
//         (\s*[\r\n] ends there) when what follows that NL is plain whitespace up to a non-space.
// Then contractions: "'" that starts a piece followed by s t d m (or ll ve re) in either case is a
// piece of 2 (3) bytes: a start after it (none inside it: the letter after "'" has "'" as its lead).
// Trusted: bits 1..61 (bit i depends on bytes up to i+1, contractions up to i+2), and only up to two
// bytes before the first byte >= 0x80 (its class needs the Unicode table; U+017F folds to "s"), and
// before any NL whose following whitespace reaches the block's end.
inline uint64_t block_starts(const unsigned char* s, size_t pos, const scan::BlockMasks& m, int& trusted) {
  const uint64_t L = m.letter, D = m.digit, W = m.whitespace, NL = m.crlf, SP = m.space;
  const uint64_t O = ~(L | D | W | m.non_ascii);
  const uint64_t plain = W & ~NL;
  const uint64_t o_starts = O & ~(O << 1) & ~(SP << 1);
  const uint64_t absorbed = scan::absorbed_tail(O, NL, NL);
  uint64_t starts = (L & ~(L << 1) & ~(plain << 1) & ~(o_starts << 1)) | scan::digit_triple_starts(D) | o_starts;
  starts |= scan::newline_whitespace_starts(W, NL, absorbed, m.non_ascii, trusted);
  starts |= 1;  // pos itself (the shifts above see no byte before it)
  for (uint64_t quotes = m.apostrophe & starts & scan::bits_below(61); quotes != 0; quotes &= quotes - 1) {
    const size_t c = pos + size_t(scan::trailing_zeros(quotes));
    const size_t end = scan::contraction_end(s, pos + 64, c);
    if (end != c) starts |= uint64_t(1) << (end - pos);
  }
  return starts;
}

}  // namespace

size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
  return scan::block_piece_ends(text, pos, ends, max, block_starts, scan_piece);
}

// Why the rule below is right. Cutting at p is safe iff (a) the scan of the whole text has a
// boundary at p (the scan being memoryless, the pieces after p are then those of text[p:]) and
// (b) the scan of text[:p] reproduces the pieces before p. A piece's extent depends on the text it
// covers and at most the code point after it, except a whitespace run's, which depends on the whole
// run and what follows it (the end of the text included). w, x are the code points before p, y, z
// those from p on; "ws" is whitespace, "nl" is \r or \n.
//   x, y not ws. Letter|letter, number|number, other|other: maybe one run (or "'s" + "am", or the
//       three-digit split): false. Other|letter: x may lead the letter run, or "'" start a
//       contraction: false. Letter|number, letter|other, number|letter, number|other, other|number:
//       no alternative carries x's class into y's (a contraction ends in a letter, the other run's
//       tail takes only \r\n), so p is a boundary, and x's piece ends at p in text[:p] too.
//   x not ws, y ws: a boundary unless an other run's [\r\n]* tail continues (x other, y nl). The
//       pieces before p do not depend on y: the last one ends in a non-space.
//   x ws, y not ws: x nl: the run's last piece ends with its last nl at p (\s*[\r\n], or an other
//       run's tail); in text[:p], \s++$ takes the same piece (its start is not led by anything:
//       x is no lead and a longer run starts with whitespace). Otherwise x leads y if y is a letter,
//       and U+0020 leads y if y is other: false. Else (y a number, or y other after a non-space
//       x) x stands alone iff the run is one character (w not ws): then \s or \s*[\r\n] ends it at
//       p in the whole text and \s++$ in text[:p]. In a longer run text[:p] would keep a piece
//       (\s++$) that the whole text splits (n - 1, or at its last nl): false.
//   x, y ws: inside a run. x nl, y not nl, z not ws: x is the run's last nl, so \s*[\r\n] ends
//       there in the whole text, \s++$ in text[:p]. w not ws, x and y not nl, z not ws: the run is
//       x y, and \s+(?!\S) gives x alone in the whole text, \s++$ in text[:p]. Everything else
//       within a run: false (conservative, needs no further lookahead).
bool is_safe_cut(std::string_view text, size_t p) {
  scan::CutSides c;
  const scan::Cut trivial = scan::cut_sides(text, p, class_at, c);
  if (trivial != scan::Cut::kRule) return trivial == scan::Cut::kSafe;
  const unsigned char* s = c.s;
  const uint8_t x = c.x, y = c.y;
  const bool x_nl = is_crlf(s[c.x_start]);
  const bool y_nl = is_crlf(s[p]);

  if (x != kSpace && y != kSpace) return x != y && !(x == kOther && y == kLetter);
  if (x != kSpace) return !(x == kOther && y_nl);
  if (y != kSpace) {
    if (x_nl) return true;
    if (y == kLetter || (s[c.x_start] == ' ' && y == kOther)) return false;
    if (c.x_start == 0) return true;
    return scan::class_before(s, c.x_start, class_at) != kSpace;
  }
  if (y_nl) return false;
  if (c.after_y == c.n) return false;
  int z_length = 1;
  if (class_at(s, c.after_y, z_length) == kSpace) return false;
  if (x_nl) return true;
  if (c.x_start == 0) return true;
  return scan::class_before(s, c.x_start, class_at) != kSpace;
}

size_t next_safe_cut(std::string_view text, size_t p) { return scan::first_safe_cut(text, p, is_safe_cut); }

}  // namespace llmprep::cl100k
