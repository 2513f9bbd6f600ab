// TokenJoiner against a plain reference (a loop over chunks and document ends): random batches with
// empty chunks and empty documents, chunks fed in parts, both id types, and the faults it reports.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "llmprep/token_join.hpp"

using llmprep::TokenJoiner;

namespace {

struct Joined {
  std::vector<uint32_t> ids;
  std::vector<uint64_t> ends;
};

// The reference: documents ending before chunk k are closed first, then chunk k's ids follow.
Joined reference(const std::vector<std::vector<uint32_t>>& chunks, const std::vector<size_t>& doc_ends,
                 std::optional<uint32_t> eot) {
  Joined out;
  size_t d = 0;
  for (size_t k = 0; k <= chunks.size(); ++k) {
    for (; d < doc_ends.size() && doc_ends[d] == k; ++d) {
      if (eot) out.ids.push_back(*eot);
      out.ends.push_back(out.ids.size());
    }
    if (k < chunks.size()) out.ids.insert(out.ids.end(), chunks[k].begin(), chunks[k].end());
  }
  return out;
}

template <class T>
Joined join(const std::vector<std::vector<uint32_t>>& chunks, const std::vector<size_t>& doc_ends,
            std::optional<uint32_t> eot, std::mt19937_64& rng) {
  // Half the time into a recycled block: stale contents that must not show, a capacity that may or
  // may not suffice.
  std::vector<T> storage;
  if (rng() % 2) storage.assign(rng() % 200, T(0xBEEF));
  TokenJoiner<T> joiner(doc_ends, chunks.size(), eot, rng() % 2 ? 0 : 1000, std::move(storage));
  for (const auto& chunk : chunks) {
    // In random parts, as the encoder hands over a chunk cut into several tasks.
    size_t at = 0;
    while (at < chunk.size()) {
      const size_t n = 1 + rng() % (chunk.size() - at);
      joiner.append(chunk.data() + at, n);
      at += n;
    }
    if (rng() % 4 == 0) joiner.append(chunk.data(), 0);
    joiner.end_chunk();
  }
  Joined out;
  for (T id : joiner.take_ids()) out.ids.push_back(id);
  out.ends = joiner.take_ends();
  return out;
}

}  // namespace

TEST_CASE("TokenJoiner equals the reference on random batches, both id types, with and without an eot") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::vector<uint32_t>> chunks(rng() % 6);
    for (auto& chunk : chunks) {
      chunk.resize(rng() % 3 == 0 ? 0 : rng() % 50);
      for (auto& id : chunk) id = uint32_t(rng() % 65536);
    }
    std::vector<size_t> doc_ends(rng() % 5);
    for (auto& e : doc_ends) e = rng() % (chunks.size() + 1);
    std::sort(doc_ends.begin(), doc_ends.end());
    const std::optional<uint32_t> eot = rng() % 2 ? std::optional<uint32_t>(50256) : std::nullopt;
    const Joined want = reference(chunks, doc_ends, eot);
    const Joined got16 = join<uint16_t>(chunks, doc_ends, eot, rng);
    const Joined got32 = join<uint32_t>(chunks, doc_ends, eot, rng);
    CHECK(got16.ids == want.ids);
    CHECK(got16.ends == want.ends);
    CHECK(got32.ids == want.ids);
    CHECK(got32.ends == want.ends);
  }
}

TEST_CASE("TokenJoiner keeps ids above 65535 in uint32 and names the first one that does not fit uint16") {
  const std::vector<uint32_t> ids = {5, 65535, 65536, 199999};
  TokenJoiner<uint32_t> wide({1}, 1, std::nullopt);
  wide.append(ids.data(), ids.size());
  wide.end_chunk();
  CHECK(wide.take_ids() == ids);

  TokenJoiner<uint16_t> narrow({1}, 1, std::nullopt);
  narrow.append(ids.data(), 2);  // 5 and 65535 fit
  try {
    narrow.append(ids.data() + 2, 2);
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("token id 65536 does not fit in uint16 (max 65535)") == 0);
  }
  CHECK_THROWS_AS(TokenJoiner<uint16_t>({0}, 0, uint32_t(100000)), std::invalid_argument);  // the eot itself
}

TEST_CASE("TokenJoiner writes into the block it is given, and keeps nothing of a part that does not fit") {
  std::vector<uint16_t> block(4096, 0xBEEF);
  const uint16_t* const memory = block.data();
  const std::vector<uint32_t> ids = {1, 2, 3};
  TokenJoiner<uint16_t> joiner({1}, 1, uint32_t(9), 100, std::move(block));
  joiner.append(ids.data(), ids.size());
  const std::vector<uint32_t> bad = {4, 70000, 5};
  CHECK_THROWS_AS(joiner.append(bad.data(), bad.size()), std::invalid_argument);
  joiner.end_chunk();
  const std::vector<uint16_t> got = joiner.take_ids();
  CHECK(got == std::vector<uint16_t>{1, 2, 3, 9});
  CHECK(got.data() == memory);  // the same memory: no fresh pages
}

TEST_CASE("TokenJoiner rejects document ends that decrease or pass the last chunk, and misuse") {
  CHECK_THROWS_AS(TokenJoiner<uint16_t>({2, 1}, 3, std::nullopt), std::invalid_argument);
  CHECK_THROWS_AS(TokenJoiner<uint16_t>({4}, 3, std::nullopt), std::invalid_argument);
  TokenJoiner<uint32_t> joiner({1}, 1, uint32_t(0));
  CHECK_THROWS_AS(joiner.take_ids(), std::logic_error);  // before the chunk ended
  joiner.end_chunk();
  const uint32_t id = 1;
  CHECK_THROWS_AS(joiner.append(&id, 1), std::logic_error);
  CHECK_THROWS_AS(joiner.end_chunk(), std::logic_error);
  CHECK(joiner.take_ids() == std::vector<uint32_t>{0});
}
