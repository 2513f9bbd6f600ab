// BytesMap: the one hash table from byte strings to 32-bit values (BPE ranks and piece caches,
// the word-level vocabulary, sets of words). Open addressing; short keys live inside the slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmprep {

namespace bytes_map_detail {

inline uint64_t load64(const unsigned char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint32_t load32(const unsigned char* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

// The first 16 bytes of a key as two little-endian words, zero-padded, using overlapping loads
// that never read outside [p, p + len).
inline void key_words(const unsigned char* p, size_t len, uint64_t& w0, uint64_t& w1) noexcept {
  if (len >= 16) {
    w0 = load64(p);
    w1 = load64(p + 8);
  } else if (len > 8) {
    w0 = load64(p);
    w1 = load64(p + len - 8) >> (8 * (16 - len));
  } else if (len == 8) {
    w0 = load64(p);
    w1 = 0;
  } else if (len >= 4) {
    w0 = uint64_t(load32(p)) | (uint64_t(load32(p + len - 4)) << (8 * (len - 4)));
    w1 = 0;
  } else if (len > 0) {
    w0 = uint64_t(p[0]) | (uint64_t(p[len / 2]) << (8 * (len / 2))) | (uint64_t(p[len - 1]) << (8 * (len - 1)));
    w1 = 0;
  } else {
    w0 = w1 = 0;
  }
}

// The masks that keep a key's first min(len, 16) bytes in its two words (key_words_padded).
struct KeyMasks {
  uint64_t m0, m1;
};
constexpr KeyMasks key_masks(size_t n) noexcept {
  const size_t first = n < 8 ? n : 8;
  const size_t second = n < 8 ? 0 : n - 8;
  return {first == 8 ? ~0ull : (1ull << (8 * first)) - 1, second == 8 ? ~0ull : (1ull << (8 * second)) - 1};
}
inline constexpr KeyMasks kKeyMasks[17] = {key_masks(0),  key_masks(1),  key_masks(2),  key_masks(3),  key_masks(4),
                                           key_masks(5),  key_masks(6),  key_masks(7),  key_masks(8),  key_masks(9),
                                           key_masks(10), key_masks(11), key_masks(12), key_masks(13), key_masks(14),
                                           key_masks(15), key_masks(16)};

// key_words without a branch on the length, for a key with at least 16 readable bytes from p (a piece
// inside a larger text): two loads and two masks from one table row (a select picks the row; the
// length varies from piece to piece, and a branch on it was mispredicted often). Same words as
// key_words.
inline void key_words_padded(const unsigned char* p, size_t len, uint64_t& w0, uint64_t& w1) noexcept {
  const KeyMasks& m = kKeyMasks[len < 16 ? len : 16];
  w0 = load64(p) & m.m0;
  w1 = load64(p + 8) & m.m1;
}

// One multiply for keys up to 8 bytes (nearly every piece): the product's high half depends on
// every input bit, and folding it down gives the table index (low bits) that mixing too.
inline uint64_t hash_key(const unsigned char* p, size_t len, uint64_t w0, uint64_t w1) noexcept {
  // w1 is 0 for keys up to 8 bytes, so its term needs no branch on the length.
  uint64_t x = w0 ^ (uint64_t(len) << 57) ^ (w1 * 0xC2B2AE3D27D4EB4Full);
  for (size_t i = 16; i < len; ++i) x = (x ^ p[i]) * 0x100000001B3ull;  // rare: keys > 16 bytes
  uint64_t h = x * 0x9E3779B97F4A7C15ull;
  h ^= h >> 32;
  return h;
}

}  // namespace bytes_map_detail

// Maps byte strings to 32-bit values with open addressing. Keys up to 16 bytes live in the slot
// itself (two 64-bit words), so the common lookup is one hash and two integer compares; longer
// keys keep their tail in an arena. Insert-only; the owner clears it when it grows too large.
class BytesMap {
 public:
  static constexpr uint32_t kMissing = 0xFFFFFFFFu;

  // A key's words and hash, computed once and usable with any BytesMap (the hash does not depend
  // on the table): a piece missing from the rank table is looked up in the cache with the same probe.
  struct Probe {
    uint64_t w0;
    uint64_t w1;
    uint64_t hash;
  };
  // Inline: it runs once per piece of text (out of line it was ~2.5% of a warm encode).
  static Probe probe(std::string_view key) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    Probe probe;
    bytes_map_detail::key_words(p, key.size(), probe.w0, probe.w1);
    probe.hash = bytes_map_detail::hash_key(p, key.size(), probe.w0, probe.w1);
    return probe;
  }
  // probe() for a key with at least 16 readable bytes from p (a piece inside a larger text): the
  // same probe without a branch on the key's length.
  static Probe probe_padded(const unsigned char* p, size_t len) noexcept {
    Probe probe;
    bytes_map_detail::key_words_padded(p, len, probe.w0, probe.w1);
    probe.hash = bytes_map_detail::hash_key(p, len, probe.w0, probe.w1);
    return probe;
  }

  explicit BytesMap(size_t expected_entries = 0);
  // Returns false (and changes nothing) when the key is already present.
  bool insert(std::string_view key, uint32_t value);
  uint32_t find(std::string_view key) const noexcept { return find(key, probe(key)); }
  uint32_t find(std::string_view key, const Probe& probe) const noexcept;
  // find() for a key inside a larger buffer with at least 8 readable bytes from key.data() (a
  // word or piece that is not at the very end of its text): a short key is read with one load
  // and a mask instead of find()'s length-dependent loads. The word-level tokenizer's hot path.
  uint32_t find_with_slack(std::string_view key) const noexcept {
    const size_t len = key.size();
    if (len - 1 < kShortMax) {  // 1..7 bytes
      const auto* p = reinterpret_cast<const unsigned char*>(key.data());
      const uint64_t w0 = bytes_map_detail::load64(p) & ((uint64_t(1) << (8 * len)) - 1);
      const uint64_t want = w0 | (uint64_t(len) << 56);
      for (size_t i = bytes_map_detail::hash_key(p, len, w0, 0) & short_mask_;; i = (i + 1) & short_mask_) {
        const ShortSlot& s = short_[i];
        if (s.key == want) return s.value;
        if (s.key == 0) return kMissing;
      }
    }
    return find(key);
  }
  // Starts loading the slot that find(key, probe) of a key of `len` bytes reads first (a hint;
  // harmless on an empty table), so that a batch of lookups can overlap their cache misses.
  void prefetch(const Probe& probe, size_t len) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    if (len <= kShortMax) {
      __builtin_prefetch(short_.data() + (probe.hash & short_mask_));
    } else {
      __builtin_prefetch(slots_.data() + (probe.hash & mask_));
    }
#else
    (void)probe;
    (void)len;
#endif
  }
  size_t size() const noexcept { return size_ + short_size_; }
  void clear();

 private:
  // Keys of 1..7 bytes (~70% of GPT-2's tokens, ~90% of multi-byte pieces of English text) live in
  // a table of 16-byte slots keyed by one word, the bytes with the length in the top byte: half
  // the memory of the general table, so more of it stays in L2.
  static constexpr size_t kShortMax = 7;
  struct ShortSlot {
    uint64_t key;  // 0 marks an empty slot (a real key has a non-zero length byte)
    uint32_t value;
    uint32_t unused;
  };
  static uint64_t short_key(const Probe& probe, size_t len) noexcept { return probe.w0 | (uint64_t(len) << 56); }
  void grow_short();
  size_t short_mask_ = 0;
  size_t short_size_ = 0;
  std::vector<ShortSlot> short_;

  struct Slot {
    uint64_t w0;
    uint64_t w1;
    uint32_t len;  // 0 marks an empty slot; the empty key is never stored
    uint32_t value;
    uint32_t tail;  // arena offset of bytes 16.. when len > 16
    uint32_t hash;  // upper hash bits, to skip most mismatching slots cheaply
  };
  void grow();
  size_t mask_ = 0;
  size_t size_ = 0;
  std::vector<Slot> slots_;
  std::string arena_;
};

}  // namespace llmprep
