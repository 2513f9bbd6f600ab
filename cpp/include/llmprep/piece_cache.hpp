// PieceTable: a thread's memo of BPE results, piece bytes -> token ids, for one encoder at a time.
//
// Open addressing with linear probing over self-contained 32-byte entries, two per 64-byte cache line,
// so that a lookup of a short piece touches one line: the key is the piece's first 15 bytes packed in two
// words with its length in the top byte, and up to four ids sit inline (about 98% of pre-tokens encode to
// at most two). A piece longer than 15 bytes, or one with more than four ids, "spills": the entry then
// holds offsets into two side arenas (the key's bytes 15.., and the ids in whole blocks of four). An
// inline entry keeps its id count in the top bits of its first id (ids are ranks, < 2^20), so that a
// hit reads its length from the word it copies anyway.
//
// Memory: nothing is allocated until the first insert (get_encoding and threads that never encode pay
// nothing); the table starts at kInitialEntries and doubles at 3/4 load until it would exceed the
// process-wide cap (max_table_bytes(), 64 MiB by default: ~1.5M pieces). At the cap, a full table is
// emptied in place and refills (eviction by clearing: simple, no per-hit bookkeeping, which keeps
// lookups read-only so that other threads may read a frozen table; on text whose distinct pieces exceed
// the cap this costs one miss per piece per refill, no worse than the old 64k-entry cache cleared when
// full). The arenas are emptied with it and bounded by the entry count (pieces are <= kMaxPieceBytes).
// Tables of 2 MiB or more are 2 MiB-aligned and madvise(MADV_HUGEPAGE)d where the platform has it; a
// refused madvise, or THP disabled for the process, silently leaves 4 KiB pages. An allocation that
// fails while growing evicts instead (the table keeps its size).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "llmprep/bytes_map.hpp"

namespace llmprep {

namespace piece_key {

constexpr uint64_t kSecondWordBytes = (uint64_t(1) << 56) - 1;  // an entry's k1 holds bytes 8..14
constexpr size_t kMaxLength = 64;                               // PieceTable::kMaxPieceBytes

// For PieceTable::View::home_padded: per length, the masks that keep the key bytes of two words
// loaded from the piece's start (BytesMap's, the second word cut to bytes 8..14), and the length
// where the key's second word holds it. One row per length up to kMaxLength: no clamp on the hot path.
struct Masks {
  uint64_t m0, m1, length;
};
constexpr Masks masks(size_t len) noexcept {
  const bytes_map_detail::KeyMasks m = bytes_map_detail::key_masks(len < 16 ? len : 16);
  return {m.m0, m.m1 & kSecondWordBytes, uint64_t(len) << 56};
}
struct MaskTable {
  Masks of[kMaxLength + 1];
  constexpr MaskTable() : of() {
    for (size_t len = 0; len <= kMaxLength; ++len) of[len] = masks(len);
  }
};
inline constexpr MaskTable kMasks{};

}  // namespace piece_key

class PieceTable {
 public:
  static constexpr size_t kMaxPieceBytes = piece_key::kMaxLength;  // longer pieces are rare: not worth storing
  static constexpr size_t kInlineKeyBytes = 15;                    // longer keys keep bytes 15.. in an arena
  static constexpr size_t kInlineIds = 4;                          // more ids go to an arena
  static constexpr size_t kInitialEntries = 4096;                  // 128 KiB: allocated on the first insert
  static constexpr size_t kEntryBytes = 32;
  // The most ids one entry holds (a piece of n bytes has at most n), plus the slots an inline copy
  // writes past them: the room copy_ids needs.
  static constexpr size_t kMaxIds = kMaxPieceBytes + kInlineIds;
  static_assert(kMaxPieceBytes % kInlineIds == 0, "a spilled entry's ids, in whole blocks, fit in kMaxIds");

  PieceTable() = default;
  ~PieceTable();
  PieceTable(const PieceTable&) = delete;
  PieceTable& operator=(const PieceTable&) = delete;

  // Appends the ids cached for `piece` (1..kMaxPieceBytes bytes; `probe` is BytesMap::probe(piece))
  // to out and returns true, or returns false. Never writes to the table.
  bool find(std::string_view piece, const BytesMap::Probe& probe, std::vector<uint32_t>& out) const {
    const Entry* e = lookup(piece, probe);
    if (e == nullptr) return false;
    uint32_t ids[kMaxIds];
    out.insert(out.end(), ids, copy_ids(*e, ids));
    return true;
  }
  // The same into a buffer, for the encoder's batch loop: writes the ids at dst and returns the end
  // of them, or nullptr if the piece is not cached. dst needs room for kMaxIds ids: ids are copied
  // in whole blocks of kInlineIds (an inline entry is one 16-byte move, no branch per id) and the
  // end set past the real ones.
  uint32_t* find_into(std::string_view piece, const BytesMap::Probe& probe, uint32_t* dst) const {
    const Entry* e = lookup(piece, probe);
    return e == nullptr ? nullptr : copy_ids(*e, dst);
  }
  // find_into for the table's owning thread: a piece found outside its home pair is swapped into
  // the pair's second slot, so that a frequent piece displaced while the table filled is answered
  // by View::find_home (the encoder's fast path) from then on; the piece swapped out stays
  // reachable (every slot from its own home to its new place is occupied, as linear probing
  // needs). Such pieces took the slow path, a mispredicted branch and a second lookup, for 4-8% of
  // the pieces of English text.
  uint32_t* find_into_promoting(std::string_view piece, const BytesMap::Probe& probe, uint32_t* dst) noexcept {
    const Entry* e = lookup(piece, probe);
    if (e == nullptr) return nullptr;
    const size_t pair = home(probe.w0, key1(probe, piece.size()));
    const size_t at = size_t(e - entries_);
    if ((at & ~size_t(1)) != pair) {
      std::swap(entries_[at], entries_[pair + 1]);
      e = entries_ + pair + 1;
    }
    return copy_ids(*e, dst);
  }
  // Starts loading the line a lookup of `piece` will hit first (a hint; harmless if the table changes
  // meanwhile).
  void prefetch(std::string_view piece, const BytesMap::Probe& probe) const noexcept {
#if defined(__GNUC__) || defined(__clang__)
    if (entries_ != nullptr) __builtin_prefetch(entries_ + home(probe.w0, key1(probe, piece.size())));
#else
    (void)piece;
    (void)probe;
#endif
  }
  // Adds a piece that is not in the table (the caller looked it up first). May grow the table, or
  // at the cap empty it first. count >= 1.
  void insert(std::string_view piece, const BytesMap::Probe& probe, const uint32_t* ids, size_t count);
  // Drops everything and frees the memory (the next insert starts small again); the statistics start
  // over too, so that they describe the cache of the encoder the thread serves now.
  void reset() noexcept;
  // Drops everything but keeps the memory (a table reused by another call: no growth from the
  // initial size, no fresh pages); the statistics start over.
  void clear() noexcept;
  // Exchanges the contents (and statistics) of two tables, in O(1).
  void swap(PieceTable& other) noexcept;
  // Inserts every piece of `other` that this table lacks (as insert would: growing, or emptying
  // at the cap). The slots of a batch of pieces are prefetched before any is probed.
  void insert_missing(const PieceTable& other);
  // Calls f(piece, ids, count) for every cached piece.
  template <class F>
  void for_each(F&& f) const {
    if (entries_ == nullptr) return;
    char bytes[kMaxPieceBytes];
    for (size_t i = 0; i <= mask_; ++i) {
      const Entry& e = entries_[i];
      if (e.k1 == 0) continue;
      const size_t len = key_bytes(e, bytes);
      uint32_t ids[kMaxIds];
      f(std::string_view(bytes, len), static_cast<const uint32_t*>(ids), size_t(copy_ids(e, ids) - ids));
    }
  }

  size_t size() const noexcept { return size_; }
  size_t capacity() const noexcept { return entries_ == nullptr ? 0 : mask_ + 1; }
  size_t evictions() const noexcept { return evictions_; }  // since the last reset() or clear()
  size_t spilled() const noexcept { return spilled_; }
  bool huge_pages() const noexcept { return huge_; }

  // Process-wide settings, read when a table grows. The cap is in bytes of table (rounded down to a
  // power of two entries, at least kInitialEntries). Tests shrink it to exercise eviction.
  static size_t max_table_bytes() noexcept;
  static void set_max_table_bytes(size_t bytes) noexcept;
  static bool huge_pages_enabled() noexcept;
  static void set_huge_pages_enabled(bool enabled) noexcept;
  // Test hook: the next `count` table allocations fail as if out of memory.
  static void fail_next_allocations(int count) noexcept;

 private:
  static constexpr uint32_t kNoId = 0xFFFFFFFFu;   // an unused inline id slot
  static constexpr uint32_t kSpill = 0xFFFFFFFEu;  // v[0] of a spilled entry (its count bits read 15)
  static constexpr unsigned kCountShift = 28;      // an inline entry's v[0]: id | count << 28
  static constexpr uint32_t kIdMask = (1u << kCountShift) - 1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  static constexpr unsigned kFirstIdShift = 32;  // where v[0] sits in a word read from v[0..1]
#else
  static constexpr unsigned kFirstIdShift = 0;
#endif
  struct alignas(32) Entry {
    uint64_t k0;    // key bytes 0..7, zero-padded
    uint64_t k1;    // key bytes 8..14, zero-padded, length in the top byte; 0: an empty slot
    uint32_t v[4];  // inline: id | count << 28, ids, kNoId-padded. Spilled: kSpill, id offset, id count,
                    // key tail offset
  };
  static_assert(sizeof(Entry) == kEntryBytes, "two entries per cache line");

  // The hash of an entry's key, from its two words alone: the encoder's fast path computes it from
  // two loads of the text and two masks, with no branch and no pass over the piece, and growing
  // rehashes an entry without rebuilding its bytes. (BytesMap's hash, used before, also mixed in the
  // bytes past the 16th one by one: a branch and a loop on every piece.) A piece over 15 bytes
  // shares its home with those that agree on the first 15 bytes and the length; lookup's tail
  // comparison tells them apart, and such pieces are rare.
  static uint64_t hash_of(uint64_t k0, uint64_t k1) noexcept {
    return (k0 * 0x9E3779B97F4A7C15ull) ^ (k1 * 0xC2B2AE3D27D4EB4Full);
  }
  // Probes start at an even slot, so a key and its neighbour share one 64-byte line: a lookup of a
  // key displaced by one slot (the common collision) reads no second line. The slot comes from the
  // hash's top bits (those of a product depend on every bit of its factor; the low ones do not).
  size_t home(uint64_t k0, uint64_t k1) const noexcept { return pair_index(hash_of(k0, k1), shift_); }
  static size_t pair_index(uint64_t hash, unsigned shift) noexcept { return size_t(hash >> shift) & ~size_t(1); }
  // The entry holding `piece`, or nullptr: one probe sequence, shared by find and find_into.
  const Entry* lookup(std::string_view piece, const BytesMap::Probe& probe) const noexcept {
    if (entries_ == nullptr) return nullptr;
    const uint64_t k0 = probe.w0;
    const uint64_t k1 = key1(probe, piece.size());
    for (size_t i = home(k0, k1);; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.k1 == k1 && e.k0 == k0) {
        // A key longer than the inline bytes also compares its tail (kept in the arena).
        if (piece.size() <= kInlineKeyBytes || tail_matches(e, piece)) return &e;
      } else if (e.k1 == 0) {
        return nullptr;
      }
    }
  }
  // The ids of an entry, written at dst (room for kMaxIds; an inline entry is copied whole, four
  // slots); returns their end.
  uint32_t* copy_ids(const Entry& e, uint32_t* dst) const noexcept {
    if (e.v[0] < kSpill) {
      std::memcpy(dst, e.v, sizeof(e.v));
      dst[0] &= kIdMask;
      return dst + inline_count(e);
    }
    return copy_id_blocks(id_arena_.data() + e.v[1], e.v[2], dst);
  }
  // A spilled entry's ids, which the arena holds in whole blocks of kInlineIds (the last one
  // padded), copied block by block: fixed 16-byte moves where a memcpy of `count` ids was a call
  // into libc (3.5% of a first pass over Japanese-German text in GPT-2, more where pieces spill
  // often). Writes up to kInlineIds - 1 slots past the ids, within kMaxIds.
  static uint32_t* copy_id_blocks(const uint32_t* src, size_t count, uint32_t* dst) noexcept {
    for (size_t k = 0; k < count; k += kInlineIds) std::memcpy(dst + k, src + k, kInlineIds * sizeof(uint32_t));
    return dst + count;
  }
  // Whether a spilled entry's key tail (bytes 15.. in the arena) equals the piece's.
  bool tail_matches(const Entry& e, std::string_view piece) const noexcept {
    return std::memcmp(key_arena_.data() + e.v[3], piece.data() + kInlineKeyBytes, piece.size() - kInlineKeyBytes) == 0;
  }
  static size_t inline_count(const Entry& e) noexcept { return size_t(e.v[0] >> kCountShift); }
  static uint64_t key1(const BytesMap::Probe& probe, size_t len) noexcept {
    return (probe.w1 & kSecondWordBytes) | (uint64_t(len) << 56);
  }
  static constexpr uint64_t kSecondWordBytes = piece_key::kSecondWordBytes;
  using KeyMasks = piece_key::Masks;
  size_t key_bytes(const Entry& e, char* bytes) const noexcept {
    const size_t len = size_t(e.k1 >> 56);
    for (size_t k = 0; k < len && k < kInlineKeyBytes; ++k) {
      bytes[k] = char(((k < 8 ? e.k0 : e.k1) >> (8 * (k % 8))) & 0xFF);
    }
    if (len > kInlineKeyBytes) std::memcpy(bytes + kInlineKeyBytes, key_arena_.data() + e.v[3], len - kInlineKeyBytes);
    return len;
  }
  bool can_grow() const noexcept;
  void allocate(size_t entries);  // replaces the table (contents lost): throws std::bad_alloc
  void free_table() noexcept;
  void grow_or_evict();
  void evict() noexcept;
  void place(const Entry& e) noexcept;

 public:
  // The table's base and shift as values, for the encoder's batch loop: held in registers across a
  // chunk of pieces (the members are reloaded after every store the compiler cannot tell apart from
  // them). Valid until the next insert (which may grow or empty the table): take a new one after it.
  class View {
   public:
    // A piece's home pair of slots and its key, computed a chunk of pieces ahead of the lookup (the
    // lookup then needs nothing else of the piece). A piece longer than kInlineKeyBytes matches only
    // entries of its own length, which are all spilled, so find_home needs no length test.
    struct Home {
      const Entry* pair;
      uint64_t k0;
      uint64_t k1;
    };
    Home home(const BytesMap::Probe& probe, size_t len) const noexcept { return home(probe.w0, key1(probe, len)); }
    Home home(uint64_t k0, uint64_t k1) const noexcept {
      return Home{entries_ + pair_index(hash_of(k0, k1), shift_), k0, k1};
    }
    // The same for a piece of len (1..kMaxPieceBytes) bytes at p with at least 16 readable bytes
    // from p (a piece inside a larger text), from two loads and one row of masks: no probe, no
    // branch on the length.
    Home home_padded(const unsigned char* p, size_t len) const noexcept {
      const KeyMasks& m = piece_key::kMasks.of[len];
      uint64_t w0, w1;
      std::memcpy(&w0, p, 8);
      std::memcpy(&w1, p + 8, 8);
      return home(w0 & m.m0, (w1 & m.m1) | m.length);
    }
    // The ids of a piece found inline in its home pair (the line prefetch() loads), written at dst
    // (room for kInlineIds ids) with their end returned; nullptr when it is not there: absent,
    // displaced past its pair, or spilled (longer than kInlineKeyBytes, or more than kInlineIds ids:
    // find_spilled, then find_into, decide).
    // Both slots' keys are compared and the entry picked by arithmetic on its address, not by a
    // branch (which slot holds a piece is a coin toss from piece to piece); the one branch left is
    // rarely taken.
    static uint32_t* find_home(const Home& h, uint32_t* dst) noexcept {
      const Entry* pair = h.pair;
      const uint64_t miss0 = (pair[0].k0 ^ h.k0) | (pair[0].k1 ^ h.k1);
      const uint64_t miss1 = (pair[1].k0 ^ h.k0) | (pair[1].k1 ^ h.k1);
      // The entry by arithmetic on its address (no branch), and whether it is the piece's: slot 0
      // if it matched, else slot 1, which must then match.
      const uint64_t in_second = uint64_t(miss0 != 0);
      const Entry* e = pair + in_second;
      const uint64_t miss = miss1 & (uint64_t(0) - in_second);
      uint64_t v[2];
      std::memcpy(v, e->v, sizeof(v));
      const uint32_t first = uint32_t(v[0] >> kFirstIdShift);  // id | count << kCountShift
      if ((miss != 0) | (first >= uint32_t(kInlineIds + 1) << kCountShift)) return nullptr;
      v[0] &= ~(uint64_t(~kIdMask) << kFirstIdShift);
      std::memcpy(dst, v, sizeof(v));
      return dst + (first >> kCountShift);
    }
    // The ids of a spilled piece (a key over kInlineKeyBytes, or more than kInlineIds ids) found
    // in its home pair, written at dst (room for kMaxIds) with their end returned; else nullptr.
    // The encoder's second chance after find_home, before a full lookup: the line is in cache, and
    // the key words come with the home; only a long key's tail is compared, in the arena. (Spilled
    // pieces were ~13% of o200k_base's pieces of Japanese-German text, each one a second hash and
    // probe.)
    uint32_t* find_spilled(const Home& h, const unsigned char* piece, size_t len, uint32_t* dst) const noexcept {
      for (const Entry* e = h.pair; e != h.pair + 2; ++e) {
        if (e->k0 != h.k0 || e->k1 != h.k1 || e->v[0] != kSpill) continue;
        if (len > kInlineKeyBytes &&
            std::memcmp(keys_ + e->v[3], piece + kInlineKeyBytes, len - kInlineKeyBytes) != 0) {
          continue;
        }
        return copy_id_blocks(ids_ + e->v[1], e->v[2], dst);
      }
      return nullptr;
    }
    static void prefetch(const Home& h) noexcept {
#if defined(__GNUC__) || defined(__clang__)
      __builtin_prefetch(h.pair);
#else
      (void)h;
#endif
    }

    // Whether two views have the same slots (homes computed with one hold for the other; the
    // arenas may still have moved).
    bool same(const View& other) const noexcept { return entries_ == other.entries_ && shift_ == other.shift_; }

   private:
    friend class PieceTable;
    View(const Entry* entries, unsigned shift, const uint32_t* ids, const char* keys)
        : entries_(entries), shift_(shift), ids_(ids), keys_(keys) {}
    const Entry* entries_;
    unsigned shift_;
    const uint32_t* ids_;  // the arenas of spilled entries
    const char* keys_;
  };
  // An empty table's view reads a static pair of empty slots (every hash lands on the pair).
  View view() const noexcept {
    return entries_ != nullptr ? View(entries_, shift_, id_arena_.data(), key_arena_.data())
                               : View(kEmptyPair, 63, nullptr, nullptr);
  }

 private:
  alignas(64) static const Entry kEmptyPair[2];

  Entry* entries_ = nullptr;
  size_t mask_ = 0;
  unsigned shift_ = 63;  // 64 - log2(capacity): home() keeps the hash's top bits
  size_t size_ = 0;
  size_t evictions_ = 0;
  size_t spilled_ = 0;
  bool huge_ = false;
  std::vector<uint32_t> id_arena_;
  std::string key_arena_;
};

// The BPE results of pieces this thread has seen (whole-token pieces included, so that one probe
// answers nearly every piece), for one encoder at a time (its owner, BpeEncoder's instance id).
struct PieceCache {
  uint64_t owner = 0;
  PieceTable table;
  // During a parallel call: the calling thread's table, read-only for every thread of the call and
  // probed after `table`, which then holds only the pieces this thread learns in the call (absorbed
  // into the caller's at its end). So every thread starts from all that any thread learned in
  // earlier calls: with a cache per thread, each one learned the corpus again (pool threads did not
  // pass on what they learned), and two threads merged the same new pieces twice. The encode loop
  // prefetches both: in one large call most hits are in `table`, across calls in `frozen`.
  const PieceTable* frozen = nullptr;
  void reset(uint64_t new_owner) {
    owner = new_owner;
    table.reset();
  }
  // Adds what `other` learned (same encoder) that this cache lacks, leaving `other` with an
  // unspecified part of both. The larger table is kept and the smaller one's entries copied in (a
  // cold cache takes a thread's whole table in O(1)), inserted as the thread itself would insert
  // them: the table grows, or at the cap is emptied and refills.
  void absorb(PieceCache& other) {
    if (other.table.size() > table.size()) table.swap(other.table);
    table.insert_missing(other.table);
  }
};

}  // namespace llmprep
