// The chapter's SimpleTokenizerV1/V2 as one class: a word vocabulary (word -> id hash table,
// id -> word), encode through the splitter in pretokenize_simple.hpp, and decode with clean-up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "llmprep/bytes_map.hpp"
#include "llmprep/pretokenize_simple.hpp"

namespace llmprep::simple {

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

  BytesMap index_;  // word -> its entry (position in words_/ids_)
  // id of each entry (ids may be any int64; BytesMap holds 32 bits); the last is the unknown id's
  // when no word has it.
  std::vector<int64_t> ids_;
  bool ids_are_entries_ = false;                 // ids_[i] == i for every entry: encode skips ids_
  uint32_t unknown_entry_ = BytesMap::kMissing;  // V1: kMissing
  // id -> word: a dense vector for ids in [0, dense_.size()) (the usual case), a map otherwise.
  std::vector<std::string> words_;
  std::vector<int64_t> dense_;  // index into words_, -1 if absent
  std::unordered_map<int64_t, int64_t> sparse_;
};

}  // namespace llmprep::simple
