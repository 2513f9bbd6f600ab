// The chapter's SimpleTokenizerV1/V2 as one class: a word vocabulary (word -> index hash table,
// index -> id, id -> word), encode through the splitter in pretokenize_simple.hpp, and decode with
// clean-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmprep/pretokenize_simple.hpp"

namespace llmprep::simple {

// Word -> index table of the word-level vocabulary (see simple_tokenizer.cpp's performance notes).
// Open addressing with 16-byte slots, four per cache line: a word's first 8 bytes, its length and 24
// hash bits decide a match, so words of up to 8 bytes (most of them) are found with one cache line;
// longer ones check their remaining bytes in one record of a side arena. A lookup runs in three
// steps, locate() (hash; prefetch the slot), scan() (walk the probe to the candidate slot; prefetch a
// long word's record) and finish() (compare the record), so that a caller can keep many cache misses
// in flight; find() does all three.
class WordTable {
 public:
  static constexpr uint32_t kMissing = 0xFFFFFFFFu;
  static constexpr size_t kNoSlot = ~size_t(0);

  // A located word: what scan() and finish() compare, and the slot its probe starts at.
  struct Probe {
    const unsigned char* bytes;
    size_t size;
    uint64_t head;  // the first min(size, 8) bytes, little-endian, zero-padded
    uint32_t meta;  // 24 hash bits, then min(size, 255) in the low byte (never 0: 0 marks an empty slot)
    size_t slot;
  };

  WordTable() = default;
  // A table for at most `max_words` words (the vocabulary is known up front, so it never grows).
  explicit WordTable(size_t max_words);

  // `index` < kMissing. Returns false (and changes nothing) when the word is already present.
  bool insert(std::string_view word, uint32_t index);

  // `readable` bytes can be read from word.data() (>= word.size(); >= 8 allows one masked load).
  Probe locate(std::string_view word, size_t readable) const noexcept;
  void prefetch(const Probe& probe) const noexcept {
#if defined(__GNUC__)
    __builtin_prefetch(slots_.get() + probe.slot);
#endif
  }
  // The first slot from `from` on whose head and meta match the probe's, or kNoSlot (the word is
  // missing). Prefetches the record of a long word.
  size_t scan(const Probe& probe, size_t from) const noexcept;
  // The word's index, given scan(probe, probe.slot).
  uint32_t finish(const Probe& probe, size_t candidate) const noexcept;
  uint32_t find(std::string_view word) const noexcept {
    const Probe probe = locate(word, word.size());
    return finish(probe, scan(probe, probe.slot));
  }

 private:
  struct Slot {
    uint64_t head;
    uint32_t meta;   // 0: empty
    uint32_t value;  // the index (size <= 8), else the offset of the word's record in long_
  };
  struct SlotsFree {
    void operator()(Slot* slots) const noexcept;
  };
  void allocate(size_t capacity);
  bool long_matches(uint32_t record, const Probe& probe) const noexcept;
  uint32_t value_index(const Slot& slot) const noexcept;

  std::unique_ptr<Slot[], SlotsFree> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
  // Records of words longer than 8 bytes: uint32 index, uint32 size, then the word's bytes.
  std::string long_;
};

class Tokenizer {
 public:
  // words[i] maps to ids[i]; a repeated word keeps its last id and a repeated id its last word,
  // as the chapter's dict and its inverse dict do. unknown_id: the id of <|unk|> (V2), or none
  // (V1: an unknown word throws llmprep::KeyError carrying the word).
  Tokenizer(const std::vector<std::string>& words, const std::vector<int64_t>& ids, std::optional<int64_t> unknown_id);

  // Appends the ids of `text` (valid UTF-8) to `out`. T is chosen by the caller to hold every id
  // of the vocabulary (checked in Python at construction).
  template <class T>
  void encode(std::string_view text, std::vector<T>& out) const;

  // Appends, for each token of `text`, its entry: an index into entry_ids() (the unknown id has an
  // entry too). Python lists are built from one cached int per entry, however large the ids are.
  void encode_entries(std::string_view text, std::vector<uint32_t>& out) const;
  const std::vector<int64_t>& entry_ids() const noexcept { return ids_; }

  // " ".join(words of ids) with the V1 or V2 clean-up. Throws llmprep::KeyError for an unknown id.
  std::string decode(const int64_t* ids, size_t count, Cleanup style) const;

  size_t size() const noexcept { return words_.size(); }

 private:
  template <class Emit>
  void encode_with(std::string_view text, Emit&& emit) const;
  const std::string& word_of(int64_t id) const;

  WordTable index_;                               // word -> its entry (position in words_/ids_)
  std::vector<int64_t> ids_;                      // id of each entry; the last is the unknown id's when no word has it
  bool ids_are_entries_ = false;                  // ids_[i] == i for every entry: encode skips the lookup
  uint32_t unknown_entry_ = WordTable::kMissing;  // V1: kMissing
  // id -> word: a dense vector for ids in [0, dense_.size()) (the usual case), a map otherwise.
  std::vector<std::string> words_;
  std::vector<int64_t> dense_;  // index into words_, -1 if absent
  std::unordered_map<int64_t, int64_t> sparse_;
};

}  // namespace llmprep::simple
