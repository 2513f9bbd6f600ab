// Window gathers against a plain double loop, for every token/output type pair, and their checks:
// a bad window index throws before anything is written, a negative or too-large id throws.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "llmprep/windows.hpp"

using llmprep::WindowSpec;

TEST_CASE("window_count is len(range(0, n - max_length, stride))") {
  for (int64_t n = 0; n < 40; ++n) {
    for (int64_t L = 1; L < 8; ++L) {
      for (int64_t s = 1; s < 6; ++s) {
        int64_t want = 0;
        for (int64_t i = 0; i < n - L; i += s) ++want;
        CHECK(llmprep::window_count(n, L, s) == want);
      }
    }
  }
  CHECK_THROWS_AS(llmprep::window_count(10, 0, 1), std::invalid_argument);
  CHECK_THROWS_AS(llmprep::window_count(10, 2, 0), std::invalid_argument);
  CHECK_THROWS_AS(llmprep::window_count(-1, 2, 1), std::invalid_argument);
}

TEST_CASE_TEMPLATE("gathers equal the reference loop", Token, uint16_t, uint32_t, int32_t, int64_t) {
  std::mt19937_64 rng(5);
  const int64_t n = 3001;
  std::vector<Token> tokens(n);
  for (auto& t : tokens) t = Token(rng() % 50000);
  for (const WindowSpec spec : {WindowSpec{n, 4, 4}, WindowSpec{n, 256, 128}, WindowSpec{n, 7, 3}}) {
    const int64_t count = llmprep::window_count(spec.n_tokens, spec.max_length, spec.stride);
    std::vector<int64_t> picks;
    for (int i = 0; i < 50; ++i) picks.push_back(int64_t(rng() % uint64_t(count)));
    picks.push_back(0);
    picks.push_back(count - 1);  // the last window reads the last token as a target
    const int64_t k = int64_t(picks.size());
    for (int threads : {1, 2}) {
      std::vector<int64_t> in64(size_t(k * spec.max_length)), tg64(in64.size());
      std::vector<int32_t> in32(in64.size()), tg32(in64.size());
      llmprep::gather_windows(tokens.data(), spec, picks.data(), k, in64.data(), tg64.data(), threads);
      llmprep::gather_windows(tokens.data(), spec, picks.data(), k, in32.data(), tg32.data(), threads);
      for (int64_t r = 0; r < k; ++r) {
        for (int64_t j = 0; j < spec.max_length; ++j) {
          const int64_t src = picks[size_t(r)] * spec.stride + j;
          const size_t at = size_t(r * spec.max_length + j);
          CHECK(in64[at] == int64_t(tokens[size_t(src)]));
          CHECK(tg64[at] == int64_t(tokens[size_t(src + 1)]));
          CHECK(in32[at] == int64_t(tokens[size_t(src)]));
          CHECK(tg32[at] == int64_t(tokens[size_t(src + 1)]));
        }
      }
      // The range form equals gathering the same consecutive windows by index.
      std::vector<int64_t> every(static_cast<size_t>(count));
      for (int64_t w = 0; w < count; ++w) every[size_t(w)] = w;
      std::vector<int64_t> a(size_t(count * spec.max_length)), at(a.size()), b(a.size()), bt(a.size());
      llmprep::gather_windows(tokens.data(), spec, every.data(), count, a.data(), at.data(), threads);
      llmprep::gather_window_range(tokens.data(), spec, 0, count, b.data(), bt.data(), threads);
      CHECK(a == b);
      CHECK(at == bt);
    }
  }
}

TEST_CASE("a bad window index throws before anything is written") {
  std::vector<uint16_t> tokens(100, 1);
  const WindowSpec spec{100, 10, 5};
  const int64_t count = llmprep::window_count(100, 10, 5);
  for (int64_t bad : {int64_t(-1), count, std::numeric_limits<int64_t>::max()}) {
    const std::vector<int64_t> picks = {0, 1, bad};
    std::vector<int64_t> in(30, -7), tg(30, -7);
    CHECK_THROWS_AS(llmprep::gather_windows(tokens.data(), spec, picks.data(), 3, in.data(), tg.data(), 1),
                    std::out_of_range);
    for (int64_t v : in) CHECK(v == -7);
    for (int64_t v : tg) CHECK(v == -7);
  }
  std::vector<int64_t> in(10), tg(10);
  CHECK_THROWS_AS(llmprep::gather_window_range(tokens.data(), spec, count, 1, in.data(), tg.data(), 1),
                  std::out_of_range);
}

TEST_CASE("negative ids and ids too large for int32 output are refused") {
  std::vector<int64_t> tokens(50, 3);
  const WindowSpec spec{50, 8, 8};
  const int64_t pick = 2;
  std::vector<int64_t> in64(8), tg64(8);
  std::vector<int32_t> in32(8), tg32(8);
  tokens[20] = -1;  // inside window 2 (tokens 16..24)
  CHECK_THROWS_AS(llmprep::gather_windows(tokens.data(), spec, &pick, 1, in64.data(), tg64.data(), 1),
                  std::invalid_argument);
  tokens[20] = int64_t(std::numeric_limits<int32_t>::max()) + 1;
  CHECK_THROWS_AS(llmprep::gather_windows(tokens.data(), spec, &pick, 1, in32.data(), tg32.data(), 1),
                  std::invalid_argument);
  llmprep::gather_windows(tokens.data(), spec, &pick, 1, in64.data(), tg64.data(), 1);  // fits int64
  CHECK(in64[4] == int64_t(std::numeric_limits<int32_t>::max()) + 1);
}
