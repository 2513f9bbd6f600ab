// BytesMap and PairMap against std::unordered_map: every key length across the short/long slot
// split (7/8 bytes) and the inline/arena split (16/17 bytes), growth, clear, and the slack reads
// of find_with_slack at the very end of a buffer.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "llmprep/bpe.hpp"
#include "llmprep/bytes_map.hpp"
#include "test_util.hpp"

using llmprep::BytesMap;
using llmprep::PairMap;
using llmprep_test::ExactBuffer;

TEST_CASE("BytesMap: insert and find equal a std::unordered_map, every key length 1..40") {
  std::mt19937_64 rng(1);
  BytesMap map(4);  // small start: forces both tables to grow many times
  std::unordered_map<std::string, uint32_t> ref;
  for (uint32_t i = 0; i < 20000; ++i) {
    const size_t len = 1 + rng() % 40;
    // A small alphabet makes keys that share prefixes and collide in their first words.
    std::string key = llmprep_test::random_bytes(rng, len, i % 2 ? std::string_view("ab\0\xff", 4) : "");
    const bool fresh = ref.emplace(key, i).second;
    const ExactBuffer buf(key);
    CHECK(map.insert(buf.view(), i) == fresh);
  }
  CHECK(map.size() == ref.size());
  for (const auto& [key, value] : ref) {
    const ExactBuffer buf(key);  // exact size: any read past the key's end is caught
    CHECK(map.find(buf.view()) == value);
  }
  // Keys that are absent: prefixes and extensions of present keys, and the empty key.
  for (const auto& [key, value] : ref) {
    const std::string longer = key + "x";
    if (!ref.count(longer)) CHECK(map.find(ExactBuffer(longer).view()) == BytesMap::kMissing);
    const std::string shorter = key.substr(0, key.size() - 1);
    if (!shorter.empty() && !ref.count(shorter)) CHECK(map.find(ExactBuffer(shorter).view()) == BytesMap::kMissing);
    (void)value;
  }
}

TEST_CASE("BytesMap: find_with_slack reads at most 8 bytes from the key, even at a buffer's end") {
  std::mt19937_64 rng(2);
  BytesMap map;
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) {
    keys.push_back(llmprep_test::random_bytes(rng, 1 + rng() % 24));
    map.insert(keys.back(), uint32_t(i));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string& key = keys[i];
    const uint32_t want = map.find(key);
    // The key as the last bytes before exactly 8 - len bytes of slack: the contract's minimum.
    for (size_t slack = key.size() >= 8 ? 0 : 8 - key.size(); slack <= 9; ++slack) {
      std::string text = key + llmprep_test::random_bytes(rng, slack);
      const ExactBuffer buf(text);
      CHECK(map.find_with_slack(buf.view().substr(0, key.size())) == want);
    }
  }
  // A short key that is absent, with garbage after it that a wrong mask would let through.
  map.insert("ab", 7);
  const ExactBuffer buf(std::string("abXXXXXX"));
  CHECK(map.find_with_slack(buf.view().substr(0, 2)) == 7);
  CHECK(map.find_with_slack(buf.view().substr(0, 3)) == BytesMap::kMissing);
}

TEST_CASE("BytesMap: probe_padded gives probe's words and hash for every key length 0..80") {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 20; ++round) {
    const std::string bytes = llmprep_test::random_bytes(rng, 96);
    for (size_t len = 0; len <= 80; ++len) {
      // The key at the start of a buffer with 16 or more readable bytes after it begins.
      const ExactBuffer buffer(std::string_view(bytes).substr(0, std::max<size_t>(len, 16)));
      const auto* p = reinterpret_cast<const unsigned char*>(buffer.view().data());
      const BytesMap::Probe want = BytesMap::probe(buffer.view().substr(0, len));
      const BytesMap::Probe got = BytesMap::probe_padded(p, len);
      INFO("length " << len);
      CHECK(got.w0 == want.w0);
      CHECK(got.w1 == want.w1);
      CHECK(got.hash == want.hash);
    }
  }
}

TEST_CASE("BytesMap: clear empties the map and it can be filled again") {
  BytesMap map(2);
  for (int round = 0; round < 3; ++round) {
    for (uint32_t i = 0; i < 500; ++i) CHECK(map.insert(std::to_string(i * 7919u) + "-key", i));
    CHECK(map.size() == 500);
    CHECK(map.find("0-key") == 0);
    map.clear();
    CHECK(map.size() == 0);
    CHECK(map.find("0-key") == BytesMap::kMissing);
  }
}

TEST_CASE("PairMap: every built pair is found, absent pairs are missing, oversized ranks are refused") {
  std::mt19937_64 rng(3);
  std::vector<std::pair<uint64_t, uint32_t>> pairs;
  std::set<uint64_t> keys;
  while (pairs.size() < 50000) {
    const uint64_t a = rng() % 4096, b = rng() % 4096;
    const uint64_t key = (a << 20) | b;
    if (!keys.insert(key).second) continue;
    pairs.emplace_back(key, uint32_t(rng() % (PairMap::kMaxRank + 1)));
  }
  PairMap map;
  map.build(pairs);
  for (const auto& [key, rank] : pairs) CHECK(map.find(uint32_t(key >> 20), uint32_t(key & PairMap::kMaxRank)) == rank);
  // The two-step lookup gives the same answers; the Bloom filter in front never hides a pair (it
  // is consulted for all of the above) and turns most absent ones away before the table.
  for (const auto& [key, rank] : pairs) {
    const PairMap::Lookup lookup = map.locate(uint32_t(key >> 20), uint32_t(key & PairMap::kMaxRank));
    map.prefetch(lookup);
    CHECK(map.find(lookup) == rank);
  }
  int absent = 0, filtered = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t a = rng() % 8192, b = rng() % 8192;
    if (keys.count((a << 20) | b)) continue;
    ++absent;
    CHECK(map.find(uint32_t(a), uint32_t(b)) == PairMap::kMissing);
    const PairMap::Lookup lookup = map.locate(uint32_t(a), uint32_t(b));
    filtered += map.ruled_out(lookup);
    CHECK(map.find(lookup) == PairMap::kMissing);
  }
  CHECK(absent > 10000);
  CHECK(filtered > absent * 8 / 10);
  PairMap bad;
  CHECK_THROWS_AS(bad.build({{1, PairMap::kMaxRank + 1}}), std::invalid_argument);
}

TEST_CASE("PairMap: probes that run past the last slot and past the two slots find() reads at once") {
  // Four pairs whose home is the last of 16 slots (a map of up to 8 pairs has 16): they sit in
  // slots 15, 0, 1 and 2, so their lookups take the copy of slot 0 kept after the table and, for
  // the last two, the probing loop.
  std::vector<uint64_t> last_slot;
  for (uint64_t key = 1; last_slot.size() < 4; ++key) {
    PairMap one;
    one.build({{key, 7}});
    if (one.locate(uint32_t(key >> 20), uint32_t(key & PairMap::kMaxRank)).slot == 15) last_slot.push_back(key);
  }
  std::vector<std::pair<uint64_t, uint32_t>> pairs;
  for (size_t k = 0; k < last_slot.size(); ++k) pairs.emplace_back(last_slot[k], uint32_t(100 + k));
  PairMap map;
  map.build(pairs);
  for (const auto& [key, rank] : pairs) {
    const uint32_t a = uint32_t(key >> 20), b = uint32_t(key & PairMap::kMaxRank);
    CHECK(map.find(a, b) == rank);
    CHECK(map.find(map.locate(a, b)) == rank);
  }
  for (uint64_t key = 1; key < 5000; ++key) {
    if (std::find(last_slot.begin(), last_slot.end(), key) != last_slot.end()) continue;
    const uint32_t a = uint32_t(key >> 20), b = uint32_t(key & PairMap::kMaxRank);
    CHECK(map.find(a, b) == PairMap::kMissing);
    CHECK(map.find(map.locate(a, b)) == PairMap::kMissing);
  }
}
