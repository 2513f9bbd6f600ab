// Helpers shared by the native tests: a seeded random generator and exact-size heap copies, so
// that AddressSanitizer sees any read past the end of a key or text.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>

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

}  // namespace llmprep_test
