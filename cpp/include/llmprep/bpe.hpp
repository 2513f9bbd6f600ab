// Byte-level BPE as tiktoken runs it (rank of a byte string = its id = its merge priority), with a
// pre-tokenizer in front (GPT-2, cl100k_base or o200k_base), special-token splitting, decoding, and parallel encoding
// of one large text or of many texts. Results never depend on the thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmprep/bytes_map.hpp"
#include "llmprep/pretokenize.hpp"

namespace llmprep {

// `yes` if `c`, else `no`, computed with a mask rather than a branch. Where which way it goes is a
// coin toss, a mispredicted branch costs more than both sides; GCC turns a plain ?: (and even this
// mask select) back into a jump unless the mask is hidden from it.
template <typename T>
inline T select_no_branch(bool c, T yes, T no) noexcept {
  T mask = T(0) - T(c);
#if defined(__GNUC__)
  asm("" : "+r"(mask));
#endif
  return no ^ ((no ^ yes) & mask);
}

// The rank of the concatenation of two adjacent tokens, keyed by the two ranks: one 64-bit word per
// slot. Because every part during a tiktoken-style merge is itself a token, "rank of bytes(a)+bytes(b)"
// equals this table's answer for (a, b), so merging never hashes byte strings.
class PairMap {
 public:
  static constexpr uint32_t kMissing = 0xFFFFFFFFu;
  static constexpr uint32_t kMaxRank = (1u << 20) - 1;  // ranks are packed in 20 bits

  // Each entry: (a << 20 | b, rank of the concatenation). Throws std::invalid_argument for a rank
  // above kMaxRank.
  void build(const std::vector<std::pair<uint64_t, uint32_t>>& pairs);
  // One lookup, answered at once: pairs the filter rules out take one well-predicted branch
  // (merge_small asks about pairs one after another, where that measured faster than find(locate)).
  uint32_t find(uint32_t a, uint32_t b) const noexcept {
    const uint64_t key = (uint64_t(a) << 20) | b;
    return may_hold(key) ? find_from(hash(key), key) : kMissing;
  }

  // The same lookup in two steps, so that the slot can be prefetched long before it is read (the
  // table is 2-8 MiB: a cold slot is an L3 or memory access). Most pairs a long piece's merge asks
  // about are not tokens (83% on random letters): a Bloom filter of ~5 bits per pair (256 KiB for
  // o200k_base, so it stays in L2) answers most of those without touching the table.
  //
  // No branch on the answer: which way it goes is a coin toss for a long piece's merge, and the
  // mispredictions were a quarter of that merge's. A pair the filter rules out gets the slot of an
  // always-empty entry past the table (one hot cache line), and find() reads two slots and picks
  // the answer with selects; a third probe (both slots hold other pairs) takes the loop.
  struct Lookup {
    uint64_t key;
    size_t slot;  // the pair's home slot, or no_slot_ when the filter rules it out
  };
  Lookup locate(uint32_t a, uint32_t b) const noexcept {
    const uint64_t key = (uint64_t(a) << 20) | b;
    const size_t keep = size_t(0) - size_t(may_hold(key));
    return Lookup{key, (hash(key) & mask_ & keep) | (no_slot_ & ~keep)};
  }
  void prefetch(const Lookup& lookup) const noexcept { __builtin_prefetch(slots_.data() + lookup.slot); }
  // Whether the filter ruled the pair out (tests).
  bool ruled_out(const Lookup& lookup) const noexcept { return lookup.slot == no_slot_; }
  uint32_t find(const Lookup& lookup) const noexcept {
    const uint64_t first = slots_[lookup.slot], second = slots_[lookup.slot + 1];
    const bool hit1 = (first >> 20) == lookup.key, empty1 = first == kEmpty;
    const bool hit2 = (second >> 20) == lookup.key, empty2 = second == kEmpty;
    if (!(hit1 | empty1 | hit2 | empty2)) return find_from(lookup.slot + 2, lookup.key);
    const uint32_t rank2 = hit2 & !empty1 ? uint32_t(second & kMaxRank) : kMissing;
    return hit1 ? uint32_t(first & kMaxRank) : rank2;
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  // Linear probing from slot i on (the slow path of find).
  uint32_t find_from(size_t i, uint64_t key) const noexcept {
    for (i &= mask_;; i = (i + 1) & mask_) {
      const uint64_t slot = slots_[i];
      if (slot == kEmpty) return kMissing;
      if ((slot >> 20) == key) return uint32_t(slot & kMaxRank);
    }
  }
  static size_t hash(uint64_t key) noexcept {
    key *= 0x9E3779B97F4A7C15ull;
    return size_t(key >> 24);
  }
  // The filter: blocks of 512 bits (one cache line); a key sets two bits of one block.
  struct FilterBits {
    size_t word1, word2;
    unsigned shift1, shift2;
  };
  FilterBits filter_bits(uint64_t key) const noexcept {
    const uint64_t h = (key ^ (key >> 29)) * 0xD6E8FEB86659FD93ull;
    const size_t block = size_t(h & filter_mask_) << 3;
    const unsigned bit1 = unsigned(h >> 46) & 511, bit2 = unsigned(h >> 55) & 511;
    return FilterBits{block + (bit1 >> 6), block + (bit2 >> 6), bit1 & 63, bit2 & 63};
  }
  bool may_hold(uint64_t key) const noexcept {
    const FilterBits bits = filter_bits(key);
    return ((filter_[bits.word1] >> bits.shift1) & (filter_[bits.word2] >> bits.shift2) & 1) != 0;
  }
  size_t mask_ = 0;
  // capacity slots, then a copy of slot 0 (where a probe at the last slot continues), then two
  // empty slots at no_slot_ for pairs the filter rules out.
  std::vector<uint64_t> slots_;
  size_t no_slot_ = 0;
  size_t filter_mask_ = 0;  // blocks - 1
  std::vector<uint64_t> filter_;
};

// The first occurrence of `needle` in text at or after `from` (npos if none).
size_t find_bytes(std::string_view text, std::string_view needle, size_t from);
// The leftmost occurrence of any needle (the longest on ties): (position, needle index), or
// (npos, 0) when none occurs. Finds disallowed special tokens for the Python policy.
std::pair<size_t, size_t> find_first_needle(std::string_view text, const std::vector<std::string_view>& needles);

// One piece of text between allowed special tokens, or one special token.
struct EncodeSegment;
// The calling thread's cache of merge results (defined in bpe.cpp).
struct PieceCache;
// A long piece's merge arrays, and one span of it to merge (defined in bpe.cpp).
struct LongMerge;
struct MergeJob;

class BpeEncoder {
 public:
  // mergeable: (bytes, rank) for every ordinary token; all 256 single bytes must be present and ranks
  // must be unique and below 2^20. special: (text, id) for special tokens, ids distinct from ranks.
  // pattern: the pre-tokenizer every encoding call runs. Throws std::invalid_argument naming what is
  // wrong.
  BpeEncoder(const std::vector<std::pair<std::string, uint32_t>>& mergeable,
             const std::vector<std::pair<std::string, uint32_t>>& special, Pattern pattern = Pattern::kGpt2);
  ~BpeEncoder();
  BpeEncoder(const BpeEncoder&) = delete;
  BpeEncoder& operator=(const BpeEncoder&) = delete;

  uint32_t max_token_value() const noexcept { return max_token_value_; }
  Pattern pattern() const noexcept { return pattern_; }
  size_t n_mergeable() const noexcept { return n_mergeable_; }
  // The rank of an ordinary token's bytes, or BytesMap::kMissing if they are not one token.
  uint32_t rank_of(std::string_view bytes) const noexcept { return ranks_.find(bytes); }

  // BPE of one pre-tokenized piece (any bytes), appended to out. Uses the calling thread's cache.
  void encode_piece(std::string_view piece, std::vector<uint32_t>& out) const {
    encode_piece(piece, thread_cache(), out);
  }
  // The same with the thread's cache fetched by the caller (a thread_local in a shared library
  // costs a call per access: fetch it once per text).
  void encode_piece(std::string_view piece, PieceCache& cache, std::vector<uint32_t>& out) const;
  // The calling thread's piece cache, emptied first if it last served another encoder.
  PieceCache& thread_cache() const;
  // The calling thread's piece cache as this encoder sees it (tests): entries, table slots, evictions
  // at the cap, spilled entries, whether the table is on huge pages. All zero if the cache serves
  // another encoder.
  struct PieceCacheStats {
    size_t size = 0, capacity = 0, evictions = 0, spilled = 0;
    bool huge_pages = false;
  };
  PieceCacheStats piece_cache_stats() const;
  // BPE of one piece without the whole-piece lookup or the cache: the merge loop itself (tests).
  void merge_piece(std::string_view piece, std::vector<uint32_t>& out) const;

  // Pre-tokenization (the encoder's pattern) + BPE of valid UTF-8 `text`, one thread, appended to out.
  void encode_ordinary_serial(std::string_view text, std::vector<uint32_t>& out) const;

  // As tiktoken's encode with the given special-token ids allowed (an empty list: encode_ordinary).
  // One large text is cut at safe points and encoded on up to num_threads threads
  // (<= 0: the default); the result is the same for every thread count. task_bytes > 0 forces the
  // cut-and-join path with tasks of about that size (tests use tiny ones); 0 chooses by size.
  std::vector<uint32_t> encode(std::string_view text, const std::vector<uint32_t>& allowed_special, int num_threads,
                               size_t task_bytes = 0) const;
  // Many texts at once, in parallel; result[i] == encode(texts[i], allowed_special, 1).
  std::vector<std::vector<uint32_t>> encode_batch(const std::vector<std::string_view>& texts,
                                                  const std::vector<uint32_t>& allowed_special, int num_threads,
                                                  size_t task_bytes = 0) const;
  // Receives encode_batch's ids on the calling thread, in order: ids[k] holds the ids of text
  // first + k, for k < count; the sink may move them out. If `open`, the last of them
  // (first + count - 1) is unfinished: ids[count - 1] is only its next part, and the following
  // call starts with the same text and its next part (the last part comes with open false).
  using BatchSink = std::function<void(size_t first, std::vector<uint32_t>* ids, size_t count, bool open)>;
  // The same, handing the texts to `sink` in order as soon as they are done, and a text cut into
  // several tasks part by part, while other threads still encode later ones (so that converting
  // results, e.g. into Python lists, overlaps the encoding). Every text reaches the sink, whole or
  // in parts, unless an exception is thrown.
  void encode_batch(const std::vector<std::string_view>& texts, const std::vector<uint32_t>& allowed_special,
                    int num_threads, size_t task_bytes, const BatchSink& sink) const;

  // The bytes of the given ids, concatenated. Throws KeyError naming the first unknown id.
  std::string decode_bytes(const uint32_t* ids, size_t n) const;
  // Same for 64-bit ids as Python hands them over (negative or huge ids are unknown ids).
  std::string decode_bytes(const int64_t* ids, size_t n) const;
  // The bytes of one token id, or KeyError.
  std::string_view token_bytes(int64_t id) const;

 private:
  void encode_ordinary_serial(std::string_view text, PieceCache& cache, std::vector<uint32_t>& out) const;
  // Encodes tasks[t] into results[t]; consume(begin, end) runs on the calling thread for finished
  // tasks in order (see parallel_tasks_ordered).
  void run_tasks(const std::vector<EncodeSegment>& tasks, int threads, std::vector<std::vector<uint32_t>>& results,
                 const std::function<void(int64_t, int64_t)>& consume) const;
  // A piece of 1..PieceTable::kMaxPieceBytes bytes with its probe: the thread's cache (inline, in
  // bpe_text.cpp's loop), else encode_uncached: the caller's frozen table in a parallel call, the
  // rank table or the merge, whose result is then cached. Writes the ids at dst (room for
  // piece.size() + PieceTable::kInlineIds) and returns their end.
  inline uint32_t* encode_cached(std::string_view piece, const BytesMap::Probe& probe, PieceCache& cache,
                                 uint32_t* dst) const;
  uint32_t* encode_uncached(std::string_view piece, const BytesMap::Probe& probe, PieceCache& cache,
                            uint32_t* dst) const;
  // tiktoken's quadratic merge of a short piece (< 128 bytes) into tok (room for n ids); returns the
  // number of ids.
  size_t merge_small(const unsigned char* p, size_t n, uint32_t* tok) const;
  // merge_small of a span (1 <= n < 128) written at dst, which has room for max(n, 2) ids; returns
  // the end of its ids.
  uint32_t* merge_short(const unsigned char* p, size_t n, uint32_t* dst) const;
  void merge_large(const unsigned char* p, size_t n, std::vector<uint32_t>& out) const;
  void merge_span(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out) const;
  void merge_groups(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out) const;
  size_t boundary_near(const unsigned char* p, size_t n, size_t at) const;
  void merge_jobs(LongMerge& m, const unsigned char* p, MergeJob* jobs, size_t count, std::vector<uint32_t>& out) const;
  void merge_heap(LongMerge& m, const unsigned char* p, size_t n, std::vector<uint32_t>& out,
                  std::vector<uint32_t>* log) const;
  bool crosses(const std::vector<uint32_t>& left_log, uint32_t left_last, const std::vector<uint32_t>& right_log,
               uint32_t right_first) const;
  void split_special(std::string_view text, const std::vector<uint32_t>& allowed,
                     std::vector<EncodeSegment>& segments) const;
  void encode_segments(const std::vector<EncodeSegment>& segments, int num_threads, size_t task_bytes,
                       std::vector<uint32_t>& out) const;
  // The pair table's entries: every split of every token into two tokens (the constructor's).
  std::vector<std::pair<uint64_t, uint32_t>> token_pairs(
      const std::vector<std::pair<std::string, uint32_t>>& mergeable) const;

  uint64_t instance_id_;  // keys the per-thread piece caches to this encoder
  Pattern pattern_ = Pattern::kGpt2;
  uint32_t max_token_value_ = 0;
  size_t n_mergeable_ = 0;
  uint32_t byte_rank_[256];
  BytesMap ranks_;
  PairMap pairs_;
  std::vector<std::pair<std::string, uint32_t>> special_;  // (text, id)
  // Bit (a << 8 | b): bytes a, b stand next to each other in some token. When they do not, no
  // merge can ever join them, so a long piece can be cut between them.
  std::vector<uint64_t> bigrams_;
  // The rank of every two-byte token by its bytes (a << 8 | b), else kMissing: a merge's first
  // lookups are all byte + byte, and this table is 256 KiB where the pair table is 2-8 MiB.
  std::vector<uint32_t> byte_pair_rank_;
  bool bigram_in_token(unsigned char a, unsigned char b) const noexcept {
    const unsigned key = (unsigned(a) << 8) | b;
    return (bigrams_[key >> 6] >> (key & 63)) & 1;
  }
  // Calls f(span_begin, span_end) for the spans of p[begin, end) between such cuts, in order; a
  // run of one-byte spans that fills a 64-position block goes to singles(run_begin, run_end) at
  // once instead (each byte of the run is a span of its own).
  template <typename F, typename G>
  void for_each_span(const unsigned char* p, size_t begin, size_t end, F&& f, G&& singles) const {
    if (begin >= end) return;
    size_t start = begin;
    size_t c = begin + 1;
    // 64 positions at a time, the cuts gathered into a mask and visited by their bits: a branch per
    // position on whether it is a cut was a coin toss where spans are a byte or two long.
    for (; c + 64 <= end; c += 64) {
      uint64_t cuts = 0;
      for (unsigned k = 0; k < 64; ++k) cuts |= uint64_t(!bigram_in_token(p[c + k - 1], p[c + k])) << k;
      if (cuts == ~uint64_t(0)) {
        // Every position a cut (a run of spaces in GPT-2, whose vocabulary has no two-space
        // token): the open span ends at c, bytes c..c+62 stand alone, and c+63 opens the next.
        f(start, c);
        singles(c, c + 63);
        start = c + 63;
        continue;
      }
      for (; cuts != 0; cuts &= cuts - 1) {
        const size_t at = c + size_t(__builtin_ctzll(cuts));
        f(start, at);
        start = at;
      }
    }
    for (; c < end; ++c) {
      if (!bigram_in_token(p[c - 1], p[c])) {
        f(start, c);
        start = c;
      }
    }
    f(start, end);
  }
  // The ids of one-byte spans p[begin, end) written at dst (their bytes' ranks); returns their end.
  uint32_t* singles_at(const unsigned char* p, size_t begin, size_t end, uint32_t* dst) const noexcept {
    for (size_t i = begin; i < end; ++i) *dst++ = byte_rank_[p[i]];
    return dst;
  }
  // id -> bytes for decoding: token id's bytes are decode_arena_[decode_offset_[id], decode_offset_[id+1]),
  // and decode_known_[id] says whether the id exists at all (ranks may have gaps).
  std::string decode_arena_;
  std::vector<uint64_t> decode_offset_;
  std::vector<uint8_t> decode_known_;
};

// Tests only: locks (hold) or unlocks the mutex of the process's kept learned piece caches (bpe.cpp's
// LearnedPool), from the same thread, so that a test can fork while it is held, as a fork landing
// while another thread hands a table back would.
void hold_learned_caches_lock(bool hold);

}  // namespace llmprep
