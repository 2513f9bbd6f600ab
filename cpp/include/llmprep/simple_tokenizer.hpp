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

  // " ".join(words of ids) with the V1 or V2 clean-up. Throws llmprep::KeyError for an unknown id.
  std::string decode(const int64_t* ids, size_t count, Cleanup style) const;

  size_t size() const noexcept { return words_.size(); }

 private:
  const std::string& word_of(int64_t id) const;

  BytesMap index_;            // word -> its position in words_/ids_
  std::vector<int64_t> ids_;  // id of each word (ids may be any int64; BytesMap holds 32 bits)
  std::optional<int64_t> unknown_id_;
  // id -> word: a dense vector for ids in [0, dense_.size()) (the usual case), a map otherwise.
  std::vector<std::string> words_;
  std::vector<int64_t> dense_;  // index into words_, -1 if absent
  std::unordered_map<int64_t, int64_t> sparse_;
};

}  // namespace llmprep::simple
