// Window gathers against a plain double loop, for every token/output type pair, and their checks:
// a bad window index throws before anything is written, a negative or too-large id throws.
// Sequences in parts (shard sets) against the same gathers over their concatenation, and
// TokenParts against files written here.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "llmprep/errors.hpp"
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

namespace {

// Random part sizes, with empty parts, 1-token parts and parts shorter than a window among them.
std::vector<int64_t> random_part_ends(std::mt19937_64& rng, int64_t n_parts) {
  std::vector<int64_t> ends;
  int64_t at = 0;
  for (int64_t p = 0; p < n_parts; ++p) {
    const uint64_t kind = rng() % 4;
    at += kind == 0 ? 0 : kind == 1 ? 1 : int64_t(rng() % 300);
    ends.push_back(at);
  }
  return ends;
}

}  // namespace

TEST_CASE_TEMPLATE("gathers over parts equal gathers over the concatenation", Token, uint16_t, uint32_t, int32_t,
                   int64_t) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    const std::vector<int64_t> ends = random_part_ends(rng, 1 + int64_t(rng() % 40));
    const int64_t n = ends.back();
    std::vector<Token> whole(static_cast<size_t>(n));
    for (auto& t : whole) t = Token(rng() % 50000);
    std::vector<std::vector<Token>> storage;  // each part its own allocation (ASan sees overreads)
    std::vector<const Token*> parts;
    for (size_t p = 0; p < ends.size(); ++p) {
      const int64_t begin = p > 0 ? ends[p - 1] : 0;
      storage.emplace_back(whole.begin() + begin, whole.begin() + ends[p]);
    }
    for (auto& part : storage) parts.push_back(part.empty() ? nullptr : part.data());  // empty parts stay null
    for (const WindowSpec spec : {WindowSpec{n, 1, 1}, WindowSpec{n, 7, 3}, WindowSpec{n, 64, 50}}) {
      const int64_t count = llmprep::window_count(n, spec.max_length, spec.stride);
      if (count == 0) continue;
      std::vector<int64_t> picks;
      for (int i = 0; i < 40; ++i) picks.push_back(int64_t(rng() % uint64_t(count)));
      picks.push_back(count - 1);
      const int64_t k = int64_t(picks.size());
      std::vector<int64_t> want_in(size_t(k * spec.max_length)), want_tg(want_in.size());
      llmprep::gather_windows(whole.data(), spec, picks.data(), k, want_in.data(), want_tg.data(), 1);
      std::vector<int64_t> in(want_in.size()), tg(want_in.size());
      llmprep::gather_windows_parts(parts.data(), ends.data(), int64_t(ends.size()), spec, picks.data(), k, in.data(),
                                    tg.data(), 1);
      CHECK(in == want_in);
      CHECK(tg == want_tg);
      // The same through a PartIndex, and into int32 rows (the spanning windows' direct copy).
      const llmprep::PartIndex index(ends.data(), int64_t(ends.size()));
      std::fill(in.begin(), in.end(), -1);
      llmprep::gather_windows_parts(parts.data(), ends.data(), int64_t(ends.size()), spec, picks.data(), k, in.data(),
                                    tg.data(), 1, &index);
      CHECK(in == want_in);
      CHECK(tg == want_tg);
      std::vector<int32_t> in32(want_in.size()), tg32(want_in.size());
      llmprep::gather_windows_parts(parts.data(), ends.data(), int64_t(ends.size()), spec, picks.data(), k, in32.data(),
                                    tg32.data(), 1, &index);
      CHECK(std::equal(in32.begin(), in32.end(), want_in.begin()));
      CHECK(std::equal(tg32.begin(), tg32.end(), want_tg.begin()));
    }
    const int64_t a = int64_t(rng() % uint64_t(n + 1));
    const int64_t b = a + int64_t(rng() % uint64_t(n - a + 1));
    std::vector<Token> range(static_cast<size_t>(b - a));
    llmprep::copy_parts_range(parts.data(), ends.data(), int64_t(ends.size()), a, b, range.data());
    CHECK(range == std::vector<Token>(whole.begin() + a, whole.begin() + b));
    CHECK_THROWS_AS(llmprep::copy_parts_range(parts.data(), ends.data(), int64_t(ends.size()), 0, n + 1, range.data()),
                    std::out_of_range);
  }
}

TEST_CASE("PartIndex finds the part of every position as a binary search does") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 300; ++round) {
    // Parts of very different sizes (empty ones, one-token ones, long ones) so that buckets hold
    // many part ends, none, or fall inside one part.
    std::vector<int64_t> ends;
    int64_t end = 0;
    const int64_t n_parts = 1 + int64_t(rng() % 60);
    for (int64_t p = 0; p < n_parts; ++p) {
      const uint64_t kind = rng() % 4;
      end += kind == 0 ? 0 : kind == 1 ? 1 : kind == 2 ? int64_t(rng() % 10) : int64_t(rng() % 5000);
      ends.push_back(end);
    }
    if (ends.back() == 0) ends.back() = 1;
    const llmprep::PartIndex index(ends.data(), int64_t(ends.size()));
    for (int64_t pos = 0; pos < ends.back(); pos += 1 + int64_t(rng() % 7)) {
      const int64_t want = std::upper_bound(ends.begin(), ends.end(), pos) - ends.begin();
      REQUIRE(index.part_of(pos) == want);
    }
    REQUIRE(index.part_of(ends.back() - 1) ==
            std::upper_bound(ends.begin(), ends.end(), ends.back() - 1) - ends.begin());
  }
}

TEST_CASE("a part that is needed but missing throws before anything is written") {
  const std::vector<uint16_t> first = {1, 2, 3, 4}, third = {9, 9};
  const std::vector<const uint16_t*> parts = {first.data(), nullptr, third.data()};
  const std::vector<int64_t> ends = {4, 6, 8};
  const WindowSpec spec{8, 2, 2};
  const std::vector<int64_t> picks = {0, 2};  // window 2 (tokens 4..6) needs the missing part 1
  std::vector<int64_t> in(4, -7), tg(4, -7);
  CHECK_THROWS_AS(
      llmprep::gather_windows_parts(parts.data(), ends.data(), 3, spec, picks.data(), 2, in.data(), tg.data(), 1),
      std::invalid_argument);
  for (int64_t v : in) CHECK(v == -7);
  const int64_t ok = 0;
  llmprep::gather_windows_parts(parts.data(), ends.data(), 3, spec, &ok, 1, in.data(), tg.data(), 1);
  CHECK(in[0] == 1);
  CHECK(tg[1] == 3);
}

TEST_CASE("TokenParts maps its files on first need, at their byte offsets") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("llmprep_test_parts_" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  std::mt19937_64 rng(3);
  const std::vector<int64_t> ends = random_part_ends(rng, 60);
  const int64_t n = ends.back();
  std::vector<uint32_t> whole(static_cast<size_t>(n));
  for (auto& t : whole) t = uint32_t(rng() % 200000);
  std::vector<llmprep::PartFile> files;
  for (size_t p = 0; p < ends.size(); ++p) {
    const int64_t begin = p > 0 ? ends[p - 1] : 0;
    const int64_t offset = int64_t(p % 3) * 4100;  // 0, or not page-aligned
    const fs::path path = dir / ("part" + std::to_string(p));
    std::ofstream out(path, std::ios::binary);
    out << std::string(size_t(offset), 'h');
    out.write(reinterpret_cast<const char*>(whole.data() + begin), std::streamsize((ends[p] - begin) * 4));
    files.push_back({path.string(), offset});
  }
  files.back().path = (dir / "missing").string();
  llmprep::TokenParts table(files, ends, 4);
  CHECK(table.n_mapped() == 0);
  const WindowSpec spec{n, 16, 5};
  const int64_t count = llmprep::window_count(n, 16, 5);
  std::vector<int64_t> picks;  // windows that stay clear of the last part (its file is missing)
  for (int64_t w = 0; w < count; ++w) {
    if (w * 5 + 17 <= ends[ends.size() - 2]) picks.push_back(w);
  }
  const int64_t k = int64_t(picks.size());
  std::vector<int64_t> want_in(size_t(k * 16)), want_tg(want_in.size()), in(want_in.size()), tg(want_in.size());
  llmprep::gather_windows(whole.data(), spec, picks.data(), k, want_in.data(), want_tg.data(), 1);
  std::vector<std::thread> threads;  // several threads map and gather at once
  std::vector<std::vector<int64_t>> results(4, std::vector<int64_t>(in.size()));
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      const auto* parts = reinterpret_cast<const uint32_t* const*>(table.map_windows(spec, picks.data(), k));
      std::vector<int64_t> targets(in.size());
      llmprep::gather_windows_parts(parts, table.part_ends(), table.n_parts(), spec, picks.data(), k, results[t].data(),
                                    targets.data(), 1);
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) CHECK(result == want_in);
  int64_t nonempty_but_last = 0;
  for (size_t p = 0; p + 1 < ends.size(); ++p) nonempty_but_last += ends[p] > (p > 0 ? ends[p - 1] : 0);
  CHECK(table.n_mapped() <= nonempty_but_last);
  if (ends.back() > ends[ends.size() - 2]) {
    const int64_t last = count - 1;
    CHECK_THROWS_AS(table.map_windows(spec, &last, 1), llmprep::IoError);
  }
  fs::remove_all(dir);
}
