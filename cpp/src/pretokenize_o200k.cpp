// The o200k_base pre-tokenizer scanner and its safe-cut rule. Owns the semantics of tiktoken's
// o200k pattern (o200k_harmony uses the same); character classes come from the generated tables.
#include "llmprep/pretokenize_o200k.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "pretokenize_scan.hpp"

// Classes: u = Lu Lt, l = Ll, b = Lm Lo, m = \p{M}, X = u l b m ("letter-like"), U = u b m (the
// pattern's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]), L = l b m ([\p{Ll}\p{Lm}\p{Lo}\p{M}]), P =
// [^\r\n\p{L}\p{N}] (other, marks, whitespace except \r \n), O = [^\s\p{L}\p{N}] (other and marks).
// C = the optional contraction (?i:'s|'t|'re|'ve|'m|'ll|'d), any case, U+017F for s.
//
// The alternatives, in order (none is possessive, so the engine backtracks within each):
//   B1  P? U* L+ C?     B2  P? U+ L* C?     B3  \p{N}{1,3}     B4  " "? O+ [\r\n/]*
//   B5  \s*[\r\n]+      B6  \s+(?!\S)       B7  \s+
// What they yield at a piece start with code points c0, c1, and R = the maximal X run at the letter
// part's start (c0 if c0 is a letter, else c1):
//   - R = U-prefix then l: U* takes the U-prefix, L+ the L run after it ("Hello" + "World" from
//     "HelloWorld", "HELLOworld" whole). R all U: U* gives back until L+ finds an L code point (b or
//     m): the piece ends after the last b or m of R (the remaining u's start the next piece). R all
//     u: B1 fails; B2 takes all of R. Then C? if a contraction follows directly.
//   - P? takes c0 when c0 is in P and R (from c1) is not empty. One exception: c0 a mark and R all
//     u: B1 with P fails, so B1 retries without P, and U* L+ then matches the mark alone (a mark is
//     in both U and L), before B2 is tried: "\u0301AB" gives "\u0301" + "AB". A mark followed by no
//     X is also a piece by itself through B1 (plus C?), while after punctuation it joins B4's run.
//   - B3: c0 a number: up to three numbers. B4: c0 in O, or " " then O; O+ and the [\r\n/]* tail
//     are maximal. B5: a whitespace run with \r or \n ends after its last \r or \n, even at the end
//     of the text (B5 precedes B6). B6: a run reaching the end: all; a run of n >= 2 before a
//     non-space: n - 1. B7: one whitespace character before a non-space.
// Each decision depends on the text from pos up to the code point after the piece (a whitespace
// piece: its whole run and the code point after it). No lookbehind: the scan is memoryless.
//
// Performance notes: ASCII decides with one table load (upper, lower, digit, space, other); ASCII
// upper and lower runs go eight bytes at a time; other code points decode and use the Unicode table.
// An ASCII lower-case start (alone or after one space) skips the class dispatch and the U-prefix:
// ~40 -> ~29 instructions per byte on WikiText (counted with valgrind, as timings on the shared
// machine are too noisy to compare); cl100k's scanner runs ~29, GPT-2's ~25.
namespace llmprep::o200k {

namespace {

using scan::bytes_of;
using scan::fine_at;
using scan::is_continuation;
using scan::is_crlf;
using scan::previous_start;
using unicode::kFineBoth;
using unicode::kFineLower;
using unicode::kFineMark;
using unicode::kFineNumber;
using unicode::kFineOther;
using unicode::kFineUpper;
using unicode::kFineWhitespace;

inline bool is_x(uint8_t f) { return (f & 3) == 1 || f == kFineMark; }  // letter or mark
inline bool in_u(uint8_t f) { return f == kFineUpper || f == kFineBoth || f == kFineMark; }
inline bool in_l(uint8_t f) { return f == kFineLower || f == kFineBoth || f == kFineMark; }
inline bool in_o(uint8_t f) { return (f & 3) == 0; }  // other or mark

// End of the run of L code points (l, b, m) starting at i.
inline size_t l_run_end(const unsigned char* s, size_t n, size_t i) {
  while (i < n) {
    const unsigned char b = s[i];
    if (b >= 'a' && b <= 'z') {
      i = scan::ascii_run_end<scan::AsciiRun::kLower>(s, n, i + 1);
      continue;
    }
    if (b < 0x80) break;
    int length = 1;
    if (!in_l(fine_at(s, i, length))) break;
    i += static_cast<size_t>(length);
  }
  return i;
}

// The letter part of B1/B2 starting at i (see the table above). Returns its end; all_u is set when
// R is empty or all u (B1 fails; B2 then ends at the returned end, R's end).
inline size_t letters_end(const unsigned char* s, size_t n, size_t i, bool& all_u) {
  size_t after_last_l = 0;  // end of the last b or m in the U-prefix (0: none)
  all_u = false;
  // U-prefix.
  while (i < n) {
    const unsigned char b = s[i];
    if (b >= 'A' && b <= 'Z') {
      i = scan::ascii_run_end<scan::AsciiRun::kUpper>(s, n, i + 1);
      continue;
    }
    if (b < 0x80) break;
    int length = 1;
    const uint8_t f = fine_at(s, i, length);
    if (!in_u(f)) break;
    i += static_cast<size_t>(length);
    if (f != kFineUpper) after_last_l = i;
  }
  // Is an l next? Then L+ takes the L run from there.
  bool lower_next = false;
  if (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      lower_next = b >= 'a' && b <= 'z';
    } else {
      int length = 1;
      lower_next = fine_at(s, i, length) == kFineLower;
    }
  }
  if (!lower_next) {
    if (after_last_l != 0) return after_last_l;
    all_u = true;
    return i;
  }
  return l_run_end(s, n, i);
}

// O+ from i, then [\r\n/]*.
inline size_t other_piece_end(const unsigned char* s, size_t n, size_t i) {
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      if (scan::kAsciiFine.of[b] != kFineOther) break;
      ++i;
      continue;
    }
    int length = 1;
    if (!in_o(fine_at(s, i, length))) break;
    i += static_cast<size_t>(length);
  }
  while (i < n && (is_crlf(s[i]) || s[i] == '/')) ++i;
  return i;
}

inline size_t numbers_end(const unsigned char* s, size_t n, size_t i) {
  for (int k = 0; k < 3 && i < n; ++k) {
    int l = 1;
    if (fine_at(s, i, l) != kFineNumber) break;
    i += static_cast<size_t>(l);
  }
  return i;
}

// B5, B6, B7 for the whitespace run at pos.
inline size_t whitespace_piece_end(const unsigned char* s, size_t n, size_t pos) {
  size_t i = pos;
  size_t last_start = pos;
  size_t after_last_crlf = 0;  // 0: none
  while (i < n) {
    const unsigned char b = s[i];
    int length = 1;
    if (fine_at(s, i, length) != kFineWhitespace) break;
    last_start = i;
    i += static_cast<size_t>(length);
    if (is_crlf(b)) after_last_crlf = i;
  }
  if (after_last_crlf != 0) return after_last_crlf;  // B5
  if (i == n) return n;                              // B6 at the end of the text
  if (last_start > pos) return last_start;           // B6: give back the last character
  return i;                                          // B7
}

inline size_t scan_piece(const unsigned char* s, size_t n, size_t pos) {
  // The commonest starts first: an ASCII lower-case letter, alone or after one space. The U-prefix
  // is then empty and L+ takes the L run (what letters_end would find, with fewer tests).
  const unsigned char b0 = s[pos];
  if (static_cast<unsigned char>(b0 - 'a') < 26) return scan::contraction_end(s, n, l_run_end(s, n, pos + 1));
  if (b0 == ' ' && pos + 1 < n && static_cast<unsigned char>(s[pos + 1] - 'a') < 26) {
    return scan::contraction_end(s, n, l_run_end(s, n, pos + 2));
  }
  int l0 = 1;
  const uint8_t f0 = fine_at(s, pos, l0);
  const size_t p1 = pos + static_cast<size_t>(l0);
  bool all_u = false;
  if ((f0 & 3) == 1) return scan::contraction_end(s, n, letters_end(s, n, pos, all_u));
  if (f0 == kFineNumber) return numbers_end(s, n, pos);
  if (is_crlf(s[pos])) return whitespace_piece_end(s, n, pos);
  // c0 is in P: other, mark or whitespace other than \r \n.
  int l1 = 1;
  const uint8_t f1 = p1 < n ? fine_at(s, p1, l1) : kFineWhitespace;
  if (p1 < n && is_x(f1)) {
    const size_t end = letters_end(s, n, p1, all_u);
    if (all_u && f0 == kFineMark) return scan::contraction_end(s, n, p1);
    return scan::contraction_end(s, n, end);
  }
  if (f0 == kFineMark) return scan::contraction_end(s, n, p1);
  if (f0 == kFineOther) return other_piece_end(s, n, p1);
  if (s[pos] == ' ' && p1 < n && f1 == kFineOther) return other_piece_end(s, n, p1 + static_cast<size_t>(l1));
  return whitespace_piece_end(s, n, pos);
}

}  // namespace

size_t next_piece_end(std::string_view text, size_t pos) { return scan::checked_piece_end(text, pos, scan_piece); }

void piece_ends(std::string_view text, std::vector<size_t>& ends) { scan::append_piece_ends(text, ends, scan_piece); }

namespace {

// The piece starts among the 64 bytes at s + pos (pos a piece start), as a bit mask (bit i: a piece
// starts at pos + i; scan::block_piece_ends keeps the trusted bits). For
// ASCII text the alternatives reduce to rules per position i, with x, y the classes of bytes i-1, i
// (u upper case, l lower case, D digit, O other, W whitespace, NL \r or \n, SP U+0020):
//   letters: a start where a letter run starts, unless x leads it (x is W but not NL, or an O that
//         starts a piece: the P? of B1/B2), and inside a run where x is l and y is u (U* L+ ends at
//         the last l: "Hello" + "World"; "HELLOworld" and "ABC" stay whole);
//   digits: runs cut into threes (B3);
//   other: a start unless x is an O of the same run or SP (" ?" of B4); the run's tail [\r\n/]*
//         (NL first) is absorbed, so an O after an absorbed "/" starts a new piece;
//   whitespace: as cl100k's (B5-B7; scan::newline_whitespace_starts).
// Then contractions, which o200k attaches to the letters before them (C?): "'" right after a letter
// followed by s t d m (or ll ve re) in either case joins the letter piece; the next start is after it.
// Trusted: as cl100k's (bits 1..61, two bytes before the first byte >= 0x80: marks, Lo letters and
// U+017F need the Unicode table).
inline uint64_t block_starts(const unsigned char* s, size_t pos, const scan::BlockMasks& m, int& trusted) {
  const uint64_t L = m.letter, U = m.upper, D = m.digit, W = m.whitespace, NL = m.crlf, SP = m.space;
  const uint64_t lower = L & ~U;
  const uint64_t O = ~(L | D | W | m.non_ascii);
  const uint64_t plain = W & ~NL;
  const uint64_t absorbed = scan::absorbed_tail(O, NL, NL | m.slash);
  const uint64_t run_o = O & ~absorbed;
  const uint64_t o_starts = run_o & ~(run_o << 1) & ~(SP << 1);
  uint64_t starts = (L & ~(L << 1) & ~(plain << 1) & ~(o_starts << 1)) | (U & (lower << 1));
  starts |= scan::digit_triple_starts(D) | o_starts;
  starts |= scan::newline_whitespace_starts(W, NL, absorbed, m.non_ascii, trusted);
  starts |= 1;  // pos itself (the shifts above see no byte before it)
  // Every trusted quote, bit 61 included: a contraction removes the start at its "'" (unlike GPT-2's
  // and cl100k's, where a quote at 61 only moves starts past the trusted range).
  // A quote right after a contraction's letters starts a piece of its own ("s'd" + "'s").
  int previous_after = -1;
  for (uint64_t quotes = m.apostrophe & (L << 1) & scan::bits_below(62); quotes != 0; quotes &= quotes - 1) {
    const int c = scan::trailing_zeros(quotes);
    if (c == previous_after) continue;
    const size_t end = scan::contraction_end(s, pos + 64, pos + size_t(c));
    if (end == pos + size_t(c)) continue;
    const int after = int(end - pos);  // <= 64
    previous_after = after;
    starts &= ~(scan::bits_below(after) & ~scan::bits_below(c));
    if (after < 64) starts |= uint64_t(1) << after;
  }
  return starts;
}

}  // namespace

size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
  return scan::block_piece_ends(text, pos, ends, max, block_starts, scan_piece);
}

// Why the rule below is right (see cl100k's is_safe_cut for the two conditions (a) and (b)). w, x
// are the code points before p, y, z those from p on.
//   x, y not ws. y in X: x in X may be inside one letter part (or x = "'" before a contraction's
//       letters), x in O may be its lead: false; x a number cannot lead, and a number run ends at a
//       non-number: true. y a number: x's piece (a letter part, a number run of at most three:
//       false for number|number, an O run whose tail takes only \r \n /) ends at p in both texts:
//       true, except number|number. y other: x a number: true; x in O: maybe one O run: false;
//       x a letter: the letter part ends at p, unless y is "'" (a contraction may follow): true
//       for y != "'". (x a mark may be in an O run: false.)
//   x not ws, y ws: a boundary unless B4's [\r\n/]* tail continues (x in O, y \r or \n). The
//       pieces before p end in a non-space and do not depend on y.
//   x ws, y not ws. x \r or \n: the run's last piece is B5's, ending at its last \r \n = p, the same
//       in text[:p] (B5 does not look past its last \r \n), unless y is "/" (a B4 tail may run on):
//       true for y != "/". x other whitespace: it leads y if y is in X, and U+0020 leads y in O
//       other than a mark: false. Else x stands alone by B7 (or the last of B6) iff the part of the
//       run after its last \r \n is x alone (w not ws, or w \r or \n); text[:p] then ends with B5's
//       piece (as before) and x alone by B6. A longer part would stay whole in text[:p]: false.
//   x, y ws: x \r or \n, y not, z not ws: x is the run's last \r \n: B5 ends at p in both texts.
//       x, y not \r \n, z not ws: B6 gives back y in the whole text; in text[:p], B5 (if any) ends
//       at the same place and B6 takes the rest, which ends at p as in the whole text. Else false.
bool is_safe_cut(std::string_view text, size_t p) {
  scan::CutSides c;
  const scan::Cut trivial = scan::cut_sides(text, p, fine_at, c);
  if (trivial != scan::Cut::kRule) return trivial == scan::Cut::kSafe;
  const unsigned char* s = c.s;
  const uint8_t x = c.x, y = c.y;
  const bool x_ws = x == kFineWhitespace;
  const bool y_ws = y == kFineWhitespace;
  const bool x_nl = is_crlf(s[c.x_start]);
  const bool y_nl = is_crlf(s[p]);

  if (!x_ws && !y_ws) {
    if (is_x(y)) return x == kFineNumber;
    if (y == kFineNumber) return x != kFineNumber;
    // y other (not a mark).
    if (x == kFineNumber) return true;
    if (in_o(x)) return false;
    return s[p] != '\'';
  }
  if (!x_ws) return !(in_o(x) && y_nl);
  if (!y_ws) {
    if (x_nl) return s[p] != '/';
    if (is_x(y) || (s[c.x_start] == ' ' && y == kFineOther)) return false;
    if (c.x_start == 0) return true;
    const size_t w_start = previous_start(s, c.x_start);
    int w_length = 1;
    return fine_at(s, w_start, w_length) != kFineWhitespace || is_crlf(s[w_start]);
  }
  if (y_nl) return false;
  if (c.after_y == c.n) return false;
  int z_length = 1;
  return fine_at(s, c.after_y, z_length) != kFineWhitespace;
}

size_t next_safe_cut(std::string_view text, size_t p) { return scan::first_safe_cut(text, p, is_safe_cut); }

}  // namespace llmprep::o200k
