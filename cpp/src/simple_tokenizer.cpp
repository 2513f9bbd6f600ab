// SimpleTokenizerV1/V2: the word table, the lookup loop fused with the splitter, and decode.
//
// Performance notes: encode is one pass of for_each_token with each lookup split in three steps
// kInFlight / 2 tokens apart (locate: hash, prefetch the slot; scan: walk the probe, prefetch a long
// word's record; finish: compare it), so that with a large vocabulary (~450k words: a 16 MiB table,
// far beyond L2) the cache misses of many tokens overlap instead of coming one after another. The
// table is the tokenizer's own (WordTable): 16-byte slots holding a word's first 8 bytes, its length,
// a hash tag and its entry, so a word of <= 8 bytes costs one cache line; tables of 2 MiB or more are
// 2 MiB-aligned and madvise(MADV_HUGEPAGE)d to spare TLB misses (a hint: 4 KiB pages work the same).
// The entry is the id itself for the usual vocabulary (ids 0..n-1 in word order), else one more
// array read. Long words compare 8 bytes at a time (a memcmp call per long word was ~8% of encode).
// Measured (C++ alone, thread CPU time, best of 5, on this shared 2-core machine: ratios only): the
// shared BytesMap (position, then ids_[position]: two dependent misses per token, no prefetch) ran
// ~50-70 ns per token on 450k-word vocabularies, this table ~30-40 ns; the split alone is ~10 ns.
// Through the Python API on freedict-jpn-deu (464k words) that is ~1.7x for encode_to_numpy and for
// lists (lists also gain from one int per entry, prefetched: bindings/simple.cpp).
// Also tried: std::unordered_map (2x slower per lookup than BytesMap). Batch calls parallelise
// across texts in the binding; a single text is not split across threads (a cut would need care
// at "--" and multi-byte whitespace).
#include "llmprep/simple_tokenizer.hpp"

#include <cstring>
#include <new>
#include <stdexcept>

#include "llmprep/bytes_map.hpp"
#include "llmprep/errors.hpp"
#include "llmprep/huge_pages.hpp"

namespace llmprep::simple {

namespace {

using bytes_map_detail::load64;

// The first min(size, 8) bytes of a word, zero-padded; one masked load when 8 bytes are readable.
inline uint64_t head_of(const unsigned char* p, size_t size, size_t readable) noexcept {
  if (size >= 8) return load64(p);
  if (readable >= 8) return load64(p) & ((uint64_t(1) << (8 * size)) - 1);
  unsigned char buffer[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(buffer, p, size);
  return load64(buffer);
}

inline uint64_t word_hash(const unsigned char* p, size_t size, uint64_t head) noexcept {
  uint64_t x = head ^ (uint64_t(size) * 0x9E3779B97F4A7C15ull);
  if (size > 8) {
    // Rare (most words are short): the rest in 8-byte steps, the last one overlapping.
    for (size_t i = 8; i < size; i += 8) {
      const uint64_t w = i + 8 <= size ? load64(p + i) : load64(p + size - 8);
      x = (x ^ w) * 0xC2B2AE3D27D4EB4Full;
      x ^= x >> 29;
    }
  }
  uint64_t h = x * 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

// Lookups kept in flight by encode: enough to overlap the misses of a large table, few enough that
// the ring stays in registers and L1.
constexpr size_t kInFlight = 16;

}  // namespace

void WordTable::SlotsFree::operator()(Slot* slots) const noexcept { free_table_memory(slots); }

void WordTable::allocate(size_t capacity) {
  // On huge pages when large; 64-byte aligned otherwise (a probe's four slots share one cache line).
  void* memory = allocate_table_memory(capacity * sizeof(Slot), true);
  if (memory == nullptr) throw std::bad_alloc();
  slots_ = std::unique_ptr<Slot[], SlotsFree>(static_cast<Slot*>(memory));
  mask_ = capacity - 1;
}

WordTable::WordTable(size_t max_words) {
  size_t capacity = 16;
  while (capacity < max_words * 2) capacity *= 2;  // load <= 1/2: short probes
  allocate(capacity);
}

WordTable::Probe WordTable::locate(std::string_view word, size_t readable) const noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(word.data());
  const size_t size = word.size();
  const uint64_t head = head_of(p, size, readable);
  const uint64_t h = word_hash(p, size, head);
  const uint32_t meta = (uint32_t(h >> 40) << 8) | uint32_t(size < 255 ? size : 255);
  return Probe{p, size, head, meta, h & mask_};
}

bool WordTable::long_matches(uint32_t record, const Probe& probe) const noexcept {
  const auto* r = reinterpret_cast<const unsigned char*>(long_.data()) + record;
  uint32_t size;
  std::memcpy(&size, r + 4, 4);
  if (size != probe.size) return false;
  // 8 bytes at a time, the last step overlapping (size > 8): no call for the usual 9-24 bytes. The
  // first 8 bytes matched with the head; the record holds the whole word to allow the overlap.
  const unsigned char* word = r + 8;
  for (size_t i = 8; i + 8 < size; i += 8) {
    if (load64(word + i) != load64(probe.bytes + i)) return false;
  }
  return load64(word + size - 8) == load64(probe.bytes + size - 8);
}

uint32_t WordTable::value_index(const Slot& slot) const noexcept {
  if ((slot.meta & 0xFF) <= 8) return slot.value;
  uint32_t index;
  std::memcpy(&index, long_.data() + slot.value, 4);
  return index;
}

size_t WordTable::scan(const Probe& probe, size_t from) const noexcept {
  // The empty word is never stored (and its meta could not be told from an empty slot's).
  if (probe.size == 0) return kNoSlot;
  const Slot* slots = slots_.get();
  for (size_t i = from;; i = (i + 1) & mask_) {
    const Slot& s = slots[i];
    if (s.meta == probe.meta && s.head == probe.head) {
#if defined(__GNUC__)
      if (probe.size > 8) __builtin_prefetch(long_.data() + s.value);
#endif
      return i;
    }
    if (s.meta == 0) return kNoSlot;
  }
}

uint32_t WordTable::finish(const Probe& probe, size_t candidate) const noexcept {
  // A long word whose head, length byte and tag match but whose record does not (about one in 2^24
  // of such words) goes on probing after the candidate.
  while (candidate != kNoSlot) {
    const Slot& s = slots_[candidate];
    if (probe.size <= 8) return s.value;
    if (long_matches(s.value, probe)) return value_index(s);
    candidate = scan(probe, (candidate + 1) & mask_);
  }
  return kMissing;
}

bool WordTable::insert(std::string_view word, uint32_t index) {
  if (word.empty()) throw std::invalid_argument("WordTable: the empty word cannot be a key");
  if (index == kMissing) throw std::length_error("vocabulary too large: at most 2^32 - 2 words");
  if (find(word) != kMissing) return false;
  if ((size_ + 1) * 2 > mask_ + 1) throw std::logic_error("WordTable: more words than it was made for");
  const Probe probe = locate(word, word.size());
  uint32_t value = index;
  if (word.size() > 8) {
    if (long_.size() + word.size() + 8 > 0xFFFFFFFFull || word.size() > 0xFFFFFFFFull) {
      throw std::length_error("vocabulary too large: the words longer than 8 bytes exceed 4 GiB");
    }
    value = static_cast<uint32_t>(long_.size());
    const uint32_t size = static_cast<uint32_t>(word.size());
    long_.append(reinterpret_cast<const char*>(&index), 4);
    long_.append(reinterpret_cast<const char*>(&size), 4);
    long_.append(word.data(), word.size());
  }
  size_t i = probe.slot;
  while (slots_[i].meta != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{probe.head, probe.meta, value};
  ++size_;
  return true;
}

Tokenizer::Tokenizer(const std::vector<std::string>& words, const std::vector<int64_t>& ids,
                     std::optional<int64_t> unknown_id) {
  if (words.size() != ids.size()) throw std::invalid_argument("words and ids must have the same length");
  if (words.size() >= WordTable::kMissing - 1) throw std::length_error("vocabulary too large: at most 2^32 - 3 words");
  words_ = words;
  ids_ = ids;
  index_ = WordTable(words.size());
  int64_t max_id = -1;
  bool all_non_negative = true;
  for (size_t i = 0; i < words.size(); ++i) {
    all_non_negative = all_non_negative && ids[i] >= 0;
    if (ids[i] > max_id) max_id = ids[i];
    // The empty word can never be a token, so it needs no lookup entry (decode still finds it).
    if (words[i].empty()) continue;
    if (!index_.insert(words[i], static_cast<uint32_t>(i))) {
      ids_[index_.find(words[i])] = ids[i];  // a repeated word keeps its last id, as a dict does
    }
  }
  // Dense when the ids are non-negative and not much sparser than the words themselves.
  const bool dense = all_non_negative && max_id < static_cast<int64_t>(2 * words.size() + 1024);
  if (dense) dense_.assign(static_cast<size_t>(max_id + 1), -1);
  for (size_t i = 0; i < words.size(); ++i) {
    if (dense)
      dense_[static_cast<size_t>(ids[i])] = static_cast<int64_t>(i);
    else
      sparse_[ids[i]] = static_cast<int64_t>(i);
  }
  if (unknown_id) {
    // Any entry holding the id will do; when no word has it, it gets an entry of its own.
    for (size_t i = 0; i < ids_.size() && unknown_entry_ == WordTable::kMissing; ++i) {
      if (ids_[i] == *unknown_id) unknown_entry_ = static_cast<uint32_t>(i);
    }
    if (unknown_entry_ == WordTable::kMissing) {
      unknown_entry_ = static_cast<uint32_t>(ids_.size());
      ids_.push_back(*unknown_id);
    }
  }
  ids_are_entries_ = true;
  for (size_t i = 0; i < ids_.size() && ids_are_entries_; ++i) ids_are_entries_ = ids_[i] == static_cast<int64_t>(i);
}

// Every call inside is inlined (GCC, Clang): the instantiations for lists and for each numpy dtype
// are otherwise inlined differently, and the dtype ones called locate() out of line, ~9% slower.
#if defined(__GNUC__) || defined(__clang__)
#define LLMPREP_FLATTEN __attribute__((flatten))
#else
#define LLMPREP_FLATTEN
#endif

template <class Emit>
LLMPREP_FLATTEN void Tokenizer::encode_with(std::string_view text, Emit&& emit) const {
  // A ring of the last kInFlight tokens: each is located (slot prefetched) when found, scanned
  // (record prefetched) kInFlight / 2 tokens later and finished kInFlight tokens later, in order.
  struct Pending {
    WordTable::Probe probe;
    size_t candidate;
  };
  Pending ring[kInFlight];
  size_t count = 0;
  const auto settle = [&](const Pending& pending) {
    const uint32_t entry = index_.finish(pending.probe, pending.candidate);
    if (entry != WordTable::kMissing) {
      emit(entry);
    } else {
      if (unknown_entry_ == WordTable::kMissing)
        throw KeyError(std::string(reinterpret_cast<const char*>(pending.probe.bytes), pending.probe.size));
      emit(unknown_entry_);
    }
  };
  const size_t n = text.size();
  for_each_token(text, [&](size_t begin, size_t end) {
    Pending& slot = ring[count % kInFlight];
    if (count >= kInFlight) settle(slot);
    if (count >= kInFlight / 2) {
      Pending& half = ring[(count - kInFlight / 2) % kInFlight];
      half.candidate = index_.scan(half.probe, half.probe.slot);
    }
    slot.probe = index_.locate(text.substr(begin, end - begin), n - begin);
    index_.prefetch(slot.probe);
    ++count;
  });
  for (size_t k = count > kInFlight ? count - kInFlight : 0; k < count; ++k) {
    Pending& pending = ring[k % kInFlight];
    if (k + kInFlight / 2 >= count) pending.candidate = index_.scan(pending.probe, pending.probe.slot);
    settle(pending);
  }
}

template <class T>
void Tokenizer::encode(std::string_view text, std::vector<T>& out) const {
  reserve_output(out, out.size() + text.size() / 4 + 1);
  if (ids_are_entries_) {
    encode_with(text, [&](uint32_t entry) { out.push_back(static_cast<T>(entry)); });
  } else {
    encode_with(text, [&](uint32_t entry) { out.push_back(static_cast<T>(ids_[entry])); });
  }
}

template void Tokenizer::encode<uint16_t>(std::string_view, std::vector<uint16_t>&) const;
template void Tokenizer::encode<uint32_t>(std::string_view, std::vector<uint32_t>&) const;
template void Tokenizer::encode<int64_t>(std::string_view, std::vector<int64_t>&) const;

void Tokenizer::encode_entries(std::string_view text, std::vector<uint32_t>& out) const {
  reserve_output(out, out.size() + text.size() / 4 + 1);
  encode_with(text, [&](uint32_t entry) { out.push_back(entry); });
}

const std::string& Tokenizer::word_of(int64_t id) const {
  int64_t index = -1;
  if (!dense_.empty() || sparse_.empty()) {
    if (id >= 0 && static_cast<uint64_t>(id) < dense_.size()) index = dense_[static_cast<size_t>(id)];
  } else {
    const auto found = sparse_.find(id);
    if (found != sparse_.end()) index = found->second;
  }
  if (index < 0) throw KeyError("token id " + std::to_string(id) + " is not in the vocabulary");
  return words_[static_cast<size_t>(index)];
}

std::string Tokenizer::decode(const int64_t* ids, size_t count, Cleanup style) const {
  std::string joined;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) joined.push_back(' ');
    joined += word_of(ids[i]);
  }
  return cleanup_decoded(joined, style);
}

}  // namespace llmprep::simple
