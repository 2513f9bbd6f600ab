// UTF-8 validation with byte offsets and CPython-compatible replacement.
//
// Performance notes: validation is two passes, and the second runs only when there is a fault. The
// first (valid_prefix_end) answers "valid or not" with a table-driven automaton, one load and one
// shift per byte and no branch on the bytes (Per Vognsen's "shift-based DFA"), after skipping
// 32-byte blocks of ASCII with four word-wide ANDs; the second (scan_fault) is the byte-by-byte
// check of Table 3-7 that reports the fault's offset, length and reason exactly as CPython does,
// started from a sequence boundary the first pass passed. The byte-by-byte scan alone, with an
// 8-byte ASCII skip, ran at 0.6 GB/s on Japanese-German text and 5 GB/s on English prose with
// some accents (docs/performance.md, "UTF-8 validation").
#include "llmprep/utf8.hpp"

#include <array>
#include <cstdio>
#include <cstring>

#include "llmprep/errors.hpp"

namespace llmprep {

namespace {

// Table 3-7 of the Unicode standard, by lead byte: how many bytes its sequence needs (0: the byte
// cannot start one) and the range allowed for the second byte (the others are 80..BF). The one
// statement of the table: the byte-by-byte scan and the automaton's rows both read it.
struct Lead {
  int needed;
  unsigned lo, hi;
};

constexpr Lead lead_of(unsigned b0) {
  if (b0 < 0x80) return {1, 0x80, 0xBF};
  if (b0 >= 0xC2 && b0 <= 0xDF) return {2, 0x80, 0xBF};
  if (b0 == 0xE0) return {3, 0xA0, 0xBF};  // excludes overlong forms
  if (b0 == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates
  if (b0 >= 0xE1 && b0 <= 0xEF) return {3, 0x80, 0xBF};
  if (b0 == 0xF0) return {4, 0x90, 0xBF};  // excludes overlong forms
  if (b0 == 0xF4) return {4, 0x80, 0x8F};  // excludes > U+10FFFF
  if (b0 >= 0xF1 && b0 <= 0xF3) return {4, 0x80, 0xBF};
  return {0, 0, 0};  // 80..C1, F5..FF
}

// Length of the well-formed prefix of the sequence at p (0 = the lead byte itself is invalid),
// and the length the full sequence should have. Follows Unicode Table 3-7, which is also what
// CPython's decoder uses to delimit maximal subparts.
struct SequenceCheck {
  int valid_prefix;  // bytes that belong to a well-formed prefix (lead byte included)
  int needed;        // bytes the sequence needs in total (0 if the lead byte is invalid)
};

SequenceCheck check_sequence(const unsigned char* p, int64_t available) {
  const Lead lead = lead_of(p[0]);
  const int needed = lead.needed;
  const unsigned lo = lead.lo, hi = lead.hi;  // allowed range of the second byte
  if (needed < 2) return {0, 0};              // ASCII never gets here
  int valid = 1;
  for (int i = 1; i < needed; ++i) {
    if (i >= available) break;
    const unsigned char b = p[i];
    const bool ok = (i == 1) ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) break;
    ++valid;
  }
  return {valid, needed};
}

inline uint64_t word_at(const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

constexpr uint64_t kHighBits = 0x8080808080808080ULL;

inline bool all_ascii_8(const unsigned char* p) { return (word_at(p) & kHighBits) == 0; }

inline bool all_ascii_32(const unsigned char* p) {
  return ((word_at(p) | word_at(p + 8) | word_at(p + 16) | word_at(p + 24)) & kHighBits) == 0;
}

// The automaton of Table 3-7. A state is a bit offset into a 64-bit row (one row per byte value),
// and row >> state holds the next state in its low six bits, so a step is a load that does not
// depend on the state and a shift that does. kError is offset 0 and every row's low six bits are
// 0, so it never leaves.
namespace dfa {
constexpr uint64_t kError = 0, kAccept = 6, kNeed1 = 12, kNeed2 = 18, kNeed3 = 24;
constexpr uint64_t kAfterE0 = 30, kAfterED = 36, kAfterF0 = 42, kAfterF4 = 48;  // second byte restricted

constexpr uint64_t edge(uint64_t from, uint64_t to) { return to << from; }

// The state after lead byte b0 (one with a restricted second byte has a state of its own).
constexpr uint64_t after_lead(unsigned b0) {
  switch (b0) {
    case 0xE0:
      return kAfterE0;
    case 0xED:
      return kAfterED;
    case 0xF0:
      return kAfterF0;
    case 0xF4:
      return kAfterF4;
    default: {
      const int needed = lead_of(b0).needed;
      return needed == 2 ? kNeed1 : needed == 3 ? kNeed2 : needed == 4 ? kNeed3 : kError;
    }
  }
}

constexpr uint64_t row(unsigned b) {
  if (b < 0x80) return edge(kAccept, kAccept);
  if (b >= 0xC0) return edge(kAccept, after_lead(b));  // a lead byte (kError: one that starts nothing)
  // A continuation byte: it continues any sequence, and is the second byte of a restricted one
  // where lead_of allows it.
  uint64_t r = edge(kNeed1, kAccept) | edge(kNeed2, kNeed1) | edge(kNeed3, kNeed2);
  for (unsigned lead : {0xE0u, 0xEDu, 0xF0u, 0xF4u}) {
    const Lead l = lead_of(lead);
    if (b >= l.lo && b <= l.hi) r |= edge(after_lead(lead), l.needed == 3 ? kNeed1 : kNeed2);
  }
  return r;
}

constexpr std::array<uint64_t, 256> make_rows() {
  std::array<uint64_t, 256> rows{};
  for (unsigned b = 0; b < 256; ++b) rows[b] = row(b);
  return rows;
}

constexpr std::array<uint64_t, 256> kRows = make_rows();

// Bits above the low six of a state are left over from earlier rows: masking the shift count
// rather than the result keeps one operation per byte on the dependency chain (x86 shifts mask
// their count anyway, so the AND compiles away).
inline uint64_t step(uint64_t state, unsigned char b) { return kRows[b] >> (state & 63); }
inline uint64_t of(uint64_t state) { return state & 63; }
}  // namespace dfa

// The first pass: n if bytes [i, n) are well formed (i a sequence boundary); otherwise a sequence
// boundary at or before the first fault, from which scan_fault finds it. Whenever a 32-byte block
// starts on a boundary that position is remembered, so the second pass rescans less than a block
// in text that returns to ASCII or to a boundary often, and at worst [i, fault) once.
size_t valid_prefix_end(const unsigned char* data, size_t n, size_t i) {
  uint64_t state = dfa::kAccept;
  size_t boundary = i;
  for (; i + 32 <= n; i += 32) {
    if (dfa::of(state) == dfa::kAccept) {
      if (all_ascii_32(data + i)) continue;
      boundary = i;
    }
    for (size_t k = 0; k < 32; k += 8) {
      // A block of mixed text: its all-ASCII words need no steps once the state is back at a boundary.
      // One branch, not two: in text of two-byte letters and spaces whether a word starts on a
      // boundary is a coin toss, and a branch on it alone cut the speed there by half.
      if ((dfa::of(state) == dfa::kAccept) & all_ascii_8(data + i + k)) continue;
      for (size_t j = 0; j < 8; ++j) state = dfa::step(state, data[i + k + j]);
    }
    if (dfa::of(state) == dfa::kError) return boundary;
  }
  if (dfa::of(state) == dfa::kAccept) boundary = i;
  for (; i < n; ++i) state = dfa::step(state, data[i]);
  return dfa::of(state) == dfa::kAccept ? n : boundary;  // not kAccept at the end: an error, or a cut sequence
}

// The byte-by-byte scan: the first fault at or after `from`, with CPython's offset, length and reason.
Utf8Fault scan_fault(const unsigned char* data, int64_t n, int64_t from) {
  int64_t i = from;
  while (i < n) {
    if (i + 8 <= n && all_ascii_8(data + i)) {
      i += 8;
      continue;
    }
    if (data[i] < 0x80) {
      ++i;
      continue;
    }
    const SequenceCheck check = check_sequence(data + i, n - i);
    if (check.needed == 0) return {i, 1, "invalid start byte"};
    if (check.valid_prefix == check.needed) {
      i += check.needed;
      continue;
    }
    // A sequence cut short by the end of the data is "unexpected end of data"; one interrupted
    // by a wrong byte is "invalid continuation byte". Both span the valid prefix.
    const bool at_end = i + check.valid_prefix >= n;
    return {i, check.valid_prefix, at_end ? "unexpected end of data" : "invalid continuation byte"};
  }
  return {};
}

}  // namespace

Utf8Fault find_utf8_fault(std::string_view bytes, int64_t from) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const size_t start = from < 0 ? 0 : static_cast<size_t>(from);
  if (start >= n) return {};
  const size_t boundary = valid_prefix_end(data, n, start);
  if (boundary == n) return {};
  return scan_fault(data, static_cast<int64_t>(n), static_cast<int64_t>(boundary));
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  int64_t done = 0;
  for (;;) {
    const Utf8Fault fault = find_utf8_fault(bytes, done);
    if (fault.offset < 0) {
      out.append(bytes.data() + done, bytes.size() - static_cast<size_t>(done));
      return out;
    }
    out.append(bytes.data() + done, static_cast<size_t>(fault.offset - done));
    out.append("\xEF\xBF\xBD");  // U+FFFD
    done = fault.offset + fault.length;
  }
}

void throw_utf8_error(const std::string& source, unsigned char bad_byte, int64_t offset, const char* reason) {
  char byte_hex[8];
  std::snprintf(byte_hex, sizeof byte_hex, "0x%02x", static_cast<unsigned>(bad_byte));
  throw Utf8Error("'" + source + "' is not valid UTF-8: " + reason + " " + byte_hex + " at byte offset " +
                      std::to_string(offset) +
                      "; fix the input, or substitute U+FFFD with errors='replace' (llmprep tokenize: "
                      "--errors replace)",
                  offset, reason);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace llmprep
