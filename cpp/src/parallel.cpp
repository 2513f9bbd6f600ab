// Thread fan-out shared by every kernel: a lazily started, fork-safe pool of worker threads behind
// parallel_for / parallel_tasks / parallel_tasks_ordered. A call that finds the pool in use (nested,
// or from a second Python thread at the same time) starts its own threads instead of waiting.
//
// Design notes (measurements and rejected designs: docs/performance.md):
// * The pool is kept between calls, so per-thread caches (BPE's piece cache) stay warm.
// * Fork safety: PyTorch's DataLoader forks. A forked child forgets the pool (leaked, never touched
//   again: its mutex may have been held by a thread that does not exist in the child) and starts
//   its own on first use: the policy of per_process.hpp.
// * Idle workers sleep on a condition variable: no spinning on a machine whose other core is busy.
// * parallel_tasks_ordered lets the caller consume finished tasks in order (building Python lists
//   under the GIL) while the other threads still work, so the serial part overlaps the parallel one.
#include "llmprep/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "per_process.hpp"

namespace llmprep {

int default_num_threads() {
  // The one place LLMPREP_NUM_THREADS is read (Python asks here too): a value that is not a
  // positive integer is an error, never silently replaced by the core count.
  if (const char* env = std::getenv("LLMPREP_NUM_THREADS")) {
    char* end = nullptr;
    errno = 0;
    long value = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || value <= 0 || errno == ERANGE) {
      throw std::invalid_argument(std::string("LLMPREP_NUM_THREADS must be a positive integer, not '") + env +
                                  "'; unset it to use every core");
    }
    return static_cast<int>(std::min<long>(value, 1024));
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

int resolve_num_threads(int requested, int64_t work_items) {
  int64_t threads = requested > 0 ? requested : default_num_threads();
  threads = std::min<int64_t>(threads, std::max<int64_t>(work_items, 1));
  return static_cast<int>(std::max<int64_t>(threads, 1));
}

namespace {

// What each thread of one parallel call runs: slot 0 on the calling thread, slots 1.. on others.
// Never throws (the callers below catch inside it).
using SlotBody = std::function<void(int)>;

class Pool {
 public:
  // Runs body(0) here and body(1..slots-1) on pool threads (started on first need and kept), and
  // returns once all have returned. Returns false, having run nothing, if the pool is in use.
  bool try_run(int slots, const SlotBody& body) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    int helpers = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      try {
        while (int(threads_.size()) < slots - 1)
          threads_.emplace_back(&Pool::worker_main, this, int(threads_.size()) + 1);
      } catch (const std::system_error&) {
        // No more threads to be had: the slots without one run below on this thread.
      }
      helpers = std::min(slots - 1, int(threads_.size()));
      body_ = &body;
      helpers_ = helpers;
      running_ = helpers;
      ++generation_;
    }
    if (helpers > 0) wake_.notify_all();
    body(0);
    for (int slot = helpers + 1; slot < slots; ++slot) body(slot);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      finished_.wait(lock, [&] { return running_ == 0; });
      body_ = nullptr;
    }
    busy_.store(false, std::memory_order_release);
    return true;
  }

 private:
  void worker_main(int slot) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (slot > helpers_) continue;  // this call needs fewer threads than the pool has
      const SlotBody* body = body_;
      lock.unlock();
      (*body)(slot);
      lock.lock();
      if (--running_ == 0) finished_.notify_one();
    }
  }

  std::atomic<bool> busy_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::vector<std::thread> threads_;  // threads_[k] serves slot k + 1 in every call
  uint64_t generation_ = 0;           // bumped per call, so a worker runs each call once
  const SlotBody* body_ = nullptr;
  int helpers_ = 0;
  int running_ = 0;
};

// Worker threads wait on the pool until the process ends; a forked child leaks its copy.
Pool& pool() { return PerProcess<Pool>::get(); }

// Runs body(slot) for every slot in [0, slots): on the pool if it is free, else on threads started
// for this call; a slot whose thread cannot be started runs on the calling thread after slot 0.
void run_slots(int slots, const SlotBody& body) {
  if (pool().try_run(slots, body)) return;
  std::vector<std::thread> threads;
  threads.reserve(size_t(slots - 1));
  int started = 1;
  try {
    for (; started < slots; ++started) threads.emplace_back(body, started);
  } catch (const std::system_error&) {
  }
  body(0);
  for (int slot = started; slot < slots; ++slot) body(slot);
  for (auto& thread : threads) thread.join();
}

// Keeps the exception of the lowest-numbered failing unit so that which error surfaces does not
// depend on scheduling.
class FirstError {
 public:
  void record(int64_t index, std::exception_ptr error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_ || index < index_) {
      error_ = std::move(error);
      index_ = index;
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
  int64_t index_ = 0;
};

}  // namespace

void parallel_for(int64_t n, int num_threads, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int threads = resolve_num_threads(num_threads, n);
  if (threads == 1) {
    fn(0, n);
    return;
  }
  FirstError first_error;
  run_slots(threads, [&](int t) {
    const int64_t begin = n * t / threads;
    const int64_t end = n * (t + 1) / threads;
    try {
      if (begin < end) fn(begin, end);
    } catch (...) {
      first_error.record(t, std::current_exception());
    }
  });
  first_error.rethrow();
}

void parallel_tasks(int64_t n_tasks, int num_threads, const std::function<void(int64_t)>& fn) {
  if (n_tasks <= 0) return;
  const int threads = resolve_num_threads(num_threads, n_tasks);
  if (threads == 1) {
    for (int64_t i = 0; i < n_tasks; ++i) fn(i);
    return;
  }
  std::atomic<int64_t> next{0};
  FirstError first_error;
  run_slots(threads, [&](int) {
    for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        first_error.record(i, std::current_exception());
      }
    }
  });
  first_error.rethrow();
}

void parallel_tasks_ordered(int64_t n_tasks, int num_threads, const std::function<void(int64_t)>& work,
                            const std::function<void(int64_t, int64_t)>& consume) {
  if (n_tasks <= 0) return;
  const int threads = resolve_num_threads(num_threads, n_tasks);
  if (threads == 1) {
    int64_t failed = n_tasks;
    std::exception_ptr error;
    for (int64_t i = 0; i < n_tasks && !error; ++i) {
      try {
        work(i);
      } catch (...) {
        error = std::current_exception();
        failed = i;
      }
    }
    if (failed > 0) consume(0, failed);
    if (error) std::rethrow_exception(error);
    return;
  }

  std::atomic<int64_t> next{0};
  FirstError first_error;
  std::mutex mutex;
  std::condition_variable task_done;
  std::vector<uint8_t> done(size_t(n_tasks), 0);  // guarded by mutex, like the two below
  bool caller_waiting = false;
  // Lowest index of a failed task (n_tasks: none), 0 after a consume error. Tasks at or after it
  // are not started; written under mutex, read without it only to skip work early.
  std::atomic<int64_t> stop_at{n_tasks};
  std::exception_ptr consume_error;

  auto run_task = [&](int64_t i) {
    bool failed = false;
    if (i < stop_at.load(std::memory_order_relaxed)) {
      try {
        work(i);
      } catch (...) {
        first_error.record(i, std::current_exception());
        failed = true;
      }
    }
    std::lock_guard<std::mutex> lock(mutex);
    done[size_t(i)] = 1;
    if (failed && i < stop_at.load(std::memory_order_relaxed)) stop_at.store(i, std::memory_order_relaxed);
    if (caller_waiting) task_done.notify_one();
  };

  run_slots(threads, [&](int slot) {
    if (slot != 0) {
      for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) run_task(i);
      return;
    }
    // The calling thread: hand over what is finished, in order; work only when nothing is ready,
    // so the serial consumer never falls behind for lack of trying; wait when nothing is left.
    int64_t consumed = 0;
    for (;;) {
      int64_t end = consumed;
      int64_t limit;
      {
        std::lock_guard<std::mutex> lock(mutex);
        limit = stop_at.load(std::memory_order_relaxed);
        while (end < limit && done[size_t(end)]) ++end;
      }
      if (end > consumed) {
        try {
          consume(consumed, end);
        } catch (...) {
          consume_error = std::current_exception();
          std::lock_guard<std::mutex> lock(mutex);
          stop_at.store(0, std::memory_order_relaxed);
          return;
        }
        consumed = end;
        continue;
      }
      if (consumed >= limit) return;
      const int64_t i = next.fetch_add(1);
      if (i < n_tasks) {
        run_task(i);
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex);
      caller_waiting = true;
      task_done.wait(
          lock, [&] { return done[size_t(consumed)] != 0 || stop_at.load(std::memory_order_relaxed) <= consumed; });
      caller_waiting = false;
    }
  });
  if (consume_error) std::rethrow_exception(consume_error);
  first_error.rethrow();
}

}  // namespace llmprep
