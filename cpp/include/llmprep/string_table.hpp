// An immutable-after-build hash table from byte strings to 64-bit ids: the word -> id lookup on
// the tokenizers' hot path. Each slot holds everything a short key needs (hash tag, length, the
// key's bytes packed in 8 bytes, value), so a hit on a word of up to 8 bytes is one memory access.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmprep {

namespace hashing {

inline uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline uint64_t load32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 64x64 -> 128-bit multiply, folded: the mixing step of wyhash-style hashes.
inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
  __extension__ typedef unsigned __int128 u128;
  const u128 r = static_cast<u128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
#else
  const uint64_t x = (a ^ (a >> 29)) * 0xBF58476D1CE4E5B9ULL + b;
  return (x ^ (x >> 32)) * 0x94D049BB133111EBULL;
#endif
}

// The bytes of a key of length 0..8 as one zero-padded 64-bit word (in memory order).
inline uint64_t pack_short(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}

// The same packing without a variable-length copy, for a key that is followed by at least
// 8 - n readable bytes (a word inside a larger text): one load and a mask, no branches.
inline uint64_t pack_short_with_slack(const unsigned char* p, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  return n == 0 ? 0 : load64(p) & (~0ULL << (8 * (8 - (n >= 8 ? 8 : n))));
#else
  return load64(p) & (n >= 8 ? ~0ULL : ((1ULL << (8 * n)) - 1));
#endif
}

}  // namespace hashing

// A fast non-cryptographic hash for short byte strings (words, BPE pieces), in the style of
// wyhash: overlapping loads and folded 128-bit multiplies. Keys come from a vocabulary and text;
// it is not meant to resist deliberate hash flooding.
namespace hashing {
constexpr uint64_t kSecret0 = 0xA0761D6478BD642FULL;
constexpr uint64_t kSecret1 = 0xE7037ED1A0B428DBULL;

// The hash of a key of <= 8 bytes depends only on its packing and length, so a table can rehash
// short keys it stores packed without keeping their bytes.
inline uint64_t short_hash(uint64_t packed, size_t size) {
  return fold_multiply(packed ^ kSecret1 ^ size, kSecret0);
}
}  // namespace hashing

inline uint64_t hash_bytes(const char* data, size_t size) {
  using namespace hashing;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  if (size <= 8) return short_hash(pack_short(p, size), size);
  const unsigned char* end = p + size;
  uint64_t seed = kSecret0 ^ size;
  if (size > 16) {
    for (size_t left = size; left > 16; left -= 16, p += 16) seed = fold_multiply(load64(p) ^ kSecret1, load64(p + 8) ^ seed);
  }
  // The last 9..16 bytes as two overlapping words ending at the key's end (for keys longer than
  // 16 they overlap bytes already mixed, which is harmless).
  return fold_multiply(load64(end - 16 + (size <= 16 ? 16 - size : 0)) ^ kSecret1, load64(end - 8) ^ seed);
}

class StringIdTable {
 public:
  static constexpr int64_t kMissing = INT64_MIN;

  // Adds or overwrites a key (the last value for a repeated key wins, as in a Python dict).
  void insert(std::string_view key, int64_t value);

  // The value for `key`, or kMissing.
  int64_t find(std::string_view key) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    return key.size() <= 8 ? find_short(key.size(), hashing::pack_short(p, key.size())) : find_long(key);
  }

  // find() for a key with at least 8 readable bytes at key.data() (e.g. a word that is not at
  // the very end of its text): the hot path of the tokenizers.
  int64_t find_with_slack(std::string_view key) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    return key.size() <= 8 ? find_short(key.size(), hashing::pack_short_with_slack(p, key.size()))
                           : find_long(key);
  }

  size_t size() const noexcept { return count_; }

 private:
  struct Slot {
    uint32_t tag = 0;
    uint32_t size = 0;
    uint64_t packed = 0;  // the key itself when size <= 8
    uint64_t offset = 0;  // where a longer key lives in arena_
    int64_t value = 0;
  };
  int64_t find_short(size_t n, uint64_t packed) const noexcept {
    if (slots_.empty()) return kMissing;
    const uint64_t h = hashing::short_hash(packed, n);
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.tag == 0) return kMissing;
      if (slot.packed == packed && slot.size == n) return slot.value;
    }
  }

  int64_t find_long(std::string_view key) const noexcept {
    if (slots_.empty()) return kMissing;
    const size_t n = key.size();
    const uint64_t h = hash_bytes(key.data(), n);
    const uint32_t tag = static_cast<uint32_t>(h >> 32) | 1u;
    for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.tag == 0) return kMissing;
      if (slot.tag == tag && slot.size == n && std::memcmp(arena_.data() + slot.offset, key.data(), n) == 0)
        return slot.value;
    }
  }

  void grow();
  bool place(const Slot& slot, std::string_view key, bool overwrite);

  std::string arena_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace llmprep
