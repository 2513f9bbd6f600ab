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
//   are adjacent in no token; spans under 32 bytes are merged at once (merge_short: one to four
//   bytes unrolled, longer ones the scan); spans up to 8 KiB several at a time (merge_jobs), longer
//   ones in 4 KiB chunks, each chunk boundary confirmed by replaying both merge logs, repeated chunks
//   reused; where a boundary fails (random digits or letters), in ~512-byte chunks that end at a
//   likely token boundary, regrouped where the check fails (merge_groups): O(n log chunk) in the
//   piece length. Every heap merge keeps only the pairs that are local minima in its heap.
// * The piece cache is thread_local (no locks), fetched once per text; in a parallel call every
//   thread also reads the calling thread's cache, frozen for the call, so new workers do not start cold.
#include "llmprep/bpe.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "bpe_cached.hpp"
#include "llmprep/errors.hpp"
#include "llmprep/piece_cache.hpp"
#include "per_process.hpp"

namespace llmprep {

namespace {

constexpr size_t kLargePiece = 128;    // merge_small's limit
constexpr size_t kHeapSpan = 32;       // pieces and spans this long or longer use merge_heap
constexpr size_t kChunk = 4096;        // the long-piece merge's chunk size
constexpr size_t kGroupChunk = 512;    // ... and merge_groups' (a smaller heap)
constexpr size_t kBatchBytes = 16384;  // merge_large hands merge_jobs spans of about this many bytes
constexpr size_t kTailBytes = 256;     // ... and short spans after the last of them up to this many
constexpr size_t kPendingIds = 4096;   // merge_large appends short spans' ids this many at a time
constexpr size_t kPendingRoom = 64;    // ... and adds at most this many at once (one short span, or a block)
static_assert(kPendingRoom >= kHeapSpan && kPendingRoom >= 63, "room for a short span's ids or a block of singles");
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

// A min-heap of 64-bit keys with four children per node. A pop walks half as many levels
// as in a binary heap, and a level's four loads (one 32-byte run) do not depend on each other; the
// pop was most of the long-piece merge's time once its pair lookups were prefetched. The hole
// left at the root goes down to a leaf along the least children, chosen without branches (which
// child is least is a coin toss), and the last key goes up from there, usually not far. Slots
// past the end hold the largest key, so four children are read without a bounds check.
class QuadHeap {
 public:
  // Empties the heap, with room for `reserve` keys appended without a check.
  void clear(size_t reserve = 0) {
    keys_.assign(reserve + kPad, kMax);
    size_ = 0;
  }
  bool empty() const noexcept { return size_ == 0; }
  // Adds a key without ordering: make() orders all of them.
  void append(uint64_t key) {
    if (size_ + kPad >= keys_.size()) keys_.push_back(kMax);
    keys_[size_++] = key;
  }
  // Adds the key if `keep`, without a branch (room reserved by clear()); make() orders them.
  void append_if(uint64_t key, bool keep) noexcept {
    keys_[size_] = key;
    size_ += size_t(keep);
  }
  void make() noexcept {
    keys_[size_] = kMax;  // append_if's last write, if not kept
    for (size_t i = size_ > 1 ? (size_ - 2) / 4 + 1 : 0; i-- > 0;) sift_down(i, keys_[i]);
  }
  void push(uint64_t key) {
    append(key);
    sift_up(size_ - 1, key);
  }
  // push(key) if `keep`, else nothing, without a branch on keep (a coin toss for the merge's
  // neighbour checks): otherwise the root goes through the same sift, which leaves it in place.
  void push_if(uint64_t key, bool keep) {
    if (size_ + kPad >= keys_.size()) keys_.push_back(kMax);
    keys_[size_] = keep ? key : kMax;
    size_ += size_t(keep);
    const size_t hole = keep ? size_ - 1 : 0;
    sift_up(hole, keys_[hole]);
  }
  uint64_t pop() noexcept {
    uint64_t* h = keys_.data();
    const uint64_t top = h[0];
    const uint64_t last = h[--size_];
    h[size_] = kMax;
    if (size_ == 0) return top;
    size_t hole = 0;
    for (size_t c = 1; c < size_; c = 4 * hole + 1) {
      const size_t least = least_child(c);
      h[hole] = h[least];
      hole = least;
    }
    sift_up(hole, last);
    return top;
  }

 private:
  static constexpr uint64_t kMax = ~uint64_t(0);
  static constexpr size_t kPad = 4;
  // The least of the four children from c on, by arithmetic rather than a branch.
  size_t least_child(size_t c) const noexcept {
    const uint64_t* h = keys_.data();
    const size_t a = c + size_t(h[c + 1] < h[c]);
    const size_t b = c + 2 + size_t(h[c + 3] < h[c + 2]);
    return select_no_branch(h[b] < h[a], b, a);
  }
  void sift_down(size_t hole, uint64_t key) noexcept {
    uint64_t* h = keys_.data();
    for (size_t c = 4 * hole + 1; c < size_; c = 4 * hole + 1) {
      const size_t least = least_child(c);
      if (h[least] >= key) break;
      h[hole] = h[least];
      hole = least;
    }
    h[hole] = key;
  }
  void sift_up(size_t hole, uint64_t key) noexcept {
    uint64_t* h = keys_.data();
    while (hole > 0) {
      const size_t parent = (hole - 1) / 4;
      if (h[parent] <= key) break;
      h[hole] = h[parent];
      hole = parent;
    }
    h[hole] = key;
  }
  std::vector<uint64_t> keys_ = std::vector<uint64_t>(kPad, kMax);
  size_t size_ = 0;
};

constexpr size_t kLanes = 8;  // spans merge_jobs merges at once

// Whether a pair of rank `rank` between pairs `left` and `right` is a local minimum: less than the
// pair on its left, not more than the one on its right (ties go to the leftmost, as in tiktoken);
// kNone / kDead ranks are no pair. Computed without branches: which way it goes is a coin toss.
inline bool local_minimum(uint32_t left, uint32_t rank, uint32_t right) noexcept {
  return (int(rank < kDead) & int(left > rank) & int(right >= rank)) != 0;
}

// One span of a long piece for merge_jobs: bytes [begin, end) of the text it is given, merged on
// their own; the merges are recorded in *log if log is set (see merge_heap); out_begin / out_end:
// where merge_jobs put its tokens.
struct MergeJob {
  size_t begin = 0, end = 0;
  std::vector<uint32_t>* log = nullptr;
  size_t out_begin = 0, out_end = 0;
  // Bytes [end, tail_end): short spans (under kHeapSpan bytes between cuts where no merge can
  // join two bytes) that follow this one, merged with merge_small when the tokens are read out.
  size_t tail_end = 0;
};

// Per-thread arrays of merge_jobs, kept between calls (a batch's fit in L1/L2), fetched once per piece.
struct LongMerge {
  struct Part {
    uint32_t tok;
    uint32_t pr;  // rank of this part + the next one; kNone; or kDead once absorbed
    uint32_t prev;
    uint32_t next;
  };
  std::vector<Part> parts;        // the parts of every span of a batch
  QuadHeap heaps[kLanes];         // (rank << 32 | position)
  std::vector<MergeJob> jobs;     // merge_large's batch of spans
  std::vector<uint32_t> pending;  // merge_large's ids of short spans not yet appended to its output
};

namespace {
thread_local LongMerge tls_long_merge;
}  // namespace

// ---------------------------------------------------------------------------------------------
// PairMap

void PairMap::build(const std::vector<std::pair<uint64_t, uint32_t>>& pairs) {
  size_t capacity = 16;
  while (capacity < pairs.size() * 2) capacity *= 2;
  slots_.assign(capacity + 3, kEmpty);
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
  slots_[capacity] = slots_[0];
  no_slot_ = capacity + 1;
  size_t blocks = 1;
  while (blocks * 512 < pairs.size() * 5) blocks *= 2;
  filter_.assign(blocks * 8, 0);
  filter_mask_ = blocks - 1;
  for (const auto& entry : pairs) {
    const FilterBits bits = filter_bits(entry.first);
    filter_[bits.word1] |= uint64_t(1) << bits.shift1;
    filter_[bits.word2] |= uint64_t(1) << bits.shift2;
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

  pairs_.build(token_pairs(mergeable));

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

// Every split of every token into two tokens, as ((left << 20) | right, rank of the whole). Both
// halves of every cut are looked up in the rank table (~1.2M cuts for o200k_base, at random in a
// table of several MiB): a batch of cuts is hashed and its slots prefetched before any is looked
// up, so that the cache misses overlap (one after another they were ~40% of building an encoder,
// and building one is most of get_encoding).
std::vector<std::pair<uint64_t, uint32_t>> BpeEncoder::token_pairs(
    const std::vector<std::pair<std::string, uint32_t>>& mergeable) const {
  struct Cut {
    std::string_view left, right;
    uint32_t rank;
    BytesMap::Probe left_probe, right_probe;
  };
  constexpr size_t kBatch = 64;
  Cut batch[kBatch];
  size_t n = 0;
  std::vector<std::pair<uint64_t, uint32_t>> pairs;
  pairs.reserve(mergeable.size() * 3);
  auto resolve = [&] {
    for (size_t k = 0; k < n; ++k) {
      const Cut& c = batch[k];
      const uint32_t left = ranks_.find(c.left, c.left_probe);
      if (left == BytesMap::kMissing) continue;
      const uint32_t right = ranks_.find(c.right, c.right_probe);
      if (right != BytesMap::kMissing) pairs.emplace_back((uint64_t(left) << 20) | right, c.rank);
    }
    n = 0;
  };
  for (const auto& [bytes, rank] : mergeable) {
    const std::string_view token(bytes);
    for (size_t at = 1; at < token.size(); ++at) {
      Cut& c = batch[n++];
      c.left = token.substr(0, at);
      c.right = token.substr(at);
      c.rank = rank;
      c.left_probe = BytesMap::probe(c.left);
      c.right_probe = BytesMap::probe(c.right);
      ranks_.prefetch(c.left_probe, c.left.size());
      ranks_.prefetch(c.right_probe, c.right.size());
      if (n == kBatch) resolve();
    }
  }
  resolve();
  return pairs;
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

uint32_t* BpeEncoder::merge_short(const unsigned char* p, size_t n, uint32_t* dst) const {
  // Spans of three and four bytes (a third of the bytes of random mixed-case letters or marks in
  // GPT-2) unrolled: merge_small's loops and its shift cost more than their one to three merges.
  // Three parts x y z, pair ranks pxy and pyz: the lesser pair merges (the left one on a tie), then
  // the two parts left merge if they make a token; selects where which way it goes is a coin toss.
  auto three = [&](uint32_t x, uint32_t y, uint32_t z, uint32_t pxy, uint32_t pyz) {
    const bool left = pxy <= pyz;
    const uint32_t best = select_no_branch(left, pxy, pyz);
    if (best == kNone) {
      dst[0] = x;
      dst[1] = y;
      dst[2] = z;
      return dst + 3;
    }
    const uint32_t u = select_no_branch(left, best, x), v = select_no_branch(left, z, best);
    const uint32_t whole = pairs_.find(u, v);
    const bool joined = whole != kNone;
    dst[0] = select_no_branch(joined, whole, u);
    dst[1] = v;
    return dst + 2 - size_t(joined);
  };
  auto pair_rank = [&](size_t i) { return byte_pair_rank_[size_t(p[i]) << 8 | p[i + 1]]; };
  if (n == 3) return three(byte_rank_[p[0]], byte_rank_[p[1]], byte_rank_[p[2]], pair_rank(0), pair_rank(1));
  if (n == 4) {
    const uint32_t a = byte_rank_[p[0]], b = byte_rank_[p[1]], c = byte_rank_[p[2]], d = byte_rank_[p[3]];
    const uint32_t p0 = pair_rank(0), p1 = pair_rank(1), p2 = pair_rank(2);
    const uint32_t best = std::min(p0, std::min(p1, p2));
    if (best == kNone) {
      dst[0] = a;
      dst[1] = b;
      dst[2] = c;
      dst[3] = d;
      return dst + 4;
    }
    if (p0 == best) return three(best, c, d, pairs_.find(best, c), p2);  // the leftmost least
    if (p1 == best) return three(a, best, d, pairs_.find(a, best), pairs_.find(best, d));
    return three(a, b, best, p0, pairs_.find(b, best));
  }
  if (n > 2) return dst + merge_small(p, n, dst);
  // One byte, or two as one token or two, without a branch on which: between a long piece's cuts
  // they alternate at random on mixed-case letters or punctuation.
  const unsigned a = p[0], b = p[n - 1];
  const uint32_t pair = byte_pair_rank_[a << 8 | b];
  const bool joined = (n == 2) & (pair != kNone);
  dst[0] = select_no_branch(joined, pair, byte_rank_[a]);
  dst[1] = byte_rank_[b];
  return dst + 1 + size_t((n == 2) & !joined);
}

// tiktoken's loop: repeatedly merge the adjacent pair whose concatenation has the lowest rank
// (leftmost on ties). Parts live in a small array; a merge shifts the tail left by one.
size_t BpeEncoder::merge_small(const unsigned char* p, size_t n, uint32_t* tok) const {
  uint32_t pr[kLargePiece];  // pr[i]: rank of tok[i] + tok[i + 1], kNone if not a token
  size_t m = n;
  for (size_t i = 0; i < m; ++i) tok[i] = byte_rank_[p[i]];
  for (size_t i = 0; i + 1 < m; ++i) pr[i] = byte_pair_rank_[size_t(p[i]) << 8 | p[i + 1]];
  while (m > 1) {
    uint32_t best = kNone;
    size_t at = 0;
    for (size_t i = 0; i + 1 < m; ++i) {  // as selects, not a branch: the least is anywhere
      const bool less = pr[i] < best;
      best = less ? pr[i] : best;
      at = less ? i : at;
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
// different ranks, so a stale entry never matches). Callers pass spans of at most a few KiB, so
// the parts and the heaps stay in L1/L2 (per-rank buckets, tried before, touched a cold vector per
// rank). With a log, every merge is recorded in order as its rank plus kLogFirst / kLogLast when
// it changed the first / last part (whose token then is that rank): what crosses() needs to check
// that two neighbouring chunks never merge across their boundary.
//
// Each merge asks the pair table (2-8 MiB) for the two new pairs, and the next merge waits for
// them through the heap: one span alone waits on one cache miss after another (~40% of the time on
// random letters with a heap of every pair; ~8% on o200k's since the heap holds local minima
// only). So up to kLanes spans are merged at once, one merge of each in turn: a merge prefetches
// its two pair slots and reads them at its span's next turn, while the other spans' merges run.
// Each span's merges happen in the same order as alone.
void BpeEncoder::merge_jobs(LongMerge& m, const unsigned char* p, MergeJob* jobs, size_t count,
                            std::vector<uint32_t>& out) const {
  using Part = LongMerge::Part;
  if (count == 0) return;
  const size_t base = jobs[0].begin;
  const size_t total = jobs[count - 1].end - base;
  if (total > 0xFFFFFFF0u) throw std::invalid_argument("a single pre-tokenized piece longer than 4 GiB");
  const unsigned char* q = p + base;
  std::vector<Part>& parts = m.parts;
  parts.resize(total + 1);  // filled per span by start(): short spans never touch theirs; + padding

  struct Lane {
    uint32_t begin, end;   // the span's parts
    uint32_t merged;       // the part merged last, whose pair lookups are in flight; kNone: none
    uint32_t absorbed_pr;  // the pair rank of the part that merge absorbed
    PairMap::Lookup right, left;
    QuadHeap* heap;
    std::vector<uint32_t>* log;
  };
  // Whether part x's pair is a local minimum. The least pair of a span, the one to merge next,
  // is always one.
  auto local_min = [&](const Lane& lane, uint32_t x) {
    const uint32_t rank = parts[x].pr;
    if (rank >= kDead) return false;  // no pair: x's next part may lie past the span
    return local_minimum(x != lane.begin ? parts[parts[x].prev].pr : kNone, rank, parts[parts[x].next].pr);
  };
  // Takes jobs from `next` on until one has a pair to merge (a span without any is already its
  // bytes); false when none is left.
  size_t next = 0;
  auto start = [&](Lane& lane) {
    while (next < count) {
      const MergeJob& job = jobs[next];
      const uint32_t begin = uint32_t(job.begin - base), end = uint32_t(job.end - base);
      ++next;
      if (end - begin < 2) {
        parts[begin] = Part{byte_rank_[q[begin]], kNone, begin - 1, end};
        continue;
      }
      QuadHeap& heap = *lane.heap;
      heap.clear(end - begin);
      // The parts and the local minima in one pass, without branches on the ranks (a coin toss
      // each: one misprediction per few bytes was most of this loop's time).
      uint32_t left = kNone, pr = byte_pair_rank_[size_t(q[begin]) << 8 | q[begin + 1]];
      for (uint32_t i = begin; i + 1 < end; ++i) {
        const uint32_t right = i + 2 < end ? byte_pair_rank_[size_t(q[i + 1]) << 8 | q[i + 2]] : kNone;
        parts[i] = Part{byte_rank_[q[i]], pr, i - 1, i + 1};
        heap.append_if(uint64_t(pr) << 32 | i, local_minimum(left, pr, right));
        left = pr;
        pr = right;
      }
      parts[end - 1] = Part{byte_rank_[q[end - 1]], kNone, end - 2, end};
      lane.begin = begin;
      lane.end = end;
      if (heap.empty()) continue;
      heap.make();
      lane.merged = kNone;
      lane.log = job.log;
      return true;
    }
    return false;
  };
  auto push = [](QuadHeap& heap, uint32_t rank, uint32_t pos) { heap.push(uint64_t(rank) << 32 | pos); };
  // One merge of the lane's span, after reading the pair ranks its previous merge asked for; false
  // when the span has nothing left to merge.
  //
  // A heap of every pair spent most of its pops on entries gone stale, in unpredictable branches,
  // and was three times deeper than needed: only local minima can be the least pair, so the heap
  // holds an entry for every pair that is a local minimum (and old entries, which are skipped: a
  // popped entry whose rank is its part's current pair rank is the least pair of the span). A merge
  // at i changes the pairs at i and at its left neighbour `prev`, so only four parts can become
  // local minima: those two, the part left of prev, and the part right of i (whose left neighbour
  // is now i's pair instead of the absorbed part's).
  auto step = [&](Lane& lane) {
    QuadHeap& heap = *lane.heap;
    if (lane.merged != kNone) {
      const uint32_t i = lane.merged;
      Part& part = parts[i];
      const uint32_t prev = part.prev, next = part.next;
      part.pr = next < lane.end ? pairs_.find(lane.right) : kNone;
      const uint32_t old_left = i != lane.begin ? parts[prev].pr : kNone;
      if (i != lane.begin) parts[prev].pr = pairs_.find(lane.left);
      if (local_min(lane, i)) push(heap, part.pr, i);
      // The two checks below read through indices chosen with selects (the last part of a batch
      // has a padding part after it), so that only the push depends on their outcome.
      {
        // The pair left of next's went from the absorbed part's (lane.absorbed_pr) to i's: it
        // became a local minimum if it is one now and that old neighbour did not exceed it.
        const bool has_next = next < lane.end;
        const uint32_t at = has_next ? next : i;
        const uint32_t rank = parts[at].pr;
        const bool keep =
            has_next & (rank >= lane.absorbed_pr) & local_minimum(part.pr, rank, parts[parts[at].next].pr);
        heap.push_if(uint64_t(rank) << 32 | at, keep);
      }
      if (i != lane.begin) {
        if (local_min(lane, prev)) push(heap, parts[prev].pr, prev);
        // The pair right of pp's went from old_left to prev's new one (likewise).
        const bool has_pp = prev != lane.begin;
        const uint32_t pp = has_pp ? parts[prev].prev : prev;
        const uint32_t rank = parts[pp].pr;
        const uint32_t left = has_pp & (pp != lane.begin) ? parts[parts[pp].prev].pr : kNone;
        const bool keep = has_pp & (rank > old_left) & local_minimum(left, rank, parts[prev].pr);
        heap.push_if(uint64_t(rank) << 32 | pp, keep);
      }
    }
    while (!heap.empty()) {
      const uint64_t top = heap.pop();
      const uint32_t rank = uint32_t(top >> 32);
      const uint32_t i = uint32_t(top);
      Part& part = parts[i];
      if (part.pr != rank) continue;  // stale
      const uint32_t j = part.next;
      part.tok = rank;
      part.next = parts[j].next;
      lane.absorbed_pr = parts[j].pr;
      parts[j].pr = kDead;
      if (lane.log != nullptr) {
        lane.log->push_back(rank | (i == lane.begin ? kLogFirst : 0) | (part.next == lane.end ? kLogLast : 0));
      }
      if (part.next < lane.end) {
        parts[part.next].prev = i;
        lane.right = pairs_.locate(rank, parts[part.next].tok);
        pairs_.prefetch(lane.right);
      }
      if (i != lane.begin) {
        lane.left = pairs_.locate(parts[part.prev].tok, rank);
        pairs_.prefetch(lane.left);
      }
      lane.merged = i;
      return true;
    }
    return false;
  };

  Lane lanes[kLanes];
  size_t active = 0;
  for (size_t k = 0; k < kLanes; ++k) {
    lanes[k].heap = &m.heaps[k];
    if (start(lanes[k])) lanes[active++] = lanes[k];
  }
  while (active > 0) {
    for (size_t k = 0; k < active;) {
      if (step(lanes[k]) || start(lanes[k])) {
        ++k;
      } else {
        std::swap(lanes[k], lanes[--active]);  // keeps its heap: every lane owns one
      }
    }
  }
  for (size_t t = 0; t < count; ++t) {
    MergeJob& job = jobs[t];
    job.out_begin = out.size();
    const uint32_t end = uint32_t(job.end - base);
    for (uint32_t i = uint32_t(job.begin - base); i < end; i = parts[i].next) out.push_back(parts[i].tok);
    if (job.tail_end > job.end) {
      const size_t at = out.size();
      // At most one id per byte, + 1: merge_short writes a second id after a one-byte span too.
      out.resize(at + (job.tail_end - job.end) + 1);
      uint32_t* dst = out.data() + at;
      for_each_span(
          p, job.end, job.tail_end, [&](size_t begin, size_t end) { dst = merge_short(p + begin, end - begin, dst); },
          [&](size_t begin, size_t end) { dst = singles_at(p, begin, end, dst); });
      out.resize(size_t(dst - out.data()));
    }
    job.out_end = out.size();
  }
}

void BpeEncoder::merge_heap(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out,
                            std::vector<uint32_t>* log) const {
  MergeJob job{0, n, log};
  merge_jobs(m, p, &job, 1, out);
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
// spans of a few bytes to a few hundred; runs of one character have no such cut.) Spans go to
// merge_jobs in batches of about kBatchBytes, so that their merges overlap; a span of 2 * kChunk
// bytes or more takes merge_span.
void BpeEncoder::merge_large(const unsigned char* p, size_t n, std::vector<uint32_t>& out) const {
  LongMerge& m = tls_long_merge;
  std::vector<MergeJob>& jobs = m.jobs;
  jobs.clear();
  // Ids of short spans merged at once go to a buffer first, appended to out in blocks: on random
  // punctuation or mixed-case letters most spans are one or two bytes, and a push_back per id, a
  // branch per span length and a call per span were most of the time.
  if (m.pending.size() < kPendingIds + kPendingRoom) m.pending.resize(kPendingIds + kPendingRoom);
  uint32_t* const pending = m.pending.data();
  uint32_t* pend = pending;
  auto drain = [&] {
    out.insert(out.end(), pending, pend);
    pend = pending;
  };
  auto flush = [&] {
    drain();
    merge_jobs(m, p, jobs.data(), jobs.size(), out);
    jobs.clear();
  };
  auto span = [&](size_t begin, size_t end) {
    if (end - begin >= 2 * kChunk) {
      flush();
      merge_span(m, p + begin, end - begin, out);
      return;
    }
    // A short span is merged at once, or after the batch's last span (its tail): a job each cost
    // ~10% on random punctuation, and a run of spaces in GPT-2 is a million one-byte spans. Where
    // short spans are most of the text, the batch is run early rather than scanned twice.
    const size_t n = end - begin;
    if (n < kHeapSpan) {
      if (!jobs.empty() && end - jobs.back().end > kTailBytes) flush();
      if (!jobs.empty()) {
        jobs.back().tail_end = end;
        return;
      }
      pend = merge_short(p + begin, n, pend);
      if (pend - pending >= ptrdiff_t(kPendingIds)) drain();
      return;
    }
    drain();
    jobs.push_back(MergeJob{begin, end});
    jobs.back().tail_end = end;
    if (end - jobs.front().begin >= kBatchBytes) flush();
  };
  // A run of one-byte spans (a 64-position block of cuts): their bytes' ranks, unless they are a
  // batch's tail.
  auto singles = [&](size_t begin, size_t end) {
    if (!jobs.empty()) {
      for (size_t i = begin; i < end; ++i) span(i, i + 1);
      return;
    }
    pend = singles_at(p, begin, end, pend);
    if (pend - pending >= ptrdiff_t(kPendingIds)) drain();
  };
  for_each_span(p, 0, n, span, singles);
  flush();
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
  constexpr size_t kRing = 4;  // the current chunk and the three before it (n >= 2 * kChunk)
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
      // resize, not reserve(size + count): an exact reserve per chunk reallocated and copied the
      // whole output at every chunk (quadratic; 1 MB of one repeated digit took 13 ns/B, not 1).
      const size_t at = out.size();
      out.resize(at + earlier.out_count);
      std::copy_n(out.begin() + ptrdiff_t(earlier.out_begin), earlier.out_count, out.begin() + ptrdiff_t(at));
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
// time linear unless the guesses keep failing. (Merging several groups side by side, as
// merge_large does with its spans, was 7% slower here: eight 512-byte groups' parts overflow L1.)
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
  if (piece.empty()) return;  // merge_short takes one byte or more
  if (piece.size() < kHeapSpan) {
    uint32_t tok[kHeapSpan];
    out.insert(out.end(), tok, merge_short(p, piece.size(), tok));
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

// The learned caches of finished parallel calls, kept for the next call's threads. A fresh one
// starts at the initial size and doubles as the thread learns (a memset, fresh pages and a rehash
// each time), in every call: measured on novel text, two threads spent ~10% more CPU than with kept
// tables cleared in place (docs/performance.md, "Two threads on novel text"). Clearing costs a
// memset of the whole table, so a call takes only a table no larger than the bytes each of its
// threads will read, or of the initial size (small calls start small as before). Tables past kKeepBytes are freed, and
// at most kKeep kept. One per process (per_process.hpp: a forked child starts with none).
class LearnedPool {
 public:
  // A cleared cache of at most max_bytes of table, or a new one. Runs on the thread that will use
  // it, so the threads of a call clear theirs in parallel.
  std::unique_ptr<PieceCache> take(size_t max_bytes) {
    // A fresh table is allocated (and zeroed) at the initial size on the first insert anyway.
    max_bytes = std::max(max_bytes, PieceTable::kInitialEntries * PieceTable::kEntryBytes);
    std::unique_ptr<PieceCache> cache;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      size_t best = free_.size();  // the largest that fits
      for (size_t k = 0; k < free_.size(); ++k) {
        const size_t bytes = table_bytes(*free_[k]);
        if (bytes <= max_bytes && (best == free_.size() || bytes > table_bytes(*free_[best]))) best = k;
      }
      if (best < free_.size()) {
        cache = std::move(free_[best]);
        free_.erase(free_.begin() + std::ptrdiff_t(best));
      }
    }
    if (cache == nullptr) return std::make_unique<PieceCache>();
    cache->table.clear();
    return cache;
  }
  void give(std::unique_ptr<PieceCache> cache) noexcept {
    if (table_bytes(*cache) == 0 || table_bytes(*cache) > kKeepBytes) return;
    cache->frozen = nullptr;
    const std::lock_guard<std::mutex> lock(mutex_);
    if (free_.size() >= kKeep) return;
    try {
      free_.push_back(std::move(cache));
    } catch (...) {  // no room to keep it: freed
    }
  }
  std::mutex& mutex_for_tests() noexcept { return mutex_; }

 private:
  static size_t table_bytes(const PieceCache& cache) noexcept {
    return cache.table.capacity() * PieceTable::kEntryBytes;
  }
  static constexpr size_t kKeep = 8;
  static constexpr size_t kKeepBytes = size_t(8) << 20;
  std::mutex mutex_;
  std::vector<std::unique_ptr<PieceCache>> free_;
};

}  // namespace

ParallelCaches::ParallelCaches(const BpeEncoder& encoder, size_t bytes_per_thread)
    : caller_(encoder.thread_cache()),
      call_(next_call_id.fetch_add(1, std::memory_order_relaxed)),
      bytes_per_thread_(bytes_per_thread) {}

PieceCache& ParallelCaches::for_this_thread() {
  CallSlot& slot = tls_call;
  if (slot.call == call_) return *slot.cache;
  std::unique_ptr<PieceCache> cache = PerProcess<LearnedPool>::get().take(bytes_per_thread_);
  cache->owner = caller_.owner;
  cache->frozen = &caller_.table;
  slot = CallSlot{call_, cache.get()};
  const std::lock_guard<std::mutex> lock(mutex_);
  learned_.push_back(std::move(cache));
  return *learned_.back();
}

void hold_learned_caches_lock(bool hold) {
  std::mutex& mutex = PerProcess<LearnedPool>::get().mutex_for_tests();
  if (hold) {
    mutex.lock();
  } else {
    mutex.unlock();
  }
}

void ParallelCaches::finish() {
  for (auto& cache : learned_) {
    caller_.absorb(*cache);
    PerProcess<LearnedPool>::get().give(std::move(cache));
  }
  learned_.clear();
}

}  // namespace llmprep
