// Thread fan-out shared by every kernel.
//
// Performance notes: threads are started per call rather than kept in a pool. Starting one costs
// tens of microseconds, small next to the batch calls that use them, and it keeps the library
// fork-safe: PyTorch's DataLoader forks worker processes, and a fork copies a pool's bookkeeping
// but not its threads, which deadlocks the child on its first parallel call. Callers keep small
// jobs on one thread (resolve_num_threads caps threads by work items).
#include "llmprep/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace llmprep {

int default_num_threads() {
  if (const char* env = std::getenv("LLMPREP_NUM_THREADS")) {
    char* end = nullptr;
    long value = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && value > 0) return static_cast<int>(std::min<long>(value, 1024));
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
  auto run_range = [&](int t) {
    const int64_t begin = n * t / threads;
    const int64_t end = n * (t + 1) / threads;
    try {
      if (begin < end) fn(begin, end);
    } catch (...) {
      first_error.record(t, std::current_exception());
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers.emplace_back(run_range, t);
  run_range(0);
  for (auto& worker : workers) worker.join();
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
  auto worker_loop = [&]() {
    for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        first_error.record(i, std::current_exception());
      }
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(threads - 1));
  for (int t = 1; t < threads; ++t) workers.emplace_back(worker_loop);
  worker_loop();
  for (auto& worker : workers) worker.join();
  first_error.rethrow();
}

}  // namespace llmprep
