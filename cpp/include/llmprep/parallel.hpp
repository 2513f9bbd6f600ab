// The one way kernels use more than one core. Work is split by index, and every output slot is
// decided by its index alone, so results never depend on the thread count.
#pragma once

#include <cstdint>
#include <functional>

namespace llmprep {

// Threads to use when the caller does not say: LLMPREP_NUM_THREADS if set, else the core count.
// Throws std::invalid_argument when LLMPREP_NUM_THREADS is set but not a positive integer.
int default_num_threads();

// Resolves a caller's request: <= 0 means default_num_threads(); never more than `work_items`
// threads and never fewer than one.
int resolve_num_threads(int requested, int64_t work_items);

// Runs fn(begin, end) over up to `num_threads` contiguous, equal ranges covering [0, n).
// The calling thread takes the first range. If any call throws, the first exception (by range
// order) is rethrown after every thread has finished.
void parallel_for(int64_t n, int num_threads, const std::function<void(int64_t, int64_t)>& fn);

// Runs fn(i) for every i in [0, n_tasks), handing tasks out one at a time to up to `num_threads`
// threads: for tasks of uneven size (documents, chunks). Exceptions as in parallel_for (the one
// from the lowest task index wins).
void parallel_tasks(int64_t n_tasks, int num_threads, const std::function<void(int64_t)>& fn);

// parallel_tasks plus serial post-processing that overlaps the parallel work: work(i) runs on any
// of up to `num_threads` threads (the caller included); the calling thread alone calls
// consume(begin, end) for consecutive ranges of finished tasks, in index order, covering [0, n)
// exactly once, as soon as they are done (one thread: every work(i) first, then consume(0, n)).
// Meant for results that must be handed over on the calling thread, such as building Python
// objects under the GIL. If work(j) throws, consume covers only [0, j) for the lowest such j, and
// that exception is rethrown; if consume throws, nothing more is consumed or started and its
// exception is rethrown.
void parallel_tasks_ordered(int64_t n_tasks, int num_threads, const std::function<void(int64_t)>& work,
                            const std::function<void(int64_t, int64_t)>& consume);

}  // namespace llmprep
