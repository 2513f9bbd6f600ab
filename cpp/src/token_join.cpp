// TokenJoiner: see token_join.hpp.
#include "llmprep/token_join.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "llmprep/huge_pages.hpp"

namespace llmprep {

namespace {

template <class T>
const char* type_name() {
  return sizeof(T) == 2 ? "uint16" : "uint32";
}

// The message the token file writer gives for the same fault (llmprep/tokens.py).
template <class T>
[[noreturn]] void does_not_fit(uint32_t id) {
  throw std::invalid_argument("token id " + std::to_string(id) + " does not fit in " + type_name<T>() + " (max " +
                              std::to_string(std::numeric_limits<T>::max()) +
                              "); write uint32 ids (--dtype uint32 or auto)");
}

}  // namespace

template <class T>
TokenJoiner<T>::TokenJoiner(std::vector<size_t> doc_ends, size_t n_chunks, std::optional<uint32_t> eot,
                            size_t reserve_ids, std::vector<T> storage)
    : doc_ends_(std::move(doc_ends)), n_chunks_(n_chunks), eot_(eot), ids_(std::move(storage)) {
  ids_.clear();
  for (size_t d = 0; d < doc_ends_.size(); ++d) {
    if (doc_ends_[d] > n_chunks_ || (d > 0 && doc_ends_[d] < doc_ends_[d - 1]))
      throw std::invalid_argument("document ends must be non-decreasing chunk counts, at most the number of chunks");
  }
  if (eot_ && *eot_ > std::numeric_limits<T>::max()) does_not_fit<T>(*eot_);
  // A batch's block is megabytes, written once front to back right after it is allocated: the
  // case reserve_output is for. (Measured on 20,000 files it neither raised nor lowered the
  // pipeline's system time beyond that VM's noise.)
  reserve_output(ids_, reserve_ids + (eot_ ? doc_ends_.size() : 0));
  ends_.reserve(doc_ends_.size());
  end_documents_at(0);  // empty documents before the first chunk
}

template <class T>
void TokenJoiner<T>::append(const uint32_t* ids, size_t n) {
  if (chunk_ >= n_chunks_) throw std::logic_error("TokenJoiner: ids after the last chunk");
  if constexpr (sizeof(T) < sizeof(uint32_t)) {
    // The range check first, so that nothing of a part holding a bad id is kept: the ids OR-ed
    // together (one vectorised pass over a part still in cache), the bad one searched for only
    // when some id has high bits.
    uint32_t high = 0;
    for (size_t i = 0; i < n; ++i) high |= ids[i];
    if (high > std::numeric_limits<T>::max()) {
      does_not_fit<T>(*std::find_if(ids, ids + n, [](uint32_t id) { return id > std::numeric_limits<T>::max(); }));
    }
  }
  // Appended, not resized and overwritten: a resize writes zeros over the reserved block first.
  // (Narrowing to T where T is uint16_t.)
  ids_.insert(ids_.end(), ids, ids + n);
}

template <class T>
void TokenJoiner<T>::end_chunk() {
  if (chunk_ >= n_chunks_) throw std::logic_error("TokenJoiner: more chunks ended than there are");
  end_documents_at(++chunk_);
}

template <class T>
void TokenJoiner<T>::end_documents_at(size_t chunk) {
  for (; next_doc_ < doc_ends_.size() && doc_ends_[next_doc_] == chunk; ++next_doc_) {
    if (eot_) ids_.push_back(static_cast<T>(*eot_));
    ends_.push_back(ids_.size());
  }
}

template <class T>
std::vector<T> TokenJoiner<T>::take_ids() {
  if (chunk_ != n_chunks_) throw std::logic_error("TokenJoiner: taken before every chunk ended");
  return std::move(ids_);
}

template <class T>
std::vector<uint64_t> TokenJoiner<T>::take_ends() {
  if (chunk_ != n_chunks_) throw std::logic_error("TokenJoiner: taken before every chunk ended");
  return std::move(ends_);
}

template class TokenJoiner<uint16_t>;
template class TokenJoiner<uint32_t>;

}  // namespace llmprep
