// Byte-level BPE: the rank tables, the merge loop (short and long pieces), the per-thread piece
// cache, and decoding. Pre-tokenization and parallel splitting of whole texts are in bpe_text.cpp.
//
// Design notes (measurements, and what was tried and rejected: docs/performance.md):
// * Per piece, in order: single byte -> byte_rank_; the calling thread's piece cache (piece_cache.hpp,
//   whole-token pieces included); the whole piece in the vocabulary (exact for GPT-2: rank == id ==
//   merge priority), probed with the same hash; only then the merge loop; both results are cached.
// * The merge loop never hashes bytes: it asks a (rank, rank) -> rank table (PairMap), exact because
//   every part during a tiktoken-style merge is itself a token.
// * Short pieces use tiktoken's quadratic scan. Long pieces (merge_large) are cut wherever two bytes
//   are adjacent in no token, then merged in 4 KiB chunks through a binary heap, each chunk boundary
//   confirmed by replaying both merge logs, repeated chunks reused; where a boundary fails (random
//   digits or letters), in ~512-byte chunks that end at a likely token boundary, regrouped where
//   the check fails (merge_groups): O(n log chunk) in the piece length.
// * The piece cache is thread_local (no locks), fetched once per text; in a parallel call every
//   thread also reads the calling thread's cache, frozen for the call, so new workers do not start cold.
#include "llmprep/bpe.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "bpe_cached.hpp"
#include "llmprep/errors.hpp"
#include "llmprep/piece_cache.hpp"

namespace llmprep {

namespace {

constexpr size_t kLargePiece = 128;       // merge_small's limit
constexpr size_t kHeapSpan = 32;          // pieces and spans this long or longer use merge_heap
constexpr size_t kChunk = 4096;           // the long-piece merge's chunk size
constexpr size_t kGroupChunk = 512;       // ... and merge_groups' (a smaller heap)
constexpr uint32_t kNone = 0xFFFFFFFFu;   // no merge possible (also sorts last)
constexpr uint32_t kDead = 0xFFFFFFFEu;   // part absorbed by its left neighbour
constexpr uint32_t kLogFirst = 1u << 30;  // merge_heap log: this merge changed the first part
constexpr uint32_t kLogLast = 1u << 31;   // ... the last part
constexpr uint32_t kLogRank = (1u << 30) - 1;

std::atomic<uint64_t> next_instance_id{1};

}  // namespace

namespace {

thread_local PieceCache tls_cache;

}  // namespace

// Removes and returns the least key of a min-heap. The hole left at the root goes down to a leaf
// along the lesser children, chosen without a branch (which child is less is a coin toss, and
// std::pop_heap's mispredicted branch per level was most of merge_heap's time on random digits);
// the last key then goes up from there, usually not far.
inline uint64_t pop_min(std::vector<uint64_t>& heap) noexcept {
  const uint64_t top = heap.front();
  const uint64_t last = heap.back();
  heap.pop_back();
  const size_t n = heap.size();
  if (n == 0) return top;
  uint64_t* h = heap.data();
  size_t hole = 0;
  for (size_t child = 1; child < n; child = 2 * hole + 1) {
    if (child + 1 < n) child += size_t(h[child + 1] < h[child]);
    h[hole] = h[child];
    hole = child;
  }
  while (hole > 0) {
    const size_t parent = (hole - 1) / 2;
    if (h[parent] <= last) break;
    h[hole] = h[parent];
    hole = parent;
  }
  h[hole] = last;
  return top;
}

// Per-thread arrays of merge_heap, kept between calls (a chunk's fit in L1/L2), fetched once per piece.
struct LongMerge {
  struct Part {
    uint32_t tok;
    uint32_t pr;  // rank of this part + the next one; kNone; or kDead once absorbed
    uint32_t prev;
    uint32_t next;
  };
  std::vector<Part> parts;     // merge_heap's parts
  std::vector<uint64_t> heap;  // (rank << 32 | position), a min-heap through std::greater
};

namespace {
thread_local LongMerge tls_long_merge;
}  // namespace

// ---------------------------------------------------------------------------------------------
// PairMap

void PairMap::build(const std::vector<std::pair<uint64_t, uint32_t>>& pairs) {
  size_t capacity = 16;
  while (capacity < pairs.size() * 2) capacity *= 2;
  slots_.assign(capacity, kEmpty);
  mask_ = capacity - 1;
  for (const auto& [key, rank] : pairs) {
    if (rank > kMaxRank || (key >> 40) != 0) throw std::invalid_argument("PairMap: rank above 2^20 - 1");
    size_t i = hash(key) & mask_;
    while (slots_[i] != kEmpty) {
      if ((slots_[i] >> 20) == key) break;  // same pair from another split: same concatenation
      i = (i + 1) & mask_;
    }
    slots_[i] = (key << 20) | rank;
  }
}

// ---------------------------------------------------------------------------------------------
// BpeEncoder: construction and decoding

BpeEncoder::BpeEncoder(const std::vector<std::pair<std::string, uint32_t>>& mergeable,
                       const std::vector<std::pair<std::string, uint32_t>>& special, Pattern pattern)
    : instance_id_(next_instance_id.fetch_add(1)), pattern_(pattern), ranks_(mergeable.size()), special_(special) {
  if (mergeable.empty()) throw std::invalid_argument("the vocabulary has no tokens");
  std::fill(std::begin(byte_rank_), std::end(byte_rank_), kNone);
  uint32_t max_id = 0;
  for (const auto& [bytes, rank] : mergeable) {
    if (bytes.empty())
      throw std::invalid_argument("the vocabulary contains an empty token (rank " + std::to_string(rank) + ")");
    if (rank > PairMap::kMaxRank) {
      throw std::invalid_argument("token rank " + std::to_string(rank) +
                                  " is too large: ranks must be below 1,048,576");
    }
    if (!ranks_.insert(bytes, rank)) {
      throw std::invalid_argument("the vocabulary lists the same token bytes twice (rank " + std::to_string(rank) +
                                  ")");
    }
    if (bytes.size() == 1) byte_rank_[static_cast<unsigned char>(bytes[0])] = rank;
    max_id = std::max(max_id, rank);
  }
  for (int b = 0; b < 256; ++b) {
    if (byte_rank_[b] == kNone) {
      throw std::invalid_argument("the vocabulary has no token for the single byte " + std::to_string(b) +
                                  ": byte-level BPE needs all 256 single bytes");
    }
  }
  n_mergeable_ = mergeable.size();
  for (const auto& [text, id] : special) {
    if (text.empty()) throw std::invalid_argument("a special token is the empty string");
    max_id = std::max(max_id, id);
  }
  max_token_value_ = max_id;

  // Decode table (ids may have gaps). Two special tokens may share an id, as tiktoken allows
  // (o200k_harmony gives 200018 to <|endofprompt|> and <|reserved_200018|>): both encode to it and it
  // decodes to the first one listed, which is tiktoken's choice there. Any other shared id is an error.
  decode_known_.assign(size_t(max_id) + 1, 0);
  std::vector<const std::string*> by_id(size_t(max_id) + 1, nullptr);
  std::vector<uint8_t> is_special_id(size_t(max_id) + 1, 0);
  auto place = [&](const std::string& bytes, uint32_t id, const char* kind, bool special) {
    if (by_id[id] != nullptr) {
      if (special && is_special_id[id]) return;
      throw std::invalid_argument(std::string("id ") + std::to_string(id) + " is used twice (" + kind + " token)");
    }
    by_id[id] = &bytes;
    decode_known_[id] = 1;
    is_special_id[id] = special;
  };
  for (const auto& [bytes, rank] : mergeable) place(bytes, rank, "ordinary", false);
  for (const auto& [text, id] : special_) place(text, id, "special", true);
  decode_offset_.assign(size_t(max_id) + 2, 0);
  for (size_t id = 0; id <= max_id; ++id) {
    decode_offset_[id] = decode_arena_.size();
    if (by_id[id] != nullptr) decode_arena_ += *by_id[id];
  }
  decode_offset_[size_t(max_id) + 1] = decode_arena_.size();

  // Pair table: every split of every token into two tokens.
  std::vector<std::pair<uint64_t, uint32_t>> pairs;
  pairs.reserve(mergeable.size() * 3);
  for (const auto& [bytes, rank] : mergeable) {
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
      const uint32_t left = ranks_.find(std::string_view(bytes).substr(0, cut));
      if (left == BytesMap::kMissing) continue;
      const uint32_t right = ranks_.find(std::string_view(bytes).substr(cut));
      if (right == BytesMap::kMissing) continue;
      pairs.emplace_back((uint64_t(left) << 20) | right, rank);
    }
  }
  pairs_.build(pairs);

  byte_pair_rank_.assign(65536, kNone);
  for (const auto& [bytes, rank] : mergeable) {
    if (bytes.size() == 2)
      byte_pair_rank_[size_t(static_cast<unsigned char>(bytes[0])) << 8 | static_cast<unsigned char>(bytes[1])] = rank;
  }
  bigrams_.assign(65536 / 64, 0);
  for (const auto& entry : mergeable) {
    const std::string& bytes = entry.first;
    for (size_t i = 0; i + 1 < bytes.size(); ++i) {
      const unsigned key =
          (unsigned(static_cast<unsigned char>(bytes[i])) << 8) | static_cast<unsigned char>(bytes[i + 1]);
      bigrams_[key >> 6] |= uint64_t(1) << (key & 63);
    }
  }
}

BpeEncoder::~BpeEncoder() {
  // The calling thread's cache can be large: free it now rather than when another encoder next runs
  // here (other threads' caches are freed by their next encoder or their exit).
  if (tls_cache.owner == instance_id_) tls_cache.reset(0);
}

std::string_view BpeEncoder::token_bytes(int64_t id) const {
  if (id < 0 || uint64_t(id) > max_token_value_ || !decode_known_[size_t(id)]) {
    throw KeyError("Invalid token for decoding: " + std::to_string(id) + " (valid ids are 0.." +
                   std::to_string(max_token_value_) + ")");
  }
  const size_t begin = decode_offset_[size_t(id)];
  return std::string_view(decode_arena_).substr(begin, decode_offset_[size_t(id) + 1] - begin);
}

std::string BpeEncoder::decode_bytes(const uint32_t* ids, size_t n) const {
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += token_bytes(ids[i]).size();
  std::string out;
  out.reserve(total);
  for (size_t i = 0; i < n; ++i) {
    const size_t begin = decode_offset_[ids[i]];
    out.append(decode_arena_.data() + begin, decode_offset_[ids[i] + 1] - begin);
  }
  return out;
}

std::string BpeEncoder::decode_bytes(const int64_t* ids, size_t n) const {
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += token_bytes(ids[i]).size();
  std::string out;
  out.reserve(total);
  for (size_t i = 0; i < n; ++i) {
    const size_t begin = decode_offset_[size_t(ids[i])];
    out.append(decode_arena_.data() + begin, decode_offset_[size_t(ids[i]) + 1] - begin);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Merging

// tiktoken's loop: repeatedly merge the adjacent pair whose concatenation has the lowest rank
// (leftmost on ties). Parts live in a small array; a merge shifts the tail left by one.
void BpeEncoder::merge_small(const unsigned char* p, size_t n, std::vector<uint32_t>& out) const {
  uint32_t tok[kLargePiece];
  out.insert(out.end(), tok, tok + merge_small(p, n, tok));
}

size_t BpeEncoder::merge_small(const unsigned char* p, size_t n, uint32_t* tok) const {
  uint32_t pr[kLargePiece];  // pr[i]: rank of tok[i] + tok[i + 1], kNone if not a token
  size_t m = n;
  for (size_t i = 0; i < m; ++i) tok[i] = byte_rank_[p[i]];
  for (size_t i = 0; i + 1 < m; ++i) pr[i] = byte_pair_rank_[size_t(p[i]) << 8 | p[i + 1]];
  while (m > 1) {
    uint32_t best = kNone;
    size_t at = 0;
    for (size_t i = 0; i + 1 < m; ++i) {
      if (pr[i] < best) {
        best = pr[i];
        at = i;
      }
    }
    if (best == kNone) break;
    tok[at] = best;
    for (size_t i = at + 1; i + 1 < m; ++i) {
      tok[i] = tok[i + 1];
      pr[i] = pr[i + 1];
    }
    --m;
    if (at + 1 < m) pr[at] = pairs_.find(tok[at], tok[at + 1]);
    if (at > 0) pr[at - 1] = pairs_.find(tok[at - 1], tok[at]);
  }
  return m;
}

// The same merge order for long pieces, in O(n log n): every pair waits in a binary min-heap keyed
// by (rank << 32 | position), which is exactly tiktoken's (lowest rank, leftmost) choice. Entries
// go stale when a neighbour merges; an entry is used only if its rank still matches its part's
// current pair rank (the pair at a position only ever grows, and different byte strings have
// different ranks, so a stale entry never matches). Callers pass chunks of at most a few KiB, so
// the parts and the heap stay in L1/L2 (per-rank buckets, tried before, touched a cold vector per
// rank). With `log`, every merge is recorded in order as its rank plus kLogFirst / kLogLast when
// it changed the first / last part (whose token then is that rank): what crosses() needs to check
// that two neighbouring chunks never merge across their boundary.
void BpeEncoder::merge_heap(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out,
                            std::vector<uint32_t>* log) const {
  if (n > 0xFFFFFFF0u) throw std::invalid_argument("a single pre-tokenized piece longer than 4 GiB");
  using Part = LongMerge::Part;
  std::vector<Part>& parts = m.parts;
  std::vector<uint64_t>& heap = m.heap;
  const uint32_t end = uint32_t(n);
  parts.resize(n);
  heap.clear();
  for (uint32_t i = 0; i < end; ++i) parts[i] = Part{byte_rank_[p[i]], kNone, i - 1, i + 1};
  for (uint32_t i = 0; i + 1 < end; ++i) {
    parts[i].pr = byte_pair_rank_[size_t(p[i]) << 8 | p[i + 1]];
    if (parts[i].pr != kNone) heap.push_back(uint64_t(parts[i].pr) << 32 | i);
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
  auto push = [&](uint32_t rank, uint32_t pos) {
    heap.push_back(uint64_t(rank) << 32 | pos);
    std::push_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
  };
  while (!heap.empty()) {
    const uint64_t top = pop_min(heap);
    const uint32_t rank = uint32_t(top >> 32);
    const uint32_t i = uint32_t(top);
    Part& part = parts[i];
    if (part.pr != rank) continue;  // stale
    const uint32_t j = part.next;
    part.tok = rank;
    part.next = parts[j].next;
    parts[j].pr = kDead;
    if (log != nullptr) log->push_back(rank | (i == 0 ? kLogFirst : 0) | (part.next == end ? kLogLast : 0));
    // Both lookups before either push: they are independent, so their cache misses overlap.
    part.pr = part.next < end ? pairs_.find(rank, parts[part.next].tok) : kNone;
    const uint32_t left_pr = i != 0 ? pairs_.find(parts[part.prev].tok, rank) : kNone;
    if (part.next < end) parts[part.next].prev = i;
    if (part.pr != kNone) push(part.pr, i);
    if (i != 0) {
      parts[part.prev].pr = left_pr;
      if (left_pr != kNone) push(left_pr, part.prev);
    }
  }
  for (uint32_t i = 0; i < end; i = parts[i].next) out.push_back(parts[i].tok);
}

// Replays, in the whole piece's (rank, position) order, the merges of two neighbouring chunks run
// on their own, and reports whether the pair across their boundary would ever have been merged.
// If it never would, the whole piece's merges at this boundary are exactly the two runs'.
// left_last / right_first: the boundary parts' tokens before any merge.
bool BpeEncoder::crosses(const std::vector<uint32_t>& left_log, uint32_t left_last,
                         const std::vector<uint32_t>& right_log, uint32_t right_first) const {
  size_t a = 0, b = 0;
  uint32_t cross = pairs_.find(left_last, right_first);
  for (;;) {
    const uint32_t next_left = a < left_log.size() ? (left_log[a] & kLogRank) : kNone;
    const uint32_t next_right = b < right_log.size() ? (right_log[b] & kLogRank) : kNone;
    // Positions order ties: left-chunk pairs < the boundary pair < right-chunk pairs.
    if (cross != kNone && cross < next_left && cross <= next_right) return true;
    if (next_left == kNone && next_right == kNone) return false;
    if (next_left <= next_right) {
      if (left_log[a] & kLogLast) {
        left_last = next_left;
        cross = pairs_.find(left_last, right_first);
      }
      ++a;
    } else {
      if (right_log[b] & kLogFirst) {
        right_first = next_right;
        cross = pairs_.find(left_last, right_first);
      }
      ++b;
    }
  }
}

// Long pieces. First, cut wherever the two bytes around a position stand next to each other in no
// token: no merge can ever join them, so the spans between such cuts merge independently, and
// exactly as they would inside the whole piece. (A long run of random letters falls apart into
// spans of a few bytes; runs of one character have no such cut.) Short spans take merge_small.
void BpeEncoder::merge_large(const unsigned char* p, size_t n, std::vector<uint32_t>& out) const {
  LongMerge& m = tls_long_merge;
  size_t start = 0;
  for (size_t c = 1; c < n; ++c) {
    if (!bigram_in_token(p[c - 1], p[c])) {
      merge_span(m, p + start, c - start, out);
      start = c;
    }
  }
  merge_span(m, p + start, n - start, out);
}

// One span without hard cuts, in cache-sized chunks of kChunk bytes, each merged on its own with a
// log; crosses() then replays both logs at each boundary to confirm that the pair across it would
// never have been merged; at the first boundary where it would, merge_groups takes the whole span
// over (it chooses its boundaries instead of trusting fixed ones). In ASCII, chunks start at
// multiples of kChunk, a power of two, which lines up with the pairwise merging of runs, so the
// check passes on runs of one character. Runs also repeat whole chunks: a chunk with the same bytes as one of the
// previous three reuses its tokens and log, and a boundary between two such repeats reuses the
// earlier boundary's verdict. Both are memoisation of deterministic functions: same output.
void BpeEncoder::merge_span(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out) const {
  constexpr size_t kRing = 4;  // the current chunk and the three before it
  if (n < kHeapSpan) {
    merge_small(p, n, out);
    return;
  }
  if (n < 2 * kChunk) {
    merge_heap(m, p, n, out, nullptr);
    return;
  }
  struct Chunk {
    size_t begin = 0;
    size_t size = 0;
    size_t out_begin = 0;
    size_t out_count = 0;
    std::shared_ptr<std::vector<uint32_t>> log;
    size_t repeats = 0;  // d > 0: same bytes as the chunk d places back; 0: merged here
  };
  Chunk ring[kRing];
  const size_t before = out.size();
  size_t k = 0;
  for (size_t begin = 0, size = 0; begin < n; begin += size, ++k) {
    // The last chunk takes the remainder rather than leaving a short one. Others end before a
    // character's first byte: a run of a multi-byte character then has no boundary inside one
    // (its bytes always merge there), and its chunks hold whole characters, so they repeat.
    size_t end = n - begin < 2 * kChunk ? n : begin + kChunk;
    for (size_t back = 0; back < 3 && end < n && (p[end] & 0xC0) == 0x80; ++back) --end;
    size = end - begin;
    Chunk& chunk = ring[k % kRing];
    chunk.begin = begin;
    chunk.size = size;
    chunk.out_begin = out.size();
    chunk.repeats = 0;
    for (size_t d = 1; d < kRing && d <= k; ++d) {
      const Chunk& earlier = ring[(k - d) % kRing];
      if (earlier.size == size && std::memcmp(p + earlier.begin, p + begin, size) == 0) {
        chunk.repeats = d;
        break;
      }
    }
    if (chunk.repeats != 0) {
      const Chunk& earlier = ring[(k - chunk.repeats) % kRing];
      out.reserve(out.size() + earlier.out_count);
      for (size_t t = 0; t < earlier.out_count; ++t) out.push_back(out[earlier.out_begin + t]);
      chunk.log = earlier.log;
    } else {
      chunk.log = std::make_shared<std::vector<uint32_t>>();
      merge_heap(m, p + begin, size, out, chunk.log.get());
    }
    chunk.out_count = out.size() - chunk.out_begin;
    if (k > 0) {
      const Chunk& left = ring[(k - 1) % kRing];
      // Both sides repeat chunks that sat side by side d places back: that boundary passed.
      const bool seen = chunk.repeats != 0 && left.repeats == chunk.repeats;
      if (!seen && crosses(*left.log, byte_rank_[p[begin - 1]], *chunk.log, byte_rank_[p[begin]])) {
        out.resize(before);
        merge_groups(m, p, n, out);
        return;
      }
    }
  }
}

// A token boundary near `at` (0 < at < n): the one closest to it among the boundaries of the 64
// bytes around it merged on their own. Near the middle of such a window the merges seldom depend
// on bytes outside it, so this is almost always a boundary of the whole span too; merge_groups
// checks that (crosses) rather than assuming it.
size_t BpeEncoder::boundary_near(const unsigned char* p, size_t n, size_t at) const {
  constexpr size_t kReach = 16;
  const size_t begin = at - std::min(at, kReach);
  const size_t end = std::min(n, at + kReach);
  uint32_t tok[kLargePiece];
  const size_t count = merge_small(p + begin, end - begin, tok);
  size_t best = at, best_distance = ~size_t(0);
  size_t pos = begin;
  for (size_t t = 0; t + 1 < count; ++t) {
    pos += size_t(decode_offset_[tok[t] + 1] - decode_offset_[tok[t]]);
    const size_t distance = pos > at ? pos - at : at - pos;
    if (distance < best_distance) {
      best = pos;
      best_distance = distance;
    }
  }
  return best;
}

// A long span whose fixed 4 KiB chunks merge across a boundary (random digits or letters, where
// nearly every pair of neighbours forms a token). Chunks of about kGroupChunk bytes end at
// boundary_near's guess; each is merged with a log, and crosses() confirms the boundary with the
// group before it. Where it does not, the two are merged again as one group, which is then checked
// against the group before it in turn; so the result is exactly the whole span's merge, and the
// time linear unless the guesses keep failing.
void BpeEncoder::merge_groups(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out) const {
  struct Group {
    size_t begin, end, out_begin;
    std::vector<uint32_t> log;
  };
  std::vector<Group> groups;
  for (size_t begin = 0; begin < n;) {
    const size_t end = n - begin < 2 * kGroupChunk ? n : boundary_near(p, n, begin + kGroupChunk);
    Group group{begin, end, out.size(), {}};
    merge_heap(m, p + begin, end - begin, out, &group.log);
    while (!groups.empty()) {
      const Group& left = groups.back();
      if (!crosses(left.log, byte_rank_[p[group.begin - 1]], group.log, byte_rank_[p[group.begin]])) break;
      group.begin = left.begin;
      group.out_begin = left.out_begin;
      groups.pop_back();
      out.resize(group.out_begin);
      group.log.clear();
      merge_heap(m, p + group.begin, group.end - group.begin, out, &group.log);
    }
    groups.push_back(std::move(group));
    begin = end;
  }
}

void BpeEncoder::merge_piece(std::string_view piece, std::vector<uint32_t>& out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  if (piece.size() < kHeapSpan) {
    merge_small(p, piece.size(), out);
  } else {
    merge_large(p, piece.size(), out);
  }
}

PieceCache& BpeEncoder::thread_cache() const {
  PieceCache& cache = tls_cache;
  if (cache.owner != instance_id_) cache.reset(instance_id_);
  return cache;
}

BpeEncoder::PieceCacheStats BpeEncoder::piece_cache_stats() const {
  const PieceCache& cache = tls_cache;
  PieceCacheStats stats;
  if (cache.owner != instance_id_) return stats;
  stats.size = cache.table.size();
  stats.capacity = cache.table.capacity();
  stats.evictions = cache.table.evictions();
  stats.spilled = cache.table.spilled();
  stats.huge_pages = cache.table.huge_pages();
  return stats;
}

void BpeEncoder::encode_piece(std::string_view piece, PieceCache& cache, std::vector<uint32_t>& out) const {
  const size_t n = piece.size();
  if (n == 0) return;
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  if (n == 1) {
    out.push_back(byte_rank_[p[0]]);
    return;
  }
  if (n > PieceTable::kMaxPieceBytes) {
    // Whole-piece lookup still pays for long tokens (GPT-2's longest is 128 bytes); anything longer
    // goes straight to the merge without hashing it.
    const uint32_t whole = n <= 128 ? ranks_.find(piece) : BytesMap::kMissing;
    if (whole != BytesMap::kMissing) {
      out.push_back(whole);
    } else {
      merge_piece(piece, out);
    }
    return;
  }
  uint32_t ids[PieceTable::kMaxPieceBytes + PieceTable::kInlineIds];
  out.insert(out.end(), ids, encode_cached(piece, BytesMap::probe(piece), cache, ids));
}

uint32_t* BpeEncoder::encode_uncached(std::string_view piece, const BytesMap::Probe& probe, PieceCache& cache,
                                      uint32_t* dst) const {
  // The thread's table missed (encode_cached). In a parallel call, the caller's frozen table next;
  // then the rank table, so the rank table is only read for a piece's first occurrence (it was a
  // third of the time when every piece probed it); then the merge. The result is cached.
  if (cache.frozen != nullptr) {
    if (uint32_t* end = cache.frozen->find_into(piece, probe, dst)) return end;
  }
  const uint32_t whole = ranks_.find(piece, probe);
  uint32_t* end = dst + 1;
  if (whole != BytesMap::kMissing) {
    *dst = whole;
  } else {
    end = dst + merge_small(reinterpret_cast<const unsigned char*>(piece.data()), piece.size(), dst);
  }
  cache.table.insert(piece, probe, dst, size_t(end - dst));
  return end;
}

namespace {

// Which call's cache a thread is serving (a thread takes part in one parallel call at a time).
struct CallSlot {
  uint64_t call = 0;
  PieceCache* cache = nullptr;
};
thread_local CallSlot tls_call;
std::atomic<uint64_t> next_call_id{1};

}  // namespace

ParallelCaches::ParallelCaches(const BpeEncoder& encoder)
    : caller_(encoder.thread_cache()), call_(next_call_id.fetch_add(1, std::memory_order_relaxed)) {}

PieceCache& ParallelCaches::for_this_thread() {
  CallSlot& slot = tls_call;
  if (slot.call == call_) return *slot.cache;
  auto cache = std::make_unique<PieceCache>();
  cache->owner = caller_.owner;
  cache->frozen = &caller_.table;
  slot = CallSlot{call_, cache.get()};
  const std::lock_guard<std::mutex> lock(mutex_);
  learned_.push_back(std::move(cache));
  return *learned_.back();
}

void ParallelCaches::finish() {
  for (const auto& cache : learned_) caller_.absorb(*cache);
  learned_.clear();
}

}  // namespace llmprep
