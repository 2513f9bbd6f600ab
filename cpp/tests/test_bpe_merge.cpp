// The BPE merge (short pieces: the quadratic scan; long pieces: cuts, 4 KiB chunks, heap merge,
// boundary checks, reuse of repeated chunks, regrouped chunks) against the plainest quadratic reference merge,
// on synthetic vocabularies whose tokens are random concatenations of earlier tokens.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "llmprep/bpe.hpp"
#include "test_util.hpp"

namespace {

using llmprep_test::RankList;
using llmprep_test::synthetic_vocab;

// tiktoken's merge rule, written the slow obvious way: repeatedly join the adjacent pair whose
// concatenation has the lowest rank (the leftmost on ties) until no pair is a token. Ranks of
// adjacent pairs are kept in an array and refreshed around each merge, so a 10 KB piece stays
// affordable; each step still scans every pair (quadratic).
std::vector<uint32_t> reference_merge(std::string_view piece, const std::unordered_map<std::string, uint32_t>& ranks) {
  constexpr uint32_t kNone = 0xFFFFFFFFu;
  std::vector<size_t> starts;  // part i is piece[starts[i], starts[i + 1])
  for (size_t i = 0; i <= piece.size(); ++i) starts.push_back(i);
  auto rank_of = [&](size_t begin, size_t end) {
    auto it = ranks.find(std::string(piece.substr(begin, end - begin)));
    return it == ranks.end() ? kNone : it->second;
  };
  std::vector<uint32_t> pair_rank;  // pair_rank[i]: rank of parts i and i + 1 joined
  for (size_t i = 0; i + 2 < starts.size(); ++i) pair_rank.push_back(rank_of(starts[i], starts[i + 2]));
  for (;;) {
    size_t best = kNone;
    for (size_t i = 0; i < pair_rank.size(); ++i) {
      if (pair_rank[i] != kNone && (best == kNone || pair_rank[i] < pair_rank[best])) best = i;
    }
    if (best == kNone) break;
    starts.erase(starts.begin() + std::ptrdiff_t(best) + 1);
    pair_rank.erase(pair_rank.begin() + std::ptrdiff_t(best));
    if (best < pair_rank.size()) pair_rank[best] = rank_of(starts[best], starts[best + 2]);
    if (best > 0) pair_rank[best - 1] = rank_of(starts[best - 1], starts[best + 1]);
  }
  std::vector<uint32_t> out;
  for (size_t i = 0; i + 1 < starts.size(); ++i) out.push_back(rank_of(starts[i], starts[i + 1]));
  return out;
}

void check_piece(const llmprep::BpeEncoder& enc, const std::unordered_map<std::string, uint32_t>& ranks,
                 const std::string& piece) {
  const std::vector<uint32_t> want = reference_merge(piece, ranks);
  const llmprep_test::ExactBuffer buf(piece);
  std::vector<uint32_t> got;
  enc.merge_piece(buf.view(), got);
  CHECK_MESSAGE(got == want, "piece of ", piece.size(), " bytes");
  std::vector<uint32_t> cached;
  enc.encode_piece(buf.view(), cached);  // whole-piece lookup and the piece cache in front
  CHECK(cached == want);
  enc.encode_piece(buf.view(), cached);  // a second time: now from the cache
  CHECK(std::vector<uint32_t>(cached.begin() + std::ptrdiff_t(want.size()), cached.end()) == want);
}

// A long piece of spans each followed by \x01 (rank 1, in no token, so cut on both sides), with the
// ids the quadratic reference gives span by span: on the whole piece it would take minutes.
struct SpanPiece {
  std::string bytes;
  std::vector<uint32_t> want;
  void add(const std::string& span, const std::unordered_map<std::string, uint32_t>& ranks) {
    const std::vector<uint32_t> span_want = reference_merge(span, ranks);
    want.insert(want.end(), span_want.begin(), span_want.end());
    want.push_back(1);
    bytes += span;
    bytes += '\x01';
  }
  std::vector<uint32_t> merged(const llmprep::BpeEncoder& enc) const {
    const llmprep_test::ExactBuffer buf(bytes);
    std::vector<uint32_t> got;
    enc.merge_piece(buf.view(), got);
    return got;
  }
};

}  // namespace

TEST_CASE("short and long pieces merge exactly as the quadratic reference") {
  struct Case {
    uint64_t seed;
    const char* alphabet;
    size_t merges;
  };
  for (const Case& c : {Case{7, "ab", 300}, Case{8, "abcd", 2000}, Case{9, "0123456789", 1500}}) {
    const RankList vocab = synthetic_vocab(c.seed, c.alphabet, c.merges);
    std::unordered_map<std::string, uint32_t> ranks(vocab.begin(), vocab.end());
    const llmprep::BpeEncoder enc(vocab, {});
    std::mt19937_64 rng(c.seed * 31);
    const std::string alphabet = c.alphabet;
    // Short pieces (the scan), around kLargePiece (128), long ones that span several 4 KiB chunks,
    // and one whose fixed chunks merge across their boundaries, so merge_groups regroups it.
    for (size_t n : {1, 2, 3, 5, 17, 64, 127, 128, 129, 200, 1000, 4095, 4096, 4097, 9000, 17000}) {
      check_piece(enc, ranks, llmprep_test::random_bytes(rng, n, alphabet));
    }
    // Repetition (equal chunks reuse their tokens and boundary verdicts), and a byte that never
    // stands next to another in a token, so the long piece is cut there.
    const std::string unit = llmprep_test::random_bytes(rng, 1000, alphabet);
    std::string repeated;
    while (repeated.size() < 12000) repeated += unit;
    check_piece(enc, ranks, repeated);
    check_piece(enc, ranks, std::string(10000, alphabet[0]));
    std::string cut;
    for (int i = 0; i < 40; ++i) cut += llmprep_test::random_bytes(rng, 1 + rng() % 300, alphabet) + "\x01";
    check_piece(enc, ranks, cut);
    // Many spans merged side by side (merge_jobs' lanes, several batches), of every size class:
    // single bytes, the scan's, the heap's, and ones long enough for merge_span between them. The
    // reference runs per span (no token holds \x01, so no merge crosses one; `cut` above checks that
    // against the whole-piece reference): quadratic in the whole piece, it would take minutes.
    SpanPiece mixed;
    for (int i = 0; i < 160; ++i) {
      const size_t sizes[] = {1, 2, 7, 31, 32, 33, 100, 511, 2000, 9000};
      const size_t n = i % 40 == 39 ? sizes[9] : sizes[rng() % 9] + rng() % 3;
      mixed.add(llmprep_test::random_bytes(rng, n, alphabet), ranks);
    }
    CHECK(mixed.merged(enc) == mixed.want);
  }
}

TEST_CASE("every token's bytes merge as the reference: the pair table holds every split of every token") {
  // The pair table is built from batches of cuts (token_pairs): a lost batch, or a lost last
  // partial batch, drops the pairs of some tokens, which then never form by merging. Merged
  // without the whole-piece lookup (merge_piece), every token's own bytes need its splits.
  for (const size_t merges : {size_t(5), size_t(777)}) {  // a last batch of a few cuts, and many batches
    const RankList vocab = synthetic_vocab(merges, "abc", merges);
    const std::unordered_map<std::string, uint32_t> ranks(vocab.begin(), vocab.end());
    const llmprep::BpeEncoder enc(vocab, {});
    size_t whole = 0;
    for (const auto& [bytes, rank] : vocab) {
      const llmprep_test::ExactBuffer buf(bytes);
      std::vector<uint32_t> got;
      enc.merge_piece(buf.view(), got);
      const std::vector<uint32_t> want = reference_merge(bytes, ranks);
      CHECK_MESSAGE(got == want, "token of rank ", rank);
      whole += bytes.size() > 1 && want.size() == 1;
    }
    CHECK(whole * 6 >= merges);  // many do: the check reaches their pairs
  }
}

TEST_CASE(
    "long pieces of short spans: every cut position in a 64-byte block, more ids than one pending block, whole blocks "
    "of cuts") {
  // merge_large visits cuts 64 positions at a time by the bits of a mask, merges spans of one to
  // a few bytes at once into a pending block of ids (4096) appended in order, and short spans after
  // a heap span as that span's tail.
  const RankList vocab = synthetic_vocab(11, "abcd", 2000);
  std::unordered_map<std::string, uint32_t> ranks(vocab.begin(), vocab.end());
  const llmprep::BpeEncoder enc(vocab, {});
  std::mt19937_64 rng(1234);
  for (size_t shift = 0; shift <= 65; ++shift) {
    SpanPiece piece{std::string(shift, '\x01'), std::vector<uint32_t>(shift, 1)};
    const size_t spans = shift % 8 == 0 ? 9000 : 300;
    for (size_t i = 0; i < spans; ++i) {
      const size_t sizes[] = {1, 1, 2, 2, 3, 4, 5, 0};
      size_t n = sizes[rng() % 8];
      if (rng() % 200 == 0) n = 32 + rng() % 40;  // now and then a heap span, whose tail follows
      piece.add(llmprep_test::random_bytes(rng, n, "abcd"), ranks);
    }
    CHECK_MESSAGE(piece.merged(enc) == piece.want, "shift " << shift);
  }
  // Runs of one-byte spans long enough to fill 64-position blocks of cuts (taken a block at a time),
  // at every shift of the block grid, starting and ending anywhere in a block, after short spans,
  // pending blocks of ids and heap spans (whose tails they then are).
  for (size_t shift = 0; shift <= 65; ++shift) {
    SpanPiece piece{std::string(shift, '\x01'), std::vector<uint32_t>(shift, 1)};
    for (size_t i = 0; i < 120; ++i) {
      const size_t run = rng() % 3 == 0 ? 60 + rng() % 140 : rng() % 4;  // "\x01" after each empty span
      for (size_t k = 0; k < run; ++k) piece.add("", ranks);
      size_t n = 1 + rng() % 5;
      if (rng() % 4 == 0) n = 32 + rng() % 40;  // a heap span
      piece.add(llmprep_test::random_bytes(rng, n, "abcd"), ranks);
    }
    CHECK_MESSAGE(piece.merged(enc) == piece.want, "shift " << shift);
  }
  // Spans of three and four bytes have unrolled merges (merge_short): every one over the alphabet.
  SpanPiece every;
  for (size_t n = 3; n <= 4; ++n) {
    for (size_t code = 0; code < (n == 3 ? 64u : 256u); ++code) {
      std::string span;
      for (size_t i = 0, c = code; i < n; ++i, c /= 4) span += "abcd"[c % 4];
      every.add(span, ranks);
    }
  }
  CHECK(every.merged(enc) == every.want);
}
