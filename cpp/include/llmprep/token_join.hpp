// Joining a batch of encoded chunks into one block of a token file: the chunks' ids in order,
// narrowed to the file's id type, the end-of-text id after each document, and where each document
// ends. `llmprep tokenize` writes the block with one call; before, the writing thread converted,
// checked and wrote every document's ids and its end-of-text id separately (40,000 writes for
// 20,000 small files), and that thread, not the encoder, bounded the pipeline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace llmprep {

// Receives the ids of chunks 0, 1, ... in order (a chunk may come in several parts) and the
// batch's document ends: doc_ends[d] is the number of chunks before document d's end
// (non-decreasing, at most the chunk count; equal values are empty documents). T is uint16_t or
// uint32_t; an id that does not fit T throws std::invalid_argument naming it, before any of the
// part holding it is kept.
template <class T>
class TokenJoiner {
 public:
  // Throws std::invalid_argument if doc_ends decreases or exceeds n_chunks. `storage`: a block to
  // write into again (its contents are dropped, its capacity kept): a pipeline hands each batch's
  // block back once it is written, as a fresh block of megabytes costs a page fault and the
  // kernel's zeroing of every page it touches.
  TokenJoiner(std::vector<size_t> doc_ends, size_t n_chunks, std::optional<uint32_t> eot, size_t reserve_ids = 0,
              std::vector<T> storage = {});

  // Appends the next ids of the current chunk.
  void append(const uint32_t* ids, size_t n);
  // Ends the current chunk: the documents that end after it get their end-of-text id and end.
  void end_chunk();
  // The joined ids and, for each document, the offset just past its last id (its end-of-text id
  // included), relative to the block's start. Call once, after every chunk has ended.
  std::vector<T> take_ids();
  std::vector<uint64_t> take_ends();

 private:
  void end_documents_at(size_t chunk);

  std::vector<size_t> doc_ends_;
  size_t n_chunks_;
  std::optional<uint32_t> eot_;
  size_t next_doc_ = 0;
  size_t chunk_ = 0;
  std::vector<T> ids_;
  std::vector<uint64_t> ends_;
};

extern template class TokenJoiner<uint16_t>;
extern template class TokenJoiner<uint32_t>;

}  // namespace llmprep
