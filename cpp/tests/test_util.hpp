// Helpers shared by the native tests: a seeded random generator and exact-size heap copies, so
// that AddressSanitizer sees any read past the end of a key or text.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace llmprep_test {

// A buffer holding exactly the given bytes (no terminator, no slack): reading one byte past
// its end is a heap-buffer-overflow under ASan.
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes) : size_(bytes.size()), data_(new char[bytes.size() ? bytes.size() : 1]) {
    if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
  std::string_view view() const { return std::string_view(data_.get(), size_); }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

inline std::string random_bytes(std::mt19937_64& rng, size_t n, std::string_view alphabet = {}) {
  std::string s(n, '\0');
  for (auto& c : s) {
    if (alphabet.empty()) {
      c = static_cast<char>(rng() & 0xFF);
    } else {
      c = alphabet[rng() % alphabet.size()];
    }
  }
  return s;
}

using RankList = std::vector<std::pair<std::string, uint32_t>>;

// 256 single bytes, then `n_merges` tokens, each the concatenation of two earlier tokens drawn
// mostly from those spelled in `alphabet` (so long runs of those letters merge deeply).
inline RankList synthetic_vocab(uint64_t seed, std::string_view alphabet, size_t n_merges) {
  std::mt19937_64 rng(seed);
  RankList vocab;
  std::unordered_map<std::string, uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    vocab.emplace_back(std::string(1, char(b)), uint32_t(b));
    seen.emplace(vocab.back().first, uint32_t(b));
  }
  std::vector<std::string> pool;
  for (char c : alphabet) pool.emplace_back(1, c);
  while (vocab.size() < 256 + n_merges) {
    const std::string& a = pool[rng() % pool.size()];
    const std::string& b = pool[rng() % pool.size()];
    std::string t = a + b;
    if (t.size() > 24 || seen.count(t)) continue;
    const uint32_t rank = uint32_t(vocab.size());
    seen.emplace(t, rank);
    vocab.emplace_back(t, rank);
    pool.push_back(std::move(t));
  }
  return vocab;
}

}  // namespace llmprep_test
