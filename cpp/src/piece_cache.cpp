// PieceTable allocation, growth and eviction (lookups are inline in piece_cache.hpp).
#include "llmprep/piece_cache.hpp"

#include <atomic>
#include <new>
#include <stdexcept>
#include <utility>

#include "llmprep/huge_pages.hpp"

namespace llmprep {

namespace {

std::atomic<size_t> g_max_table_bytes{size_t(64) << 20};
std::atomic<bool> g_huge_pages{true};
std::atomic<int> g_fail_allocations{0};

}  // namespace

size_t PieceTable::max_table_bytes() noexcept { return g_max_table_bytes.load(std::memory_order_relaxed); }
void PieceTable::set_max_table_bytes(size_t bytes) noexcept {
  g_max_table_bytes.store(bytes, std::memory_order_relaxed);
}
bool PieceTable::huge_pages_enabled() noexcept { return g_huge_pages.load(std::memory_order_relaxed); }
void PieceTable::set_huge_pages_enabled(bool enabled) noexcept {
  g_huge_pages.store(enabled, std::memory_order_relaxed);
}
void PieceTable::fail_next_allocations(int count) noexcept { g_fail_allocations.store(count); }

PieceTable::~PieceTable() { free_table(); }

void PieceTable::free_table() noexcept {
  free_table_memory(entries_);
  entries_ = nullptr;
  mask_ = 0;
  shift_ = 63;
  huge_ = false;
}

void PieceTable::allocate(size_t entries) {
  int fail = g_fail_allocations.load();
  while (fail > 0 && !g_fail_allocations.compare_exchange_weak(fail, fail - 1)) {
  }
  if (fail > 0) throw std::bad_alloc();
  bool huge = false;
  void* p = allocate_table_memory(entries * kEntryBytes, huge_pages_enabled(), &huge);  // zeroed: empty slots
  if (p == nullptr) throw std::bad_alloc();
  free_table();
  entries_ = static_cast<Entry*>(p);
  mask_ = entries - 1;
  shift_ = 64;
  for (size_t n = entries; n > 1; n >>= 1) --shift_;
  huge_ = huge;
}

bool PieceTable::can_grow() const noexcept {
  return entries_ == nullptr || capacity() * 2 * kEntryBytes <= max_table_bytes();
}

void PieceTable::reset() noexcept {
  free_table();
  size_ = 0;
  spilled_ = 0;
  evictions_ = 0;
  id_arena_.clear();
  id_arena_.shrink_to_fit();
  key_arena_.clear();
  key_arena_.shrink_to_fit();
}

void PieceTable::clear() noexcept {
  if (entries_ != nullptr) std::memset(static_cast<void*>(entries_), 0, capacity() * kEntryBytes);
  size_ = 0;
  spilled_ = 0;
  evictions_ = 0;
  id_arena_.clear();
  key_arena_.clear();
}

alignas(64) const PieceTable::Entry PieceTable::kEmptyPair[2] = {};

void PieceTable::swap(PieceTable& other) noexcept {
  std::swap(entries_, other.entries_);
  std::swap(mask_, other.mask_);
  std::swap(shift_, other.shift_);
  std::swap(size_, other.size_);
  std::swap(evictions_, other.evictions_);
  std::swap(spilled_, other.spilled_);
  std::swap(huge_, other.huge_);
  id_arena_.swap(other.id_arena_);
  key_arena_.swap(other.key_arena_);
}

void PieceTable::insert_missing(const PieceTable& other) {
  if (other.entries_ == nullptr) return;
  // Batches of entries: keys rebuilt and hashed, home lines prefetched, then looked up and inserted
  // (one at a time, each miss waited for, this was most of a parallel call's serial tail on text
  // full of new pieces).
  constexpr size_t kBatch = 32;
  char keys[kBatch][kMaxPieceBytes];
  std::string_view pieces[kBatch];
  BytesMap::Probe probes[kBatch];
  const Entry* entries[kBatch];
  size_t i = 0;
  while (i <= other.mask_) {
    size_t n = 0;
    for (; i <= other.mask_ && n < kBatch; ++i) {
      const Entry& e = other.entries_[i];
      if (e.k1 == 0) continue;
      pieces[n] = std::string_view(keys[n], other.key_bytes(e, keys[n]));
      probes[n] = BytesMap::probe(pieces[n]);
      prefetch(pieces[n], probes[n]);
      entries[n++] = &e;
    }
    for (size_t k = 0; k < n; ++k) {
      if (lookup(pieces[k], probes[k]) != nullptr) continue;
      uint32_t ids[kMaxIds];
      insert(pieces[k], probes[k], ids, size_t(other.copy_ids(*entries[k], ids) - ids));
    }
  }
}

void PieceTable::evict() noexcept {
  std::memset(static_cast<void*>(entries_), 0, capacity() * kEntryBytes);
  size_ = 0;
  spilled_ = 0;
  id_arena_.clear();
  key_arena_.clear();
  ++evictions_;
}

void PieceTable::place(const Entry& e) noexcept {
  size_t i = home(e.k0, e.k1);
  while (entries_[i].k1 != 0) i = (i + 1) & mask_;
  entries_[i] = e;
}

void PieceTable::grow_or_evict() {
  if (!can_grow()) {
    evict();
    return;
  }
  Entry* old = entries_;
  const size_t old_capacity = capacity();
  const unsigned old_shift = shift_;
  entries_ = nullptr;  // allocate() must not free the old table: it is rehashed from below
  try {
    allocate(old_capacity * 2);
  } catch (const std::bad_alloc&) {
    entries_ = old;
    mask_ = old_capacity - 1;
    shift_ = old_shift;
    evict();  // out of memory: keep the size we have
    return;
  }
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].k1 != 0) place(old[i]);  // the hash is the key words' (hash_of): no bytes to rebuild
  }
  free_table_memory(old);
}

void PieceTable::insert(std::string_view piece, const BytesMap::Probe& probe, const uint32_t* ids, size_t count) {
  const size_t len = piece.size();
  if (len == 0 || len > kMaxPieceBytes || count == 0) {
    throw std::invalid_argument("PieceTable: a piece of 1..64 bytes with at least one id");
  }
  if (entries_ == nullptr) {
    allocate(kInitialEntries);  // even under a smaller cap (tests): the smallest table
  } else if ((size_ + 1) * 4 > capacity() * 3) {
    grow_or_evict();
  }
  Entry e;
  e.k0 = probe.w0;
  e.k1 = key1(probe, len);
  if (len <= kInlineKeyBytes && count <= kInlineIds && ids[0] <= kIdMask) {
    for (size_t k = 0; k < kInlineIds; ++k) e.v[k] = k < count ? ids[k] : kNoId;
    e.v[0] |= uint32_t(count) << kCountShift;
  } else {
    e.v[0] = kSpill;
    e.v[1] = uint32_t(id_arena_.size());
    e.v[2] = uint32_t(count);
    e.v[3] = uint32_t(key_arena_.size());
    id_arena_.insert(id_arena_.end(), ids, ids + count);
    id_arena_.resize((id_arena_.size() + kInlineIds - 1) / kInlineIds * kInlineIds, kNoId);  // whole blocks
    if (len > kInlineKeyBytes) key_arena_.append(piece.data() + kInlineKeyBytes, len - kInlineKeyBytes);
    ++spilled_;
  }
  place(e);
  ++size_;
}

}  // namespace llmprep
