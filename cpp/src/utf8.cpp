// UTF-8 validation with byte offsets and CPython-compatible replacement.
//
// Performance notes: the scan skips 8 bytes at a time while they are all ASCII (a word-wide AND
// against 0x80..80), which covers most of English text; the multi-byte path follows Table 3-7 of
// the Unicode standard byte by byte. Measured well above 1 GB/s on ASCII corpora, so no SIMD yet.
#include "llmprep/utf8.hpp"

#include <cstdio>
#include <cstring>

#include "llmprep/errors.hpp"

namespace llmprep {

namespace {

// Length of the well-formed prefix of the sequence at p (0 = the lead byte itself is invalid),
// and the length the full sequence should have. Follows Unicode Table 3-7, which is also what
// CPython's decoder uses to delimit maximal subparts.
struct SequenceCheck {
  int valid_prefix;  // bytes that belong to a well-formed prefix (lead byte included)
  int needed;        // bytes the sequence needs in total (0 if the lead byte is invalid)
};

SequenceCheck check_sequence(const unsigned char* p, int64_t available) {
  const unsigned char b0 = p[0];
  int needed;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    needed = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    needed = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // excludes surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    needed = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // excludes > U+10FFFF
  } else {
    return {0, 0};
  }
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

inline bool all_ascii_8(const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return (word & 0x8080808080808080ULL) == 0;
}

}  // namespace

Utf8Fault find_utf8_fault(std::string_view bytes, int64_t from) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const int64_t n = static_cast<int64_t>(bytes.size());
  int64_t i = from < 0 ? 0 : from;
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
