// UTF-8 validation and errors="replace" against a reference written from the Unicode standard's
// table of well-formed sequences (Table 3-7) and its "maximal subpart" rule, which CPython's
// decoder follows; the reference itself is pinned by goldens taken from CPython 3.11.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>

#include "llmprep/utf8.hpp"
#include "test_util.hpp"

namespace {

struct RefFault {
  int64_t offset = -1;
  int64_t length = 0;
  std::string reason;
};

// Allowed range of the k-th byte (k >= 1) of a sequence led by b0 (Table 3-7).
bool continuation_ok(unsigned char b0, int k, unsigned char b) {
  if (k == 1) {
    if (b0 == 0xE0) return b >= 0xA0 && b <= 0xBF;
    if (b0 == 0xED) return b >= 0x80 && b <= 0x9F;
    if (b0 == 0xF0) return b >= 0x90 && b <= 0xBF;
    if (b0 == 0xF4) return b >= 0x80 && b <= 0x8F;
  }
  return b >= 0x80 && b <= 0xBF;
}

int sequence_length(unsigned char b0) {
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return 2;
  if (b0 >= 0xE0 && b0 <= 0xEF) return 3;
  if (b0 >= 0xF0 && b0 <= 0xF4) return 4;
  return 0;  // can never start a sequence
}

// The ill-formed sequence at i (length 0 if the sequence there is well formed).
RefFault fault_at(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const int need = sequence_length(p[i]);
  if (need == 0) return {int64_t(i), 1, "invalid start byte"};
  for (int k = 1; k < need; ++k) {
    if (i + size_t(k) >= s.size()) return {int64_t(i), int64_t(k), "unexpected end of data"};
    if (!continuation_ok(p[i], k, p[i + size_t(k)])) return {int64_t(i), int64_t(k), "invalid continuation byte"};
  }
  return {int64_t(i), 0, ""};
}

void reference(std::string_view s, RefFault& first, std::string& replaced) {
  first = RefFault{};
  replaced.clear();
  size_t i = 0;
  while (i < s.size()) {
    RefFault f = fault_at(s, i);
    if (f.length == 0) {
      const size_t n = size_t(sequence_length(static_cast<unsigned char>(s[i])));
      replaced.append(s.substr(i, n));
      i += n;
    } else {
      if (first.offset < 0) first = f;
      replaced += "\xEF\xBF\xBD";
      i += size_t(f.length);
    }
  }
}

void check_against_reference(const std::string& s) {
  RefFault want;
  std::string want_replaced;
  reference(s, want, want_replaced);
  const llmprep_test::ExactBuffer buf(s);
  const llmprep::Utf8Fault got = llmprep::find_utf8_fault(buf.view());
  CHECK(got.offset == want.offset);
  if (want.offset >= 0) {
    CHECK(got.length == want.length);
    CHECK(std::string(got.reason) == want.reason);
  }
  CHECK(llmprep::replace_invalid_utf8(buf.view()) == want_replaced);
}

}  // namespace

TEST_CASE("goldens from CPython: offset, length, reason and replacement") {
  struct Golden {
    const char* bytes;
    int64_t start, end;
    const char* reason;
    const char* replaced;
  };
  // bytes.decode("utf-8") -> (e.start, e.end, e.reason); bytes.decode("utf-8", "replace").encode()
  const Golden goldens[] = {
      {"\xe0\x80", 0, 1, "invalid continuation byte", "\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xf0\x9f\x98", 0, 3, "unexpected end of data", "\xef\xbf\xbd"},
      {"\xed\xa0\x80", 0, 1, "invalid continuation byte", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xc0\xaf", 0, 1, "invalid start byte", "\xef\xbf\xbd\xef\xbf\xbd"},
      {"a\xff"
       "b",
       1, 2, "invalid start byte",
       "a\xef\xbf\xbd"
       "b"},
      {"\xf4\x90\x80\x80", 0, 1, "invalid continuation byte", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xe2\x82", 0, 2, "unexpected end of data", "\xef\xbf\xbd"},
  };
  for (const auto& g : goldens) {
    const std::string s(g.bytes);
    const llmprep::Utf8Fault f = llmprep::find_utf8_fault(s);
    CHECK(f.offset == g.start);
    CHECK(f.length == g.end - g.start);
    CHECK(std::string(f.reason) == g.reason);
    CHECK(llmprep::replace_invalid_utf8(s) == g.replaced);
    check_against_reference(s);  // and the reference agrees with CPython
  }
}

TEST_CASE("every 1- and 2-byte string, and 3- and 4-byte strings over boundary bytes, match the reference") {
  for (int a = 0; a < 256; ++a) {
    check_against_reference(std::string(1, char(a)));
    for (int b = 0; b < 256; ++b) check_against_reference(std::string{char(a), char(b)});
  }
  const unsigned char edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  for (unsigned char a : edges)
    for (unsigned char b : edges)
      for (unsigned char c : edges) {
        check_against_reference(std::string{char(a), char(b), char(c)});
        for (unsigned char d : edges) check_against_reference(std::string{char(a), char(b), char(c), char(d)});
      }
}

TEST_CASE("random text: valid UTF-8 passes unchanged, mutated text matches the reference") {
  std::mt19937_64 rng(6);
  for (int round = 0; round < 300; ++round) {
    std::string s;
    const int n = int(rng() % 200);
    for (int i = 0; i < n; ++i) {
      uint32_t cp;
      do {
        const int kind = int(rng() % 4);
        cp = kind == 0 ? uint32_t(rng() % 0x80) : kind == 1 ? uint32_t(rng() % 0x800) : uint32_t(rng() % 0x110000);
      } while (cp >= 0xD800 && cp <= 0xDFFF);
      llmprep::append_utf8(s, cp);
    }
    CHECK(llmprep::is_valid_utf8(llmprep_test::ExactBuffer(s).view()));
    CHECK(llmprep::replace_invalid_utf8(s) == s);
    check_against_reference(s);
    for (int m = 0; m < 3 && !s.empty(); ++m) s[rng() % s.size()] = char(rng() & 0xFF);
    check_against_reference(s);
    check_against_reference(s.substr(0, s.size() / 2 + 1));  // cut anywhere, even inside a sequence
  }
}

// find_utf8_fault answers in two passes (utf8.cpp): a block-wise automaton that skips ASCII 32 and
// 8 bytes at a time, then the byte-by-byte scan from the last block that started on a sequence
// boundary. These put every kind of fault, and every cut sequence, at every offset across three
// 32-byte blocks, after text of one-, two-, three- and four-byte characters (so blocks start on and
// off sequence boundaries), and ask from several starting offsets.
TEST_CASE("the block-wise pass: every fault at every offset after every kind of text matches the reference") {
  const char* fillers[] = {"a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80"};  // a é 中 😀
  const char* faults[] = {"\x80", "\xc0\xaf", "\xc2", "\xe0\x80\x80", "\xe0\xa0", "\xed\xa0\x80", "\xf0\x8f\xbf",
                          "\xf4\x90\x80", "\xf5", "\xff", "\xe2\x28", "\xf0\x9f\x98",
                          // A sequence broken by ASCII words and then "completed": a pass that skipped
                          // ASCII words in the middle of a sequence would accept these.
                          "\xe2"
                          "abcdefghijklmnop\x82\xac",
                          "\xf0\x9f"
                          "abcdefghijklmnopq\x98\x80"};
  for (const char* filler : fillers) {
    for (size_t at = 0; at < 100; ++at) {
      std::string prefix;
      while (prefix.size() < at) prefix += filler;
      for (const char* fault : faults) {
        for (const std::string& tail : {std::string(), std::string("b"), std::string(40, 'c'), prefix}) {
          const std::string s = prefix + fault + tail;
          check_against_reference(s);
          const llmprep_test::ExactBuffer buf(s);
          RefFault want;
          std::string unused;
          for (size_t from : {size_t(1), std::strlen(filler), prefix.size() / 2, prefix.size()}) {
            // From a sequence boundary: the first fault at or after it.
            if (from > prefix.size() || (from < prefix.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80))
              continue;
            reference(std::string_view(s).substr(from), want, unused);
            const llmprep::Utf8Fault got = llmprep::find_utf8_fault(buf.view(), int64_t(from));
            CHECK(got.offset == (want.offset < 0 ? -1 : want.offset + int64_t(from)));
            CHECK(got.length == want.length);
          }
        }
      }
      // The valid text alone, and cut inside its last character.
      check_against_reference(prefix);
      if (!prefix.empty()) check_against_reference(prefix.substr(0, prefix.size() - 1));
    }
  }
}
