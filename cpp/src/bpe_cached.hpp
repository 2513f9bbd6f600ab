// The hit path of the piece cache, inline in both places that encode pieces (bpe.cpp's encode_piece
// and bpe_text.cpp's batch loop). Internal to the core library.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "llmprep/bpe.hpp"
#include "llmprep/piece_cache.hpp"

namespace llmprep {

// The piece caches of one parallel encoding call (see PieceCache::frozen): the calling thread's
// cache, frozen for the call and probed first by every thread, and one small cache per thread of the
// call for the pieces it learns, absorbed into the caller's by finish() (and the tables kept for
// later calls: bpe.cpp's LearnedPool). Constructed and finished on the calling thread; dropped
// without finish() (an exception) the new pieces are forgotten. bytes_per_thread: about how much
// text each thread will encode (bounds the size of a kept table a thread may take).
class ParallelCaches {
 public:
  ParallelCaches(const BpeEncoder& encoder, size_t bytes_per_thread);
  ParallelCaches(const ParallelCaches&) = delete;
  ParallelCaches& operator=(const ParallelCaches&) = delete;
  // This thread's cache for the call (made on its first task of the call).
  PieceCache& for_this_thread();
  void finish();

 private:
  PieceCache& caller_;
  const uint64_t call_;
  const size_t bytes_per_thread_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<PieceCache>> learned_;
};

inline uint32_t* BpeEncoder::encode_cached(std::string_view piece, const BytesMap::Probe& probe, PieceCache& cache,
                                           uint32_t* dst) const {
  // The cache first: it holds whole-token pieces too, so nearly every piece stops here after one
  // probe of one cache line.
  if (uint32_t* end = cache.table.find_into_promoting(piece, probe, dst)) return end;
  return encode_uncached(piece, probe, cache, dst);
}

}  // namespace llmprep
