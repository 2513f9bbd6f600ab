// An immutable-after-build hash table from byte strings to 64-bit ids: the word -> id lookup on
// the tokenizers' hot path. Keys live in one arena; slots hold a hash tag and an entry index.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmprep {

// A fast non-cryptographic hash for short byte strings (words, BPE pieces): 8 bytes per step,
// multiply-xorshift mixing. Not for untrusted-input hash flooding; keys come from a vocabulary.
inline uint64_t hash_bytes(const char* data, size_t size) {
  auto mix = [](uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32;
    return x;
  };
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (static_cast<uint64_t>(size) * 0xFF51AFD7ED558CCDULL);
  while (size >= 8) {
    uint64_t word;
    std::memcpy(&word, data, 8);
    h = mix(h ^ word) + 0x632BE59BD9B4E019ULL;
    data += 8;
    size -= 8;
  }
  if (size > 0) {
    uint64_t word = 0;
    std::memcpy(&word, data, size);
    h = mix(h ^ word ^ (static_cast<uint64_t>(size) << 59));
  }
  return mix(h);
}

class StringIdTable {
 public:
  static constexpr int64_t kMissing = INT64_MIN;

  // Adds or overwrites a key (the last value for a repeated key wins, as in a Python dict).
  void insert(std::string_view key, int64_t value);

  // The value for `key`, or kMissing.
  int64_t find(std::string_view key) const noexcept {
    if (slots_.empty()) return kMissing;
    const uint64_t h = hash_bytes(key.data(), key.size());
    const uint32_t tag = static_cast<uint32_t>(h >> 32) | 1u;  // 0 marks an empty slot
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.tag == 0) return kMissing;
      if (slot.tag == tag) {
        const Entry& entry = entries_[slot.entry];
        if (entry.size == key.size() && std::memcmp(arena_.data() + entry.offset, key.data(), key.size()) == 0)
          return entry.value;
      }
    }
  }

  size_t size() const noexcept { return entries_.size(); }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t entry = 0;
  };
  struct Entry {
    uint64_t offset;
    uint64_t size;
    int64_t value;
  };
  void grow();

  std::string arena_;
  std::vector<Entry> entries_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace llmprep
