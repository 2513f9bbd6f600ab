// Encoding whole texts: splitting at allowed special tokens, pre-tokenization, and cutting
// one large text (or a batch of texts) into tasks for parallel_tasks. Every task's output lands in
// its own slot and the slots are joined in order, so results never depend on the thread count.
#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "bpe_cached.hpp"
#include "llmprep/bpe.hpp"
#include "llmprep/huge_pages.hpp"
#include "llmprep/parallel.hpp"
#include "llmprep/piece_cache.hpp"
#include "llmprep/pretokenize.hpp"

namespace llmprep {

// A run of ordinary text (special == kOrdinary) or one special token to emit as its id.
struct EncodeSegment {
  static constexpr uint32_t kOrdinary = 0xFFFFFFFFu;
  std::string_view text;
  uint32_t special = kOrdinary;
};

namespace {

// Below this many bytes a text is encoded on the calling thread: starting threads and joining
// per-task outputs would cost more than they save.
constexpr size_t kParallelMinBytes = size_t(1) << 20;
constexpr size_t kParallelMinBatchBytes = size_t(64) << 10;  // many texts: less, as tasks are ready-made
// Parallel tasks are at least this large so that each worker's cold piece cache warms up on a
// small fraction of its work, and at most this large so that two threads stay balanced.
constexpr size_t kMinTaskBytes = size_t(256) << 10;
constexpr size_t kMaxTaskBytes = size_t(8) << 20;
// Tasks smaller than this (short documents of a batch) are run and handed over in groups.
constexpr size_t kMinUnitBytes = size_t(16) << 10;

// The ids to reserve for `bytes` of text. A token is at least one byte, so `bytes` ids always
// suffice, and for a large output reserving them costs only address space: the pages are touched
// (and on huge pages) as ids are written. A guess of a quarter, as before, regrew dictionaries and
// CJK text (0.37-0.59 ids per byte in GPT-2) twice, copying and faulting in ~2.5x the final array.
// Small outputs (the heap reuses their memory) and huge texts (the address space of a 4 GiB
// reserve for 1 GB could be refused) keep the guess and regrow.
size_t ids_to_reserve(size_t bytes) {
  constexpr size_t kEagerMin = size_t(64) << 10;
  constexpr size_t kEagerMax = size_t(256) << 20;
  return (bytes >= kEagerMin && bytes <= kEagerMax ? bytes : bytes / 4) + 16;
}

}  // namespace

namespace {

// Bytes that fill ordinary text (letters, digits, space, common punctuation). A search keys on the
// first byte of the needle that is not one of these, so memchr rarely stops on a false candidate.
bool common_text_byte(unsigned char b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == ' ' || b == '\n' ||
         b == '.' || b == ',' || b == '\'' || b == '"' || b == '-' || b == '<' || b == '>' || b >= 0x80;
}

}  // namespace

size_t find_bytes(std::string_view text, std::string_view needle, size_t from) {
  if (from > text.size()) return std::string_view::npos;
  if (needle.empty()) return from;
  if (needle.size() > text.size() - from) return std::string_view::npos;
  // memchr on the needle's rarest-looking byte (libc's runs at many GB/s), then compare. For
  // "<|endoftext|>" that byte is '|': '<' starts every "<unk>" in WikiText, and a search led by it
  // ran no faster than Python's own str.find.
  size_t key = 0;
  while (key < needle.size() && common_text_byte(static_cast<unsigned char>(needle[key]))) ++key;
  if (key == needle.size()) key = 0;
  const char* data = text.data();
  size_t pos = from + key;
  const size_t last_start = text.size() - needle.size();
  while (pos - key <= last_start) {
    const void* hit = std::memchr(data + pos, needle[key], text.size() - pos);
    if (hit == nullptr) return std::string_view::npos;
    const size_t start = size_t(static_cast<const char*>(hit) - data) - key;
    if (start > last_start) return std::string_view::npos;
    if (std::memcmp(data + start, needle.data(), needle.size()) == 0) return start;
    pos = start + key + 1;
  }
  return std::string_view::npos;
}

std::pair<size_t, size_t> find_first_needle(std::string_view text, const std::vector<std::string_view>& needles) {
  std::pair<size_t, size_t> best{std::string_view::npos, 0};
  for (size_t k = 0; k < needles.size(); ++k) {
    // Only the part before the best match so far can hold an earlier (or equal) one.
    const size_t limit =
        best.first == std::string_view::npos ? text.size() : std::min(text.size(), best.first + needles[k].size());
    const size_t at = find_bytes(text.substr(0, limit), needles[k], 0);
    if (at == std::string_view::npos) continue;
    if (at < best.first || (at == best.first && needles[k].size() > needles[best.second].size())) best = {at, k};
  }
  return best;
}

void BpeEncoder::encode_ordinary_serial(std::string_view text, std::vector<uint32_t>& out) const {
  encode_ordinary_serial(text, thread_cache(), out);
}

void BpeEncoder::encode_ordinary_serial(std::string_view text, PieceCache& cache, std::vector<uint32_t>& out) const {
  // One dispatch per text: the loop calls the pattern's scanner directly, once per chunk of pieces.
  // A chunk goes in two passes: the first hashes every piece, computes its home pair of cache slots
  // and prefetches that line, so that the second pass's lookups (misses in L1/L2 on text with many
  // distinct words) overlap instead of waiting one after another. Both passes avoid branches on the
  // piece's length, which varies from piece to piece and was mispredicted often: the key is two
  // words read and masked (PieceTable::View::home_padded), and single-byte pieces go through the
  // cache like the rest (a line in L1). The second pass needs only the home
  // (PieceTable::View::find_home: both slots' keys compared, the matching entry picked by its
  // address); anything else (a miss, a displaced or long piece) computes a probe on the slow path.
  // Ids go to a stack buffer, appended to `out` when nearly full: no capacity check per id. Table
  // base and shift are held in a View (in registers), retaken after an insert.
  visit_pattern(pattern_, [&](auto scanner) {
    using Scanner = decltype(scanner);
    constexpr size_t kChunk = 128;
    constexpr size_t kMax = PieceTable::kMaxPieceBytes;
    constexpr size_t kBuffer = 2048;
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    size_t ends[kChunk];
    PieceTable::View::Home homes[kChunk];
    PieceTable::View::Home frozen_homes[kChunk];  // in a parallel call: the same pieces' homes there
    // A piece of n <= kMax bytes has at most n ids; a cache hit writes kInlineIds slots.
    uint32_t ids[kBuffer + kMax + PieceTable::kInlineIds];
    uint32_t* w = ids;
    const PieceTable* frozen = cache.frozen;  // a parallel call's second table (see PieceCache)
    PieceTable::View view = cache.table.view();
    // The frozen table does not change during the call; its view is never read when there is none.
    const PieceTable::View frozen_view = frozen != nullptr ? frozen->view() : view;
    // A piece's probe: a piece with 16 readable bytes from its start (not in the text's last 16) is
    // hashed from two plain loads. A longer piece skips the cache: its probe only has to be cheap
    // (no pass over a 1 MB piece).
    const auto probe_at = [&](size_t at, size_t end) {
      const size_t len = std::min(end - at, kMax);
      return at + 16 <= text.size() ? BytesMap::probe_padded(s + at, len) : BytesMap::probe(text.substr(at, len));
    };
    // Room in the buffer is checked once per chunk for the fast path's at most kInlineIds ids a
    // piece, and again on the slow path, which may write up to kMax.
    const auto flush_unless_room = [&](size_t room) {
      if (w + room > ids + kBuffer) {
        out.insert(out.end(), ids, w);
        w = ids;
      }
    };
    // The loop, compiled twice: a serial call reads this thread's table alone; a parallel call
    // reads the frozen table (all that earlier calls learned) first, then this thread's table for
    // the call (what it learned in it), which starts empty: with only the latter on the fast path,
    // nearly every piece of a parallel call took the slow path.
    const auto run = [&](auto with_frozen) {
      constexpr bool kFrozen = decltype(with_frozen)::value;
      // The home slots of pieces [k, n) of the chunk (the first starting at `at`), prefetched.
      const auto locate = [&](size_t k, size_t at, size_t n) {
        for (; k < n; at = ends[k++]) {
          const size_t len = std::min(ends[k] - at, kMax);
          const PieceTable::View::Home home =
              at + 16 <= text.size() ? view.home_padded(s + at, len) : view.home(probe_at(at, ends[k]), len);
          homes[k] = home;
          PieceTable::View::prefetch(home);
          if constexpr (kFrozen) {
            // From the key in registers: read back from homes[k], the two words just stored were
            // loaded as one 16-byte value, which no store forwards (a stall of most of this loop's
            // time in parallel calls).
            frozen_homes[k] = frozen_view.home(home.k0, home.k1);
            PieceTable::View::prefetch(frozen_homes[k]);
          }
        }
      };
      size_t pos = 0;
      while (pos < text.size()) {
        const size_t n = Scanner::next_piece_ends(text, pos, ends, kChunk);
        locate(0, pos, n);
        flush_unless_room(kChunk * PieceTable::kInlineIds);
        for (size_t k = 0; k < n; ++k) {
          uint32_t* end = PieceTable::View::find_home(kFrozen ? frozen_homes[k] : homes[k], w);
          if constexpr (kFrozen) {
            if (end == nullptr) end = PieceTable::View::find_home(homes[k], w);
          }
          if (end != nullptr) {
            w = end;  // nearly every piece: found inline in its home pair
            continue;
          }
          const size_t at = k == 0 ? pos : ends[k - 1];
          const std::string_view piece(text.data() + at, ends[k] - at);
          if (piece.size() <= kMax) {
            flush_unless_room(kMax + (n - k) * PieceTable::kInlineIds);
            // A spilled piece in its home pair: read from the arena, no second hash and probe.
            uint32_t* spilled = nullptr;
            if constexpr (kFrozen) spilled = frozen_view.find_spilled(frozen_homes[k], s + at, piece.size(), w);
            if (spilled == nullptr) spilled = view.find_spilled(homes[k], s + at, piece.size(), w);
            if (spilled != nullptr) {
              w = spilled;
              continue;
            }
            w = encode_cached(piece, probe_at(at, ends[k]), cache, w);
            // The insert may have moved the arenas (the view reads them) or grown the table: then
            // the rest of the chunk's homes pointed into the old one.
            const PieceTable::View now = cache.table.view();
            const bool moved = !now.same(view);
            view = now;
            if (moved) locate(k + 1, ends[k], n);
          } else {
            out.insert(out.end(), ids, w);  // keep the order: a long piece appends to out directly
            w = ids;
            encode_piece(piece, cache, out);
          }
        }
        pos = ends[n - 1];
      }
    };
    if (frozen != nullptr) {
      run(std::true_type{});
    } else {
      run(std::false_type{});
    }
    out.insert(out.end(), ids, w);
  });
}

void BpeEncoder::split_special(std::string_view text, const std::vector<uint32_t>& allowed,
                               std::vector<EncodeSegment>& segments) const {
  std::vector<std::pair<std::string_view, uint32_t>> tokens;
  for (uint32_t id : allowed) {
    // Every special token with this id (two may share one; see the constructor).
    const size_t before = tokens.size();
    for (const auto& [special_text, special_id] : special_) {
      if (special_id == id) tokens.emplace_back(special_text, id);
    }
    if (tokens.size() == before) {
      throw std::invalid_argument("allowed special token id " + std::to_string(id) + " is not a special token");
    }
  }
  if (tokens.empty()) {
    segments.push_back(EncodeSegment{text, EncodeSegment::kOrdinary});
    return;
  }
  // next[k]: where token k next occurs at or after the scan position (npos: never again).
  std::vector<size_t> next(tokens.size());
  for (size_t k = 0; k < tokens.size(); ++k) next[k] = find_bytes(text, tokens[k].first, 0);
  size_t pos = 0;
  for (;;) {
    size_t best = std::string_view::npos;
    size_t best_k = 0;
    for (size_t k = 0; k < tokens.size(); ++k) {
      if (next[k] != std::string_view::npos && next[k] < pos) next[k] = find_bytes(text, tokens[k].first, pos);
      // Leftmost match; at the same position the longer token (as a regex alternation ordered
      // longest-first would).
      if (next[k] < best ||
          (next[k] == best && best != std::string_view::npos && tokens[k].first.size() > tokens[best_k].first.size())) {
        best = next[k];
        best_k = k;
      }
    }
    if (best == std::string_view::npos) break;
    if (best > pos) segments.push_back(EncodeSegment{text.substr(pos, best - pos), EncodeSegment::kOrdinary});
    segments.push_back(EncodeSegment{text.substr(best, tokens[best_k].first.size()), tokens[best_k].second});
    pos = best + tokens[best_k].first.size();
  }
  if (pos < text.size()) segments.push_back(EncodeSegment{text.substr(pos), EncodeSegment::kOrdinary});
}

namespace {

// Cuts ordinary segments longer than `task_bytes` at safe cuts; specials stay whole.
void cut_into_tasks(const std::vector<EncodeSegment>& segments, size_t task_bytes, Pattern pattern,
                    std::vector<EncodeSegment>& tasks) {
  for (const EncodeSegment& seg : segments) {
    if (seg.special != EncodeSegment::kOrdinary || seg.text.size() <= task_bytes) {
      tasks.push_back(seg);
      continue;
    }
    size_t begin = 0;
    while (begin < seg.text.size()) {
      size_t cut = seg.text.size();
      if (seg.text.size() - begin > task_bytes) cut = next_safe_cut(pattern, seg.text, begin + task_bytes);
      // A cut is relative to the whole segment: pre-tokenization sees exactly the text between
      // special tokens, as tiktoken's does.
      tasks.push_back(EncodeSegment{seg.text.substr(begin, cut - begin), EncodeSegment::kOrdinary});
      begin = cut;
    }
  }
}

size_t task_size_for(size_t total_bytes, int threads) {
  // About eight tasks per thread balances uneven text without making tasks tiny.
  size_t size = total_bytes / (size_t(threads) * 8);
  return std::clamp(size, kMinTaskBytes, kMaxTaskBytes);
}

}  // namespace

void BpeEncoder::run_tasks(const std::vector<EncodeSegment>& tasks, int threads,
                           std::vector<std::vector<uint32_t>>& results,
                           const std::function<void(int64_t, int64_t)>& consume) const {
  if (threads <= 1) {  // no other thread: the caller's own cache, read and written as usual
    PieceCache& cache = thread_cache();
    for (size_t t = 0; t < tasks.size(); ++t) {
      if (tasks[t].special != EncodeSegment::kOrdinary) {
        results[t].push_back(tasks[t].special);
      } else {
        reserve_output(results[t], ids_to_reserve(tasks[t].text.size()));
        encode_ordinary_serial(tasks[t].text, cache, results[t]);
      }
    }
    if (!tasks.empty()) consume(0, int64_t(tasks.size()));
    return;
  }
  // Small tasks (a batch of short documents) are grouped into units of consecutive tasks, so that
  // handing out, finishing and consuming costs per unit, not per document: with one task per
  // document the calling thread slept and woke for nearly every one (~15% more CPU time).
  size_t total = 0;
  for (const EncodeSegment& task : tasks) total += task.text.size();
  const size_t unit_bytes = std::clamp(total / (size_t(threads) * 16), kMinUnitBytes, kMinTaskBytes);
  std::vector<size_t> unit_first{0};
  size_t unit_size = 0;
  for (size_t t = 0; t < tasks.size(); ++t) {
    unit_size += tasks[t].text.size();
    if (unit_size >= unit_bytes || t + 1 == tasks.size()) {
      unit_first.push_back(t + 1);
      unit_size = 0;
    }
  }
  const int64_t n_units = int64_t(unit_first.size()) - 1;
  ParallelCaches caches(*this, total / size_t(threads));
  parallel_tasks_ordered(
      n_units, threads,
      [&](int64_t u) {
        PieceCache& cache = caches.for_this_thread();
        for (size_t t = unit_first[size_t(u)]; t < unit_first[size_t(u) + 1]; ++t) {
          const EncodeSegment& task = tasks[t];
          // Built in a local vector and moved into place: results[t] and results[t + 1] share a
          // cache line, and appending to them from two threads made every push_back a cache miss
          // (false sharing: 2 threads did ~40% more CPU work than one).
          std::vector<uint32_t> result;
          if (task.special != EncodeSegment::kOrdinary) {
            result.push_back(task.special);
          } else {
            reserve_output(result, ids_to_reserve(task.text.size()));
            encode_ordinary_serial(task.text, cache, result);
          }
          results[t] = std::move(result);
        }
      },
      [&](int64_t begin, int64_t end) {
        consume(int64_t(unit_first[size_t(begin)]), int64_t(unit_first[size_t(end)]));
      });
  caches.finish();
}

void BpeEncoder::encode_segments(const std::vector<EncodeSegment>& segments, int num_threads, size_t task_bytes,
                                 std::vector<uint32_t>& out) const {
  size_t total = 0;
  for (const EncodeSegment& seg : segments) total += seg.text.size();
  int threads = 1;
  if (task_bytes > 0) {
    threads = resolve_num_threads(num_threads, int64_t(total / task_bytes + 1));
  } else if (total >= kParallelMinBytes) {
    threads = resolve_num_threads(num_threads, int64_t(total / kMinTaskBytes));
    if (threads > 1) task_bytes = task_size_for(total, threads);
  }
  reserve_output(out, out.size() + ids_to_reserve(total));
  if (task_bytes == 0) {
    for (const EncodeSegment& seg : segments) {
      if (seg.special != EncodeSegment::kOrdinary) {
        out.push_back(seg.special);
      } else {
        encode_ordinary_serial(seg.text, out);
      }
    }
    return;
  }
  std::vector<EncodeSegment> tasks;
  cut_into_tasks(segments, task_bytes, pattern_, tasks);
  std::vector<std::vector<uint32_t>> results(tasks.size());
  // The calling thread appends finished tasks in order while the others still encode, so the join
  // is off the critical path (it was ~5% of the work as a separate parallel copy at the end).
  run_tasks(tasks, threads, results, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      out.insert(out.end(), results[size_t(t)].begin(), results[size_t(t)].end());
      std::vector<uint32_t>().swap(results[size_t(t)]);  // free as we go: peak memory stays ~1x the ids
    }
  });
}

std::vector<uint32_t> BpeEncoder::encode(std::string_view text, const std::vector<uint32_t>& allowed_special,
                                         int num_threads, size_t task_bytes) const {
  std::vector<EncodeSegment> segments;
  split_special(text, allowed_special, segments);
  std::vector<uint32_t> out;
  encode_segments(segments, num_threads, task_bytes, out);
  return out;
}

std::vector<std::vector<uint32_t>> BpeEncoder::encode_batch(const std::vector<std::string_view>& texts,
                                                            const std::vector<uint32_t>& allowed_special,
                                                            int num_threads, size_t task_bytes) const {
  std::vector<std::vector<uint32_t>> out(texts.size());
  encode_batch(texts, allowed_special, num_threads, task_bytes,
               [&](size_t first, std::vector<uint32_t>* ids, size_t count, bool) {
                 for (size_t k = 0; k < count; ++k) {
                   std::vector<uint32_t>& dst = out[first + k];
                   if (dst.empty()) {
                     dst = std::move(ids[k]);
                   } else {
                     dst.insert(dst.end(), ids[k].begin(), ids[k].end());
                   }
                 }
               });
  return out;
}

void BpeEncoder::encode_batch(const std::vector<std::string_view>& texts, const std::vector<uint32_t>& allowed_special,
                              int num_threads, size_t task_bytes, const BatchSink& sink) const {
  // Tasks over all texts at once: a text larger than a task is cut at safe points, so one huge
  // text in a batch does not leave the other threads idle.
  size_t total = 0;
  for (std::string_view t : texts) total += t.size();
  // A small batch stays on the calling thread: waking threads costs more than it would save.
  const int threads = total < kParallelMinBatchBytes && task_bytes == 0
                          ? 1
                          : resolve_num_threads(num_threads, int64_t(texts.size() + total / kMinTaskBytes));
  if (task_bytes == 0) task_bytes = task_size_for(total, threads);
  std::vector<EncodeSegment> tasks;
  std::vector<size_t> first_task(texts.size() + 1, 0);
  std::vector<EncodeSegment> segments;
  for (size_t i = 0; i < texts.size(); ++i) {
    first_task[i] = tasks.size();
    segments.clear();
    split_special(texts[i], allowed_special, segments);
    cut_into_tasks(segments, task_bytes, pattern_, tasks);
  }
  first_task[texts.size()] = tasks.size();
  std::vector<std::vector<uint32_t>> results(tasks.size());
  // Per text, filled as its tasks are consumed: a text of one task takes that task's vector, a
  // text of several gets the finished ones joined and handed over as a part while its later tasks
  // still run (texts without tasks stay empty). Building a large text's list in parts keeps it off
  // the tail: whole, the last 2.4 MB document of bench_bpe's batch was ~2 ms of list building on
  // the calling thread after the other thread had finished.
  std::vector<std::vector<uint32_t>> ids(texts.size());
  size_t next_text = 0;
  size_t next_task = 0;  // the first task not yet handed over
  auto join = [&](size_t text, size_t a, size_t b) {
    std::vector<uint32_t>& dst = ids[text];
    dst.clear();  // the sink may have moved a previous part out
    if (b - a == 1) {
      dst = std::move(results[a]);
      return;
    }
    size_t count = 0;
    for (size_t t = a; t < b; ++t) count += results[t].size();
    dst.reserve(count);
    for (size_t t = a; t < b; ++t) {
      dst.insert(dst.end(), results[t].begin(), results[t].end());
      std::vector<uint32_t>().swap(results[t]);
    }
  };
  auto hand_over = [&](size_t tasks_done) {
    const size_t first = next_text;
    bool open = false;
    while (next_text < texts.size()) {
      const size_t a = std::max(first_task[next_text], next_task), b = first_task[next_text + 1];
      if (b <= tasks_done) {
        if (b > a) join(next_text, a, b);
        next_task = b;
        ++next_text;
        continue;
      }
      if (tasks_done > a) {
        join(next_text, a, tasks_done);
        next_task = tasks_done;
        open = true;
      }
      break;
    }
    const size_t count = next_text - first + (open ? 1 : 0);
    if (count > 0) sink(first, ids.data() + first, count, open);
  };
  run_tasks(tasks, threads, results, [&](int64_t, int64_t end) { hand_over(size_t(end)); });
  hand_over(tasks.size());  // texts with no tasks at all (empty) after the last task, or every text
}

}  // namespace llmprep
