// The thread pool behind parallel_for / parallel_tasks / parallel_tasks_ordered: every index runs
// exactly once for every thread count, the lowest index's exception wins, nested calls and calls
// from several threads at once finish, and a forked child can use its own pool.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#define LLMPREP_TEST_FORK 1
#endif

#include "llmprep/parallel.hpp"

using llmprep::parallel_for;
using llmprep::parallel_tasks;
using llmprep::parallel_tasks_ordered;

namespace {

// Runs fn and returns the message of the std::runtime_error it throws ("" if none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("parallel_for and parallel_tasks cover every index exactly once") {
  for (int threads : {1, 2, 3, 8}) {
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, threads, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[size_t(i)].fetch_add(1);
      });
      for (auto& h : hits) CHECK(h.load() == 1);
      std::vector<std::atomic<int>> task_hits(static_cast<size_t>(n));
      parallel_tasks(n, threads, [&](int64_t i) { task_hits[size_t(i)].fetch_add(1); });
      for (auto& h : task_hits) CHECK(h.load() == 1);
    }
  }
}

TEST_CASE("the exception of the lowest index wins, whatever the timing") {
  for (int round = 0; round < 30; ++round) {
    for (int threads : {2, 4}) {
      CHECK(error_of([&] {
              parallel_tasks(100, threads, [](int64_t i) {
                if (i == 17 || i == 53 || i == 90) throw std::runtime_error(std::to_string(i));
              });
            }) == "17");
      // Ranges: the first throwing range by order wins even if a later one throws first.
      CHECK(error_of([&] {
              parallel_for(1000, threads, [](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i) {
                  if (i == 300 || i == 999) throw std::runtime_error(std::to_string(i));
                }
              });
            }) == "300");
    }
  }
}

TEST_CASE("parallel_tasks_ordered consumes in order, and stops before the first failed task") {
  for (int threads : {1, 2, 4}) {
    std::vector<int> done(500, 0);
    int64_t next = 0;
    parallel_tasks_ordered(
        500, threads, [&](int64_t i) { done[size_t(i)] = 1; },
        [&](int64_t begin, int64_t end) {
          CHECK(begin == next);  // consecutive ranges, in order, on the calling thread
          CHECK(end > begin);
          for (int64_t i = begin; i < end; ++i) CHECK(done[size_t(i)] == 1);
          next = end;
        });
    CHECK(next == 500);

    for (int round = 0; round < 10; ++round) {
      int64_t consumed = 0;
      const std::string what = error_of([&] {
        parallel_tasks_ordered(
            100, threads,
            [](int64_t i) {
              if (i == 30 || i == 70) throw std::runtime_error(std::to_string(i));
            },
            [&](int64_t begin, int64_t end) {
              CHECK(begin == consumed);
              consumed = end;
            });
      });
      CHECK(what == "30");
      CHECK(consumed == 30);  // exactly [0, 30): nothing at or after the failed task
    }

    // A consume that throws: its exception comes out, and nothing more is consumed.
    int calls = 0;
    const std::string what = error_of([&] {
      parallel_tasks_ordered(
          100, threads, [](int64_t) {},
          [&](int64_t, int64_t) {
            ++calls;
            throw std::runtime_error("consume");
          });
    });
    CHECK(what == "consume");
    CHECK(calls == 1);
  }
}

TEST_CASE("nested parallel calls and concurrent callers finish with correct results") {
  std::vector<int64_t> sums(8, 0);
  parallel_tasks(8, 2, [&](int64_t t) {
    std::vector<int64_t> part(4, 0);
    parallel_for(4000, 2, [&](int64_t begin, int64_t end) {
      int64_t s = 0;
      for (int64_t i = begin; i < end; ++i) s += i;
      part[size_t(begin * 4 / 4000)] += s;  // ranges are disjoint: each writes its own slot
    });
    int64_t total = 0;
    for (int64_t s : part) total += s;
    sums[size_t(t)] = total;
  });
  for (int64_t s : sums) CHECK(s == int64_t(4000) * 3999 / 2);

  // Two threads calling at once: one of them finds the pool busy and starts its own threads.
  std::vector<int64_t> results(2, 0);
  std::vector<std::thread> callers;
  for (int c = 0; c < 2; ++c) {
    callers.emplace_back([&results, c] {
      for (int round = 0; round < 20; ++round) {
        std::atomic<int64_t> s{0};
        parallel_tasks(64, 2, [&](int64_t i) { s.fetch_add(i); });
        results[size_t(c)] += s.load();
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int64_t r : results) CHECK(r == 20 * (64 * 63 / 2));
}

#ifdef LLMPREP_TEST_FORK
TEST_CASE("a forked child gets a working pool of its own") {
  // Start the parent's pool first, so the child inherits its bookkeeping but not its threads.
  std::atomic<int64_t> warm{0};
  parallel_tasks(16, 2, [&](int64_t i) { warm.fetch_add(i); });
  REQUIRE(warm.load() == 120);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::atomic<int64_t> s{0};
    parallel_tasks(1000, 2, [&](int64_t i) { s.fetch_add(i); });
    std::vector<int> hits(1000, 0);
    parallel_for(1000, 2, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)] += 1;
    });
    bool ok = s.load() == 1000 * 999 / 2;
    for (int h : hits) ok = ok && h == 1;
    _exit(ok ? 0 : 3);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // And the parent's pool still works.
  std::atomic<int64_t> after{0};
  parallel_tasks(16, 2, [&](int64_t i) { after.fetch_add(i); });
  CHECK(after.load() == 120);
}
#endif
