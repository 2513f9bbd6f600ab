// SimpleTokenizerV1/V2: the word lookup loop fused with the splitter, and decode.
//
// Performance notes: encode is one pass of for_each_token with an inline open-addressing lookup
// per token (BytesMap, shared with BPE); output goes straight into the caller's vector of the
// final dtype (no int64 intermediate), skipping the entry -> id array when ids are the entries (the
// usual vocabulary, ids 0..n-1 in word order). Lists are built from one Python int per entry.
// Measured on the concatenated corpora (3.5 MB): see benchmarks/bench_simple.py and the README
// table. Tried: std::unordered_map<string_view, int64_t> (about 2x slower per lookup); a table of
// its own with 8-byte keys packed in the slot (no faster than BytesMap); a table of its own with
// 16-byte slots (head, length, hash tag, entry), long words checked in a side record, 2 MiB pages
// and lookups pipelined 16 tokens deep with prefetches: 1.6-1.9x in a standalone C++ loop on
// 450k-word vocabularies, but no difference through the Python API on the same corpora (thread CPU
// time, best of 5-7, alternating runs on a shared machine), so it was not kept. Batch calls
// parallelise across texts in the binding (parallel_tasks for arrays; parallel_tasks_ordered for
// lists, built under the GIL while other threads still encode: 2-thread encode_batch went from
// ~1.35x to ~1.7x); a single text is not split across threads because the splitter's tokens are
// cheap to find but a cut would need care at "--" and multi-byte whitespace for a gain only on
// huge single strings.
#include "llmprep/simple_tokenizer.hpp"

#include "llmprep/errors.hpp"

namespace llmprep::simple {

Tokenizer::Tokenizer(const std::vector<std::string>& words, const std::vector<int64_t>& ids,
                     std::optional<int64_t> unknown_id) {
  if (words.size() != ids.size()) throw std::invalid_argument("words and ids must have the same length");
  if (words.size() >= BytesMap::kMissing - 1) throw std::length_error("vocabulary too large: at most 2^32 - 3 words");
  words_ = words;
  ids_ = ids;
  index_ = BytesMap(words.size());
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
    for (size_t i = 0; i < ids_.size() && unknown_entry_ == BytesMap::kMissing; ++i) {
      if (ids_[i] == *unknown_id) unknown_entry_ = static_cast<uint32_t>(i);
    }
    if (unknown_entry_ == BytesMap::kMissing) {
      unknown_entry_ = static_cast<uint32_t>(ids_.size());
      ids_.push_back(*unknown_id);
    }
  }
  ids_are_entries_ = true;
  for (size_t i = 0; i < ids_.size() && ids_are_entries_; ++i) ids_are_entries_ = ids_[i] == static_cast<int64_t>(i);
}

template <class Emit>
void Tokenizer::encode_with(std::string_view text, Emit&& emit) const {
  for_each_token(text, [&](size_t begin, size_t end) {
    const std::string_view word = text.substr(begin, end - begin);
    // Words away from the end of the text have 8 readable bytes: the one-load lookup.
    const uint32_t entry = begin + 8 <= text.size() ? index_.find_with_slack(word) : index_.find(word);
    if (entry != BytesMap::kMissing) {
      emit(entry);
    } else {
      if (unknown_entry_ == BytesMap::kMissing) throw KeyError(std::string(word));
      emit(unknown_entry_);
    }
  });
}

template <class T>
void Tokenizer::encode(std::string_view text, std::vector<T>& out) const {
  out.reserve(out.size() + text.size() / 4 + 1);
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
  out.reserve(out.size() + text.size() / 4 + 1);
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
