// BytesMap construction, growth and lookup.
//
// Performance notes (measured for BPE, see bpe.cpp's notes): keys of 1..7 bytes (90% of multi-byte
// GPT-2 pieces, most English words) sit in 16-byte slots keyed by one word, longer keys in 32-byte
// slots with two inline words; the hash of a key of <= 8 bytes is one multiply. Those two choices
// gave ~7% and ~8% on BPE; the word-level tokenizer uses the same table.
#include "llmprep/bytes_map.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace llmprep {

BytesMap::BytesMap(size_t expected_entries) {
  // Sized for a GPT-2-like split (about 70% short keys); both tables grow as needed.
  size_t capacity = 16;
  while (capacity < expected_entries * 2 / 3) capacity *= 2;
  slots_.assign(capacity, Slot{0, 0, 0, 0, 0, 0});
  mask_ = capacity - 1;
  size_t short_capacity = 16;
  while (short_capacity < expected_entries * 3 / 2) short_capacity *= 2;
  short_.assign(short_capacity, ShortSlot{0, 0, 0});
  short_mask_ = short_capacity - 1;
}

void BytesMap::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{0, 0, 0, 0, 0, 0});
  std::fill(short_.begin(), short_.end(), ShortSlot{0, 0, 0});
  size_ = 0;
  short_size_ = 0;
  arena_.clear();
}

void BytesMap::grow_short() {
  std::vector<ShortSlot> old;
  old.swap(short_);
  short_.assign(old.size() * 2, ShortSlot{0, 0, 0});
  short_mask_ = short_.size() - 1;
  for (const ShortSlot& s : old) {
    if (s.key == 0) continue;
    const size_t len = size_t(s.key >> 56);
    unsigned char bytes[8];
    for (size_t k = 0; k < len; ++k) bytes[k] = static_cast<unsigned char>((s.key >> (8 * k)) & 0xFF);
    size_t i = bytes_map_detail::hash_key(bytes, len, s.key & ((uint64_t(1) << 56) - 1), 0) & short_mask_;
    while (short_[i].key != 0) i = (i + 1) & short_mask_;
    short_[i] = s;
  }
}

void BytesMap::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, Slot{0, 0, 0, 0, 0, 0});
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.len == 0) continue;
    // The stored 32-bit hash is the upper half; rehash from the key to get the slot index.
    std::string key(s.len, '\0');
    for (size_t k = 0; k < std::min<size_t>(s.len, 16); ++k) {
      key[k] = char(((k < 8 ? s.w0 : s.w1) >> (8 * (k % 8))) & 0xFF);
    }
    if (s.len > 16) std::memcpy(&key[16], arena_.data() + s.tail, s.len - 16);
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    const uint64_t h = bytes_map_detail::hash_key(p, s.len, s.w0, s.w1);
    size_t i = h & mask_;
    while (slots_[i].len != 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

bool BytesMap::insert(std::string_view key, uint32_t value) {
  if (key.empty()) throw std::invalid_argument("BytesMap: the empty byte string cannot be a key");
  if (key.size() > 0xFFFFFFFFu) throw std::invalid_argument("BytesMap: key too long");
  if (find(key) != kMissing) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  if (key.size() <= kShortMax) {
    if ((short_size_ + 1) * 3 > short_.size() * 2) grow_short();  // load <= 2/3
    const Probe pr = probe(key);
    size_t i = pr.hash & short_mask_;
    while (short_[i].key != 0) i = (i + 1) & short_mask_;
    short_[i] = ShortSlot{short_key(pr, key.size()), value, 0};
    ++short_size_;
    return true;
  }
  if ((size_ + 1) * 2 > slots_.size()) grow();
  uint64_t w0, w1;
  bytes_map_detail::key_words(p, key.size(), w0, w1);
  const uint64_t h = bytes_map_detail::hash_key(p, key.size(), w0, w1);
  uint32_t tail = 0;
  if (key.size() > 16) {
    if (arena_.size() + key.size() > 0xFFFFFFFFull) throw std::invalid_argument("BytesMap: keys too large");
    tail = uint32_t(arena_.size());
    arena_.append(key.data() + 16, key.size() - 16);
  }
  size_t i = h & mask_;
  while (slots_[i].len != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{w0, w1, uint32_t(key.size()), value, tail, uint32_t(h >> 32)};
  ++size_;
  return true;
}

uint32_t BytesMap::find(std::string_view key, const Probe& probe) const noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  const size_t len = key.size();
  if (len <= kShortMax) {
    // The empty string is never a key, and its packed form (0) is what marks an empty slot.
    if (len == 0) return kMissing;
    const uint64_t want = short_key(probe, len);
    for (size_t i = probe.hash & short_mask_;; i = (i + 1) & short_mask_) {
      const ShortSlot& s = short_[i];
      if (s.key == want) return s.value;
      if (s.key == 0) return kMissing;
    }
  }
  const uint32_t h32 = uint32_t(probe.hash >> 32);
  size_t i = probe.hash & mask_;
  for (;;) {
    const Slot& s = slots_[i];
    if (s.len == 0) return kMissing;
    if (s.hash == h32 && s.len == len && s.w0 == probe.w0 && s.w1 == probe.w1 &&
        (len <= 16 || std::memcmp(arena_.data() + s.tail, p + 16, len - 16) == 0)) {
      return s.value;
    }
    i = (i + 1) & mask_;
  }
}

}  // namespace llmprep
