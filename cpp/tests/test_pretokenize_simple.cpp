// The chapter's splitter (for_each_token: 64-byte blocks classified into bit masks, then a loop that
// skips word bytes 16 at a time where SSE2 is there, 8 ASCII letters at a time elsewhere) against a
// byte-at-a-time reference, on random texts made of every byte that can end a word, runs of dashes,
// and characters that share a lead byte with whitespace, in exact-size buffers at every length and
// start offset around the blocks, the 16-byte step and their look-ahead: under ASan a read past the
// text is a heap-buffer-overflow.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmprep/pretokenize_simple.hpp"
#include "test_util.hpp"

namespace {

using Spans = std::vector<std::pair<size_t, size_t>>;

// The splitter as it was before any skipping: one byte (or one whitespace character) per step.
Spans reference_split(std::string_view text) {
  using namespace llmprep::simple;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  Spans out;
  size_t start = n + 1;  // none
  const auto end_word = [&](size_t at) {
    if (start <= n) out.emplace_back(start, at);
    start = n + 1;
  };
  for (size_t i = 0; i < n;) {
    const unsigned char kind = kByteKinds.kind[p[i]];
    const int ws = kind == kMaybeSpaceLead ? whitespace_length(p + i, n - i) : 0;
    if (kind == kSpaceByte || ws > 0) {
      end_word(i);
      i += ws > 0 ? static_cast<size_t>(ws) : 1;
    } else if (kind == kPunctByte) {
      end_word(i);
      out.emplace_back(i, i + 1);
      ++i;
    } else if (kind == kDashByte && i + 1 < n && p[i + 1] == '-') {
      end_word(i);
      out.emplace_back(i, i + 2);
      i += 2;
    } else {
      if (start > n) start = i;
      ++i;
    }
  }
  end_word(n);
  return out;
}

Spans split(std::string_view text) {
  Spans out;
  llmprep::simple::for_each_token(text, [&](size_t b, size_t e) { out.emplace_back(b, e); });
  return out;
}

std::string scan_text(std::mt19937_64& rng, size_t n_parts) {
  static const char* const parts[] = {"a",
                                      "Zb",
                                      "0",
                                      " ",
                                      "\t",
                                      "\n",
                                      "\x1c",
                                      "\x1f",
                                      "\x0e",
                                      ",",
                                      ".",
                                      ":",
                                      ";",
                                      "?",
                                      "_",
                                      "!",
                                      "\"",
                                      "(",
                                      ")",
                                      "'",
                                      "-",
                                      "--",
                                      "#",
                                      "+",
                                      "\xc2\x85",
                                      "\xc2\xa0",
                                      "\xc2\xa9",
                                      "\xe1\x9a\x80",
                                      "\xe1\x9a\x90",
                                      "\xe2\x80\x80",
                                      "\xe2\x80\x8a",
                                      "\xe2\x80\x8b",
                                      "\xe2\x80\x99",
                                      "\xe2\x80\xa8",
                                      "\xe2\x80\xaf",
                                      "\xe2\x81\x9f",
                                      "\xe2\x81\xa0",
                                      "\xe3\x80\x80",
                                      "\xe3\x80\x81",
                                      "\xe3\x81\xb2",
                                      "\xe4\xb8\xad",
                                      "\xf0\x9f\x98\x80",
                                      "\xc2",
                                      "\xe3\x80",
                                      "\x80"};
  constexpr size_t kParts = sizeof(parts) / sizeof(parts[0]);
  std::string s;
  // Runs of word characters (letters, kana) long enough for the 16-byte step and the 64-byte
  // blocks, runs of dashes (which pair up from their first), broken by anything.
  for (size_t i = 0; i < n_parts; ++i) {
    const size_t r = rng() % 8;
    s += r < 3 ? parts[0] : r < 4 ? parts[39] : r < 5 ? parts[20] : parts[rng() % kParts];
  }
  return s;
}

}  // namespace

TEST_CASE("for_each_token equals the byte-at-a-time splitter at every offset and length") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 60; ++round) {
    const std::string whole = scan_text(rng, 90);
    for (size_t offset = 0; offset < 40 && offset < whole.size(); offset += 3) {
      for (size_t len = 0; offset + len <= whole.size(); len += len < 48 ? 1 : 5) {
        // Byte cuts, even inside a character: the splitter takes any bytes (invalid UTF-8 included).
        const llmprep_test::ExactBuffer buffer(std::string_view(whole).substr(offset, len));
        CHECK(split(buffer.view()) == reference_split(buffer.view()));
      }
    }
  }
}
