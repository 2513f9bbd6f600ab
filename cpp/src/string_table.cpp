// Building the word -> id hash table (lookups are inline in the header).
//
// Performance notes: linear probing at load <= 1/2 with a 32-bit hash tag per slot, so a probe
// touches one 8-byte slot and compares key bytes only on a tag match. std::unordered_map with
// std::hash<string_view> was ~2x slower per lookup on the chapter's vocabulary (node chasing).
#include "llmprep/string_table.hpp"

#include <limits>
#include <stdexcept>

namespace llmprep {

void StringIdTable::insert(std::string_view key, int64_t value) {
  if (entries_.size() >= std::numeric_limits<uint32_t>::max() - 1)
    throw std::length_error("vocabulary too large: at most 2^32 - 2 entries");
  if ((entries_.size() + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_bytes(key.data(), key.size());
  const uint32_t tag = static_cast<uint32_t>(h >> 32) | 1u;
  for (size_t i = static_cast<size_t>(h) & mask_;; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.tag == 0) {
      slot.tag = tag;
      slot.entry = static_cast<uint32_t>(entries_.size());
      entries_.push_back({arena_.size(), key.size(), value});
      arena_.append(key.data(), key.size());
      return;
    }
    if (slot.tag == tag) {
      Entry& entry = entries_[slot.entry];
      if (entry.size == key.size() && std::memcmp(arena_.data() + entry.offset, key.data(), key.size()) == 0) {
        entry.value = value;
        return;
      }
    }
  }
}

void StringIdTable::grow() {
  const size_t capacity = slots_.empty() ? 64 : slots_.size() * 2;
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (uint32_t e = 0; e < entries_.size(); ++e) {
    const Entry& entry = entries_[e];
    const uint64_t h = hash_bytes(arena_.data() + entry.offset, entry.size);
    size_t i = static_cast<size_t>(h) & mask_;
    while (slots_[i].tag != 0) i = (i + 1) & mask_;
    slots_[i] = {static_cast<uint32_t>(h >> 32) | 1u, e};
  }
}

}  // namespace llmprep
