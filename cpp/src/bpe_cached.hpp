// The hit path of the piece cache, inline in both places that encode pieces (bpe.cpp's encode_piece
// and bpe_text.cpp's batch loop). Internal to the core library.
#pragma once

#include "llmprep/bpe.hpp"
#include "llmprep/piece_cache.hpp"

namespace llmprep {

inline uint32_t* BpeEncoder::encode_cached(std::string_view piece, const BytesMap::Probe& probe, PieceCache& cache,
                                           uint32_t* dst) const {
  // The cache first: it holds whole-token pieces too, so nearly every piece stops here after one
  // probe of one cache line.
  if (uint32_t* end = cache.table.find_into(piece, probe, dst)) return end;
  return encode_uncached(piece, probe, cache, dst);
}

}  // namespace llmprep
