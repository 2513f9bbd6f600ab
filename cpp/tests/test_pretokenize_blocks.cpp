// The batch scanners (next_piece_ends: 64-byte blocks classified into bit masks where the text allows)
// against the one-piece scanners (piece_ends), for every pattern, on texts in exact-size buffers at
// every length around the block size and every start offset: under ASan a block read past the text
// is a heap-buffer-overflow, and any difference in the pieces fails here.
#include <doctest/doctest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "llmprep/pretokenize_cl100k.hpp"
#include "llmprep/pretokenize_gpt2.hpp"
#include "llmprep/pretokenize_o200k.hpp"
#include "test_util.hpp"

namespace {

std::string rule_text(std::mt19937_64& rng, size_t n_parts) {
  static const char* const parts[] = {"a",  "Zb", "s",   " ",        "  ",       "\n",           "\n\n", "\t",
                                      "'",  "'s", "'ll", "'ve",      "'re",      "'t",           ".",    ",-!",
                                      "09", "x",  "\r",  "\xc3\xa9", "\xc2\xa0", "\xe4\xb8\xad", "LL",   "\xc5\xbf"};
  std::uniform_int_distribution<size_t> pick(0, sizeof(parts) / sizeof(parts[0]) - 1);
  std::string s;
  for (size_t i = 0; i < n_parts; ++i) s += parts[pick(rng)];
  return s;
}

template <class PieceEnds, class NextPieceEnds>
void check_pattern(const char* name, PieceEnds piece_ends, NextPieceEnds next_piece_ends) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 40; ++round) {
    const std::string whole = rule_text(rng, 120);
    for (size_t offset = 0; offset < 64 && offset < whole.size(); offset += 5) {
      for (size_t len = 0; offset + len <= whole.size() && len < 200; len += 7) {
        // Cut at byte offsets: a cut may split a multi-byte character, so keep valid UTF-8 only.
        std::string_view part(whole.data() + offset, len);
        if (!part.empty() && ((static_cast<unsigned char>(part.front()) & 0xC0) == 0x80)) continue;
        if (offset + len < whole.size() && (static_cast<unsigned char>(whole[offset + len]) & 0xC0) == 0x80) continue;
        const llmprep_test::ExactBuffer text(part);
        std::vector<size_t> want;
        piece_ends(text.view(), want);
        std::vector<size_t> got;
        size_t batch[9];  // an odd batch size: batches end inside blocks
        for (size_t pos = 0; pos < text.view().size();) {
          const size_t k = next_piece_ends(text.view(), pos, batch, 9);
          REQUIRE(k > 0);
          got.insert(got.end(), batch, batch + k);
          pos = batch[k - 1];
        }
        INFO(name << " offset " << offset << " length " << len);
        CHECK(got == want);
      }
    }
  }
}

}  // namespace

TEST_CASE("batch scanners equal the one-piece scanners at every block alignment") {
  check_pattern("gpt2", llmprep::gpt2::piece_ends, llmprep::gpt2::next_piece_ends);
  check_pattern("cl100k", llmprep::cl100k::piece_ends, llmprep::cl100k::next_piece_ends);
  check_pattern("o200k", llmprep::o200k::piece_ends, llmprep::o200k::next_piece_ends);
}

TEST_CASE("next_piece_ends at the end of the text returns no pieces, past it throws") {
  const llmprep_test::ExactBuffer text("abc def");
  size_t ends[4];
  CHECK(llmprep::gpt2::next_piece_ends(text.view(), 7, ends, 4) == 0);
  CHECK_THROWS_AS(llmprep::gpt2::next_piece_ends(text.view(), 8, ends, 4), std::out_of_range);
}
