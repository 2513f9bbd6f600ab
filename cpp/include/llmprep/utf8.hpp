// UTF-8 validation and Python-compatible error replacement, plus the code-point decoder every
// scanner uses. Everything downstream of this file may assume its input is valid UTF-8.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace llmprep {

// One ill-formed sequence: where it starts, how many bytes Python's decoder treats as one unit
// (the "maximal subpart", which errors="replace" turns into one U+FFFD) and Python's reason text
// ("invalid start byte", "invalid continuation byte" or "unexpected end of data").
struct Utf8Fault {
  int64_t offset = -1;  // -1: no fault
  int64_t length = 0;
  const char* reason = "";
};

// The first ill-formed sequence at or after byte `from`, or a fault with offset -1.
Utf8Fault find_utf8_fault(std::string_view bytes, int64_t from = 0);

inline bool is_valid_utf8(std::string_view bytes) { return find_utf8_fault(bytes).offset < 0; }

// bytes.decode("utf-8", errors="replace").encode("utf-8"): each maximal ill-formed subpart
// becomes one U+FFFD, exactly as CPython's decoder does.
std::string replace_invalid_utf8(std::string_view bytes);

// Throws Utf8Error for the fault found at `offset` of `source` (a file name or other label):
// "'<source>' is not valid UTF-8: <reason> 0x<byte> at byte offset <offset>; <how to go on>".
[[noreturn]] void throw_utf8_error(const std::string& source, unsigned char bad_byte, int64_t offset,
                                   const char* reason);

// Decodes the code point starting at p (valid UTF-8 assumed) and returns its byte length.
inline int decode_code_point(const unsigned char* p, uint32_t& cp) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if (b0 < 0xE0) {
    cp = (uint32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    return 2;
  }
  if (b0 < 0xF0) {
    cp = (uint32_t(b0 & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    return 3;
  }
  cp = (uint32_t(b0 & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) | (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  return 4;
}

// Appends the UTF-8 encoding of a Unicode scalar value.
void append_utf8(std::string& out, uint32_t cp);

}  // namespace llmprep
