// TextChunker: the chunks do not depend on how the document is split into blocks, they join back
// into the (replaced) text, every cut is a safe cut of the whole text, and UTF-8 errors name the
// same offset for every block size.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llmprep/chunker.hpp"
#include "llmprep/errors.hpp"
#include "llmprep/pretokenize_gpt2.hpp"
#include "llmprep/utf8.hpp"
#include "test_util.hpp"

using llmprep::CutRule;
using llmprep::TextChunker;

namespace {

// Mixed text: ASCII words, contractions, digits, runs of spaces and newlines, multi-byte letters,
// and (if `invalid`) ill-formed bytes, including sequences truncated by the end of the text.
std::string mixed_text(std::mt19937_64& rng, size_t n_parts, bool invalid) {
  static const char* const parts[] = {"word",
                                      " word",
                                      "'s",
                                      "'ll",
                                      " 1234",
                                      "   ",
                                      "\n\n",
                                      "\t",
                                      " ",
                                      "!?",
                                      "éèà",
                                      "\xe4\xb8\xad\xe6\x96\x87",
                                      " \xd0\xbf\xd1\x80",
                                      "\xf0\x9f\x98\x80",
                                      "x",
                                      "  \n",
                                      "..."};
  static const char* const bad[] = {"\xff", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xed\xa0\x80", "\x80\x80"};
  std::string s;
  for (size_t i = 0; i < n_parts; ++i) {
    if (invalid && rng() % 20 == 0) {
      s += bad[rng() % (sizeof(bad) / sizeof(bad[0]))];
    } else {
      s += parts[rng() % (sizeof(parts) / sizeof(parts[0]))];
    }
  }
  return s;
}

std::vector<std::string> chunk(CutRule rule, std::string_view text, size_t chunk_bytes, size_t block, bool replace) {
  TextChunker chunker(rule, chunk_bytes, replace, "test");
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size(); pos += block) {
    // Each block in an exact-size buffer: a read past the block is caught by ASan.
    const llmprep_test::ExactBuffer buf(text.substr(pos, block));
    chunker.push(buf.view(), out);
  }
  chunker.finish(out);
  return out;
}

}  // namespace

TEST_CASE("chunks are the same for every block size and join into the replaced text") {
  std::mt19937_64 rng(4);
  for (CutRule rule : {CutRule::kGpt2, CutRule::kWhitespace}) {
    for (int doc = 0; doc < 6; ++doc) {
      const std::string text = mixed_text(rng, 400 + doc * 200, doc % 2 == 1);
      const std::string replaced = llmprep::replace_invalid_utf8(text);
      for (size_t chunk_bytes : {1, 16, 100, 1 << 20}) {
        const std::vector<std::string> whole = chunk(rule, text, chunk_bytes, text.size() + 1, true);
        std::string joined;
        std::vector<size_t> chunk_piece_ends;
        for (const auto& c : whole) {
          CHECK(!c.empty());
          CHECK(llmprep::is_valid_utf8(c));
          // The whitespace rule cuts only just before a whitespace character.
          if (rule == CutRule::kWhitespace && !joined.empty()) CHECK(llmprep::is_safe_cut(rule, "x" + c, 1));
          std::vector<size_t> ends;
          llmprep::gpt2::piece_ends(c, ends);
          for (size_t e : ends) chunk_piece_ends.push_back(joined.size() + e);
          joined += c;
        }
        CHECK(joined == replaced);
        if (rule == CutRule::kGpt2) {
          // The point of the cuts: the pieces of the chunks are exactly the pieces of the whole text.
          std::vector<size_t> want;
          llmprep::gpt2::piece_ends(replaced, want);
          CHECK(chunk_piece_ends == want);
        }
        for (size_t block : {1, 2, 3, 5, 7, 64, 1000}) {
          CHECK(chunk(rule, text, chunk_bytes, block, true) == whole);
        }
      }
    }
  }
}

TEST_CASE("an invalid byte is reported at the same source offset for every block size") {
  const std::string text = std::string(5000, 'a') + " b\xe4\xb8\xad" + "\xe4\xb8" + "c";
  const int64_t want = 5000 + 5;
  for (size_t block : {1, 2, 3, 4, 100, 4096, 10000}) {
    bool thrown = false;
    try {
      chunk(CutRule::kGpt2, text, 64, block, false);
    } catch (const llmprep::Utf8Error& e) {
      thrown = true;
      CHECK(e.offset() == want);
    }
    CHECK(thrown);
  }
}
