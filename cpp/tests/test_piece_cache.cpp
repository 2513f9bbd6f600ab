// PieceTable against std::unordered_map: every piece length 1..64 across the inline/arena key split
// (15/16 bytes) and every id count across the inline/spilled split (4/5 ids), keys that share words and
// collide, growth, eviction at the cap, failed allocations, huge pages on and off, for_each.
#include <doctest/doctest.h>

#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "llmprep/bytes_map.hpp"
#include "llmprep/piece_cache.hpp"
#include "test_util.hpp"

using llmprep::BytesMap;
using llmprep::PieceTable;
using llmprep_test::ExactBuffer;

namespace {

// Restores the process-wide settings a test changes.
struct Settings {
  size_t cap = PieceTable::max_table_bytes();
  bool huge = PieceTable::huge_pages_enabled();
  ~Settings() {
    PieceTable::set_max_table_bytes(cap);
    PieceTable::set_huge_pages_enabled(huge);
    PieceTable::fail_next_allocations(0);
  }
};

std::vector<uint32_t> ids_for(uint32_t i, size_t count) {
  std::vector<uint32_t> ids(count);
  for (size_t k = 0; k < count; ++k) ids[k] = (i * 7919u + uint32_t(k)) & 0xFFFFF;  // ranks < 2^20
  return ids;
}

std::vector<uint32_t> lookup(const PieceTable& table, const std::string& key, bool& found) {
  const ExactBuffer buf(key);      // exact size: any read past the key's end is caught
  std::vector<uint32_t> out{123};  // find appends
  found = table.find(buf.view(), BytesMap::probe(buf.view()), out);
  return std::vector<uint32_t>(out.begin() + 1, out.end());
}

void insert(PieceTable& table, const std::string& key, const std::vector<uint32_t>& ids) {
  const ExactBuffer buf(key);
  table.insert(buf.view(), BytesMap::probe(buf.view()), ids.data(), ids.size());
}

}  // namespace

TEST_CASE("PieceTable: every length 1..64 and id count 1..9, inline and spilled, equal a std::unordered_map") {
  PieceTable table;
  CHECK(table.capacity() == 0);  // nothing allocated before the first insert
  std::mt19937_64 rng(7);
  std::unordered_map<std::string, std::vector<uint32_t>> ref;
  for (uint32_t i = 0; i < 30000; ++i) {
    const size_t len = 1 + i % PieceTable::kMaxPieceBytes;
    const size_t count = 1 + (i / 64) % 9;
    // A small alphabet (with NUL and 0xFF) makes keys that share words and collide in the hash.
    std::string key = llmprep_test::random_bytes(rng, len, i % 2 ? std::string_view("ab\0\xff", 4) : "");
    if (ref.count(key)) continue;
    ref[key] = ids_for(i, count);
    insert(table, key, ref[key]);
  }
  CHECK(table.size() == ref.size());
  CHECK(table.capacity() > PieceTable::kInitialEntries);  // grew
  CHECK(table.size() * 4 <= table.capacity() * 3);
  CHECK(table.spilled() > 0);
  for (const auto& [key, ids] : ref) {
    bool found = false;
    CHECK(lookup(table, key, found) == ids);
    CHECK(found);
  }
  // Absent: extensions and truncations of present keys, the same bytes with another length.
  size_t checked = 0;
  for (const auto& [key, ids] : ref) {
    if (++checked > 3000) break;
    for (const std::string& other : {key + std::string(1, '\0'), key.substr(0, key.size() - 1), key + "a"}) {
      if (other.empty() || other.size() > PieceTable::kMaxPieceBytes || ref.count(other)) continue;
      bool found = true;
      CHECK(lookup(table, other, found).empty());
      CHECK_FALSE(found);
    }
  }
  // for_each lists every entry once, with its ids.
  size_t listed = 0;
  table.for_each([&](std::string_view piece, const uint32_t* ids, size_t count) {
    ++listed;
    const auto it = ref.find(std::string(piece));
    REQUIRE(it != ref.end());
    CHECK(std::vector<uint32_t>(ids, ids + count) == it->second);
  });
  CHECK(listed == ref.size());
  table.reset();
  CHECK(table.capacity() == 0);
  CHECK(table.size() == 0);
  bool found = true;
  lookup(table, ref.begin()->first, found);
  CHECK_FALSE(found);
}

TEST_CASE("PieceTable::clear: keeps the memory, forgets every piece (inline and spilled), then refills") {
  PieceTable table;
  std::mt19937_64 rng(9);
  std::unordered_map<std::string, std::vector<uint32_t>> first;
  for (uint32_t i = 0; i < 12000; ++i) {
    const size_t len = 1 + i % 24;          // both sides of the inline key limit
    const size_t count = 1 + (i / 24) % 6;  // both sides of the inline id limit
    std::string key = llmprep_test::random_bytes(rng, len, "abc");
    if (first.count(key)) continue;
    first[key] = ids_for(i, count);
    insert(table, key, first[key]);
  }
  REQUIRE(table.spilled() > 0);
  const size_t capacity = table.capacity();
  table.clear();
  CHECK(table.capacity() == capacity);
  CHECK(table.size() == 0);
  CHECK(table.spilled() == 0);
  CHECK(table.evictions() == 0);
  size_t listed = 0;
  table.for_each([&](std::string_view, const uint32_t*, size_t) { ++listed; });
  CHECK(listed == 0);
  for (const auto& [key, ids] : first) {
    bool found = true;
    CHECK(lookup(table, key, found).empty());
    CHECK_FALSE(found);
  }
  // Refilled with the same keys and other ids (another encoder's): only the new ids come back.
  for (auto& [key, ids] : first) {
    for (uint32_t& id : ids) id += 7;
    insert(table, key, ids);
  }
  CHECK(table.size() == first.size());
  CHECK(table.capacity() == capacity);
  for (const auto& [key, ids] : first) {
    bool found = false;
    CHECK(lookup(table, key, found) == ids);
    CHECK(found);
  }
}

// The encoder's fast path: View::find_home over a piece's home pair.
uint32_t* find_home(const PieceTable& table, const std::string& key, uint32_t* dst) {
  const ExactBuffer buf(key);
  const BytesMap::Probe probe = BytesMap::probe(buf.view());
  return PieceTable::View::find_home(table.view().home(probe, key.size()), dst);
}

TEST_CASE("PieceTable::View::find_home: the ids of an inline piece in its home pair, else nothing, never other ids") {
  PieceTable table;
  uint32_t dst[PieceTable::kInlineIds];
  CHECK(find_home(table, "abc", dst) == nullptr);  // an empty table's view
  std::mt19937_64 rng(11);
  std::unordered_map<std::string, std::vector<uint32_t>> ref;
  for (uint32_t i = 0; i < 20000; ++i) {
    const size_t len = 1 + i % 24;          // both sides of the 15/16-byte inline key limit
    const size_t count = 1 + (i / 24) % 6;  // both sides of the 4/5-id inline limit
    std::string key = llmprep_test::random_bytes(rng, len, i % 3 ? std::string_view("ab\0\xff", 4) : "");
    if (ref.count(key)) continue;
    std::vector<uint32_t> ids = ids_for(i, count);
    if (i % 5 == 0) ids[0] = (1u << 20) - 1;  // the largest rank: every bit below the count bits set
    ref[key] = ids;
    insert(table, key, ids);
  }
  size_t inline_pieces = 0, found_at_home = 0;
  for (const auto& [key, ids] : ref) {
    std::fill(std::begin(dst), std::end(dst), 0xDEADBEEFu);
    const uint32_t* end = find_home(table, key, dst);
    const bool is_inline = key.size() <= PieceTable::kInlineKeyBytes && ids.size() <= PieceTable::kInlineIds;
    inline_pieces += is_inline;
    if (end == nullptr) continue;  // absent from its home pair: the slow path decides
    CHECK(is_inline);              // long keys and spilled ids are never answered here
    CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
    ++found_at_home;
  }
  // Most inline pieces sit in their home pair at <= 3/4 load (else the fast path would be slow).
  CHECK(found_at_home * 10 >= inline_pieces * 7);
  // Absent pieces: never found.
  for (const std::string& key : {std::string("zz-absent"), std::string(1, '\0'), std::string("\xff\xff")}) {
    if (!ref.count(key)) CHECK(find_home(table, key, dst) == nullptr);
  }
}

TEST_CASE(
    "PieceTable::View::find_spilled: the ids of a spilled piece in its home pair, else nothing, never other ids") {
  PieceTable table;
  uint32_t dst[PieceTable::kMaxIds];
  const auto find_spilled = [&](const std::string& key) -> const uint32_t* {
    const ExactBuffer buf(key);  // the tail is compared in place: a read past the key is caught
    const BytesMap::Probe probe = BytesMap::probe(buf.view());
    const PieceTable::View view = table.view();
    return view.find_spilled(view.home(probe, key.size()), reinterpret_cast<const unsigned char*>(buf.view().data()),
                             key.size(), dst);
  };
  CHECK(find_spilled("abc") == nullptr);  // an empty table's view
  std::mt19937_64 rng(12);
  std::unordered_map<std::string, std::vector<uint32_t>> ref;
  for (uint32_t i = 0; i < 20000; ++i) {
    const size_t len = 1 + i % 40;          // both sides of the 15/16-byte inline key limit
    const size_t count = 1 + (i / 40) % 9;  // both sides of the 4/5-id inline limit
    // Long keys that agree on their first 15 bytes and length, told apart only by the tail.
    std::string key = i % 4 == 0 && len > PieceTable::kInlineKeyBytes
                          ? std::string(PieceTable::kInlineKeyBytes, 'k') +
                                llmprep_test::random_bytes(rng, len - PieceTable::kInlineKeyBytes, "xy")
                          : llmprep_test::random_bytes(rng, len, i % 3 ? std::string_view("ab\0\xff", 4) : "");
    if (ref.count(key)) continue;
    ref[key] = ids_for(i, count);
    insert(table, key, ref[key]);
  }
  size_t spilled_pieces = 0, found_at_home = 0;
  for (const auto& [key, ids] : ref) {
    const uint32_t* end = find_spilled(key);
    const bool spilled = key.size() > PieceTable::kInlineKeyBytes || ids.size() > PieceTable::kInlineIds;
    spilled_pieces += spilled;
    if (end == nullptr) continue;  // inline, or displaced past its pair: not answered here
    CHECK(spilled);
    CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
    ++found_at_home;
  }
  CHECK(spilled_pieces > 5000);
  CHECK(found_at_home * 10 >= spilled_pieces * 7);
  // Absent long keys sharing a present key's first 15 bytes and length: never found.
  for (const auto& [key, ids] : ref) {
    if (key.size() <= PieceTable::kInlineKeyBytes) continue;
    std::string other = key;
    other.back() = char(other.back() ^ 0x40);
    if (!ref.count(other)) CHECK(find_spilled(other) == nullptr);
  }
}

TEST_CASE("PieceTable: spilled ids, read back in whole blocks, are exact for every count 1..64 on every read path") {
  // The arena keeps a spilled entry's ids in blocks of kInlineIds; each read copies whole blocks
  // into a buffer of exactly kMaxIds (ASan catches a write past it) and must return the real ids,
  // never a padding slot or a neighbouring entry's ids.
  PieceTable table;
  std::unordered_map<std::string, std::vector<uint32_t>> ref;
  for (uint32_t count = 1; count <= PieceTable::kMaxPieceBytes; ++count) {
    for (const size_t len : {size_t(count), size_t(PieceTable::kMaxPieceBytes)}) {
      std::string key(len, char('a' + count % 26));
      key[0] = char(count);
      key.back() = char(len);
      if (ref.count(key)) continue;
      ref[key] = ids_for(count * 3 + uint32_t(len), count);
      insert(table, key, ref[key]);
    }
  }
  uint32_t dst[PieceTable::kMaxIds];
  const PieceTable::View view = table.view();
  size_t at_home = 0;
  for (const auto& [key, ids] : ref) {
    bool found = false;
    CHECK(lookup(table, key, found) == ids);
    CHECK(found);
    const ExactBuffer buf(key);
    const BytesMap::Probe probe = BytesMap::probe(buf.view());
    const uint32_t* end = table.find_into(buf.view(), probe, dst);
    REQUIRE(end != nullptr);
    CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
    end = view.find_spilled(view.home(probe, key.size()), reinterpret_cast<const unsigned char*>(buf.view().data()),
                            key.size(), dst);
    if (end != nullptr) {
      CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
      ++at_home;
    }
  }
  CHECK(at_home * 10 >= ref.size() * 7);
  PieceTable copy;  // insert_missing reads every entry back (copy_ids) and inserts it again
  copy.insert_missing(table);
  size_t visited = 0;
  copy.for_each([&](std::string_view piece, const uint32_t* ids, size_t count) {
    const auto it = ref.find(std::string(piece));
    REQUIRE(it != ref.end());
    CHECK(std::vector<uint32_t>(ids, ids + count) == it->second);
    ++visited;
  });
  CHECK(visited == ref.size());
}

TEST_CASE("PieceTable::View::home_padded: the same home and key as home(probe) for every length and offset") {
  // The encoder's fast path reads two words at the piece's start and masks them; the slow path and
  // every insert go through BytesMap::probe. Both must name the same pair and the same key words, or a
  // cached piece would never be found by the fast path (a silent slowdown, not a wrong answer).
  PieceTable table;
  std::mt19937_64 rng(13);
  std::vector<std::pair<std::string, std::vector<uint32_t>>> pieces;
  std::unordered_map<std::string, size_t> seen;
  for (uint32_t i = 0; i < 3000; ++i) {
    const size_t len = 1 + i % PieceTable::kMaxPieceBytes;
    std::string key = llmprep_test::random_bytes(rng, len, i % 2 ? std::string_view("ab\0\xff", 4) : "");
    if (!seen.emplace(key, i).second) continue;
    pieces.emplace_back(key, ids_for(i, 1 + i % 3));
    insert(table, key, pieces.back().second);
  }
  const PieceTable::View view = table.view();
  size_t answered = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const auto& [key, ids] = pieces[i];
    // The piece at every offset 0..7 of a larger text, with other bytes on both sides (16 readable
    // bytes from its start, as the encoder guarantees before it takes this path).
    for (size_t offset = 0; offset < 8; ++offset) {
      std::string text = llmprep_test::random_bytes(rng, offset, "") + key + std::string(16, char(0xA5 + offset));
      const ExactBuffer buf(text);
      const auto* p = reinterpret_cast<const unsigned char*>(buf.view().data()) + offset;
      const PieceTable::View::Home padded = view.home_padded(p, key.size());
      const PieceTable::View::Home probed =
          view.home(BytesMap::probe(buf.view().substr(offset, key.size())), key.size());
      CHECK(padded.pair == probed.pair);
      CHECK(padded.k0 == probed.k0);
      CHECK(padded.k1 == probed.k1);
    }
    uint32_t dst[PieceTable::kInlineIds];
    const uint32_t* end = PieceTable::View::find_home(view.home(BytesMap::probe(key), key.size()), dst);
    if (key.size() > PieceTable::kInlineKeyBytes) CHECK(end == nullptr);  // spilled: the slow path's
    if (end != nullptr) {
      CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
      ++answered;
    }
  }
  CHECK(answered > 0);
}

TEST_CASE("PieceTable::find_into_promoting: a displaced piece moves into its home pair; every piece stays findable") {
  PieceTable table;
  std::mt19937_64 rng(5);
  std::vector<std::pair<std::string, std::vector<uint32_t>>> pieces;
  std::unordered_map<std::string, size_t> seen;
  // Near the 3/4 growth threshold of the first table, where long probe runs are common.
  while (pieces.size() < PieceTable::kInitialEntries * 3 / 4 - 1) {
    std::string key = llmprep_test::random_bytes(rng, 1 + rng() % 12, "abcd");
    if (seen.count(key)) continue;
    seen[key] = pieces.size();
    pieces.emplace_back(key, ids_for(uint32_t(pieces.size()), 1 + pieces.size() % 6));
    insert(table, key, pieces.back().second);
  }
  REQUIRE(table.capacity() == PieceTable::kInitialEntries);
  uint32_t dst[16];
  size_t at_home_before = 0;
  for (const auto& [key, ids] : pieces) at_home_before += find_home(table, key, dst) != nullptr;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < pieces.size(); i += 1 + size_t(round)) {
      const auto& [key, ids] = pieces[i];
      const ExactBuffer buf(key);
      const uint32_t* end = table.find_into_promoting(buf.view(), BytesMap::probe(buf.view()), dst);
      REQUIRE(end != nullptr);
      CHECK(std::vector<uint32_t>(static_cast<const uint32_t*>(dst), end) == ids);
      // Right after its lookup an inline piece is in its home pair.
      if (key.size() <= PieceTable::kInlineKeyBytes && ids.size() <= PieceTable::kInlineIds) {
        CHECK(find_home(table, key, dst) != nullptr);
      }
    }
    for (const auto& [key, ids] : pieces) {  // nothing lost, nothing changed
      bool found = false;
      CHECK(lookup(table, key, found) == ids);
      CHECK(found);
    }
  }
  CHECK(table.size() == pieces.size());
  size_t at_home_after = 0;
  for (const auto& [key, ids] : pieces) at_home_after += find_home(table, key, dst) != nullptr;
  CHECK(at_home_before < pieces.size());  // some were displaced to begin with
  CHECK(at_home_after >= at_home_before);
}

TEST_CASE("PieceTable: keys differing only in byte 15 and beyond (the arena tail), and in their length") {
  PieceTable table;
  std::vector<std::string> keys;
  for (size_t len = 14; len <= 40; ++len) {
    for (char last : {'x', 'y', '\0'}) {
      std::string key(len, 'q');
      key[len - 1] = last;
      keys.push_back(key);
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) insert(table, keys[i], ids_for(uint32_t(i), 1 + i % 6));
  for (size_t i = 0; i < keys.size(); ++i) {
    bool found = false;
    CHECK(lookup(table, keys[i], found) == ids_for(uint32_t(i), 1 + i % 6));
    CHECK(found);
  }
}

TEST_CASE("PieceTable: at the cap a full table is emptied and refills; it never grows past the cap") {
  Settings restore;
  const size_t cap_entries = PieceTable::kInitialEntries * 4;
  PieceTable::set_max_table_bytes(cap_entries * PieceTable::kEntryBytes);
  PieceTable table;
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < cap_entries * 3; ++i) keys.push_back("k" + std::to_string(i));
  size_t evictions_seen = 0;
  for (uint32_t i = 0; i < keys.size(); ++i) {
    const size_t before = table.evictions();
    insert(table, keys[i], ids_for(i, 1 + i % 5));
    CHECK(table.capacity() <= cap_entries);
    if (table.evictions() != before) {
      ++evictions_seen;
      CHECK(table.size() == 1);  // only the piece just added
      // Everything before it is gone; it is there.
      bool found = true;
      lookup(table, keys[i - 1], found);
      CHECK_FALSE(found);
    }
    bool found = false;
    CHECK(lookup(table, keys[i], found) == ids_for(i, 1 + i % 5));
    CHECK(found);
  }
  CHECK(table.capacity() == cap_entries);
  CHECK(evictions_seen >= 2);
  CHECK(table.evictions() == evictions_seen);
  // A reset (the thread's cache passing to another encoder) starts the statistics over.
  table.reset();
  CHECK(table.evictions() == 0);
  CHECK(table.size() == 0);
  CHECK(table.capacity() == 0);
}

TEST_CASE("PieceTable: a cap below the initial size still gives a working (initial-size) table") {
  Settings restore;
  PieceTable::set_max_table_bytes(0);
  PieceTable table;
  for (uint32_t i = 0; i < PieceTable::kInitialEntries * 2; ++i) insert(table, "p" + std::to_string(i), {i});
  CHECK(table.capacity() == PieceTable::kInitialEntries);
  CHECK(table.evictions() >= 1);
}

TEST_CASE("PieceTable: a failed allocation while growing evicts instead; a failed first one throws") {
  Settings restore;
  PieceTable table;
  uint32_t i = 0;
  while (table.capacity() == 0 || (table.size() + 2) * 4 <= table.capacity() * 3) {
    insert(table, "a" + std::to_string(i), {i});
    ++i;
  }
  const size_t capacity = table.capacity();
  insert(table, "a" + std::to_string(i), {i});  // the last insert before the table is 3/4 full
  ++i;
  PieceTable::fail_next_allocations(1);
  insert(table, "a" + std::to_string(i), {i});  // would grow: the allocation fails
  CHECK(table.capacity() == capacity);
  CHECK(table.evictions() == 1);
  CHECK(table.size() == 1);
  bool found = false;
  CHECK(lookup(table, "a" + std::to_string(i), found) == std::vector<uint32_t>{i});
  CHECK(found);
  PieceTable fresh;
  PieceTable::fail_next_allocations(1);
  CHECK_THROWS_AS(insert(fresh, "x", {1}), std::bad_alloc);
  CHECK(fresh.capacity() == 0);
  insert(fresh, "x", {1});  // works again once memory is there
  CHECK(fresh.size() == 1);
}

TEST_CASE("PieceTable: huge pages requested or not, a table past 2 MiB holds the same") {
  Settings restore;
  for (const bool huge : {true, false}) {
    PieceTable::set_huge_pages_enabled(huge);
    PieceTable table;
    const uint32_t n = 120000;  // 2^18 entries: 8 MiB of table
    for (uint32_t i = 0; i < n; ++i) insert(table, "w" + std::to_string(i), ids_for(i, 1 + i % 3));
    CHECK(table.capacity() * PieceTable::kEntryBytes >= (size_t(2) << 20));
    if (!huge) CHECK_FALSE(table.huge_pages());
    for (uint32_t i = 0; i < n; i += 7) {
      bool found = false;
      CHECK(lookup(table, "w" + std::to_string(i), found) == ids_for(i, 1 + i % 3));
      CHECK(found);
    }
  }
}

TEST_CASE("PieceTable: bad arguments are refused") {
  PieceTable table;
  CHECK_THROWS_AS(insert(table, "", {1}), std::invalid_argument);
  CHECK_THROWS_AS(insert(table, std::string(PieceTable::kMaxPieceBytes + 1, 'a'), {1}), std::invalid_argument);
  CHECK_THROWS_AS(insert(table, "ab", {}), std::invalid_argument);
  CHECK(table.size() == 0);
}

TEST_CASE("PieceCache::absorb: adds what it lacks, keeps what it has, and at the cap refills like inserts do") {
  Settings restore;
  llmprep::PieceCache a, b;
  for (uint32_t i = 0; i < 3000; ++i) insert(a.table, "a" + std::to_string(i), ids_for(i, 1 + i % 6));
  for (uint32_t i = 0; i < 3000; ++i) insert(b.table, "a" + std::to_string(i + 1500), ids_for(i + 1500, 1 + i % 6));
  a.absorb(b);
  CHECK(a.table.size() == 4500);
  for (uint32_t i = 0; i < 4500; ++i) {
    bool found = false;
    CHECK(lookup(a.table, "a" + std::to_string(i), found) == ids_for(i, 1 + (i < 3000 ? i : i - 1500) % 6));
    CHECK(found);
  }
  // A cache with fewer entries takes the other's table and copies its own entries in.
  llmprep::PieceCache cold;
  insert(cold.table, "a0", ids_for(0, 1));
  insert(cold.table, "cold", ids_for(7, 3));
  cold.absorb(a);
  CHECK(cold.table.size() == 4501);
  for (const std::string key : {"a0", "a4499", "cold"}) {
    bool found = false;
    lookup(cold.table, key, found);
    CHECK(found);
  }
  // A table at the cap empties itself and takes the newest pieces, as the thread's own inserts would.
  const size_t cap_entries = PieceTable::kInitialEntries;
  PieceTable::set_max_table_bytes(cap_entries * PieceTable::kEntryBytes);
  llmprep::PieceCache full, many;
  for (uint32_t i = 0; i < cap_entries * 3 / 4; ++i) insert(full.table, "f" + std::to_string(i), ids_for(i, 1));
  for (uint32_t i = 0; i < 100; ++i) insert(many.table, "m" + std::to_string(i), ids_for(i, 2));
  full.absorb(many);
  CHECK(full.table.evictions() == 1);
  CHECK(full.table.capacity() == cap_entries);
  CHECK(full.table.size() == 100);
  bool found = false;
  CHECK(lookup(full.table, "m99", found) == ids_for(99, 2));
  CHECK(found);
}
