// Parallel encoding calls against the same texts encoded on one thread: the caller's frozen cache,
// the per-thread learned caches and the kept tables reused by later calls (bpe.cpp's LearnedPool).
// Run under ThreadSanitizer too (scripts/native_tests.sh tsan), the one place the native tests
// drive these caches from several threads.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "llmprep/bpe.hpp"
#include "test_util.hpp"

namespace {

// Space-separated words, `n_words` of them drawn from `words`.
std::string words_text(std::mt19937_64& rng, const std::vector<std::string>& words, size_t n_words) {
  std::string text;
  for (size_t i = 0; i < n_words; ++i) text += " " + words[rng() % words.size()];
  return text;
}

}  // namespace

TEST_CASE("parallel calls of encoders that give the same pieces other ids, taking turns, equal one thread") {
  // Two vocabularies over the same letters: the same piece has other ids in each, so a table kept
  // from one encoder's call and not emptied before the other's would give wrong ids. Each call has
  // more bytes per thread than a table of the initial size holds (so it may take a kept one), and
  // so few distinct words that no table grows past that size (a grown one would not be taken).
  const llmprep::BpeEncoder a(llmprep_test::synthetic_vocab(21, "abcdef", 1500), {});
  const llmprep::BpeEncoder b(llmprep_test::synthetic_vocab(22, "abcdef", 1500), {});
  std::mt19937_64 rng(5);
  std::vector<std::string> words;
  for (int i = 0; i < 1000; ++i) words.push_back(llmprep_test::random_bytes(rng, 2 + rng() % 12, "abcdef"));
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back(words_text(rng, words, 1200));
  const std::vector<std::string_view> views(texts.begin(), texts.end());
  const auto want_a = a.encode_batch(views, {}, 1);
  const auto want_b = b.encode_batch(views, {}, 1);
  CHECK(want_a != want_b);
  for (int round = 0; round < 4; ++round) {
    CHECK(a.encode_batch(views, {}, 2, 4096) == want_a);
    CHECK(b.encode_batch(views, {}, 2, 4096) == want_b);
  }
  // One large text cut into tasks, too, and more threads than cores.
  std::string joined;
  for (const std::string& t : texts) joined += t;
  const auto whole_a = a.encode(joined, {}, 1);
  CHECK(a.encode(joined, {}, 3, 16384) == whole_a);
  CHECK(b.encode(joined, {}, 3, 16384) == b.encode(joined, {}, 1));
  CHECK(a.encode(joined, {}, 3, 16384) == whole_a);
}
