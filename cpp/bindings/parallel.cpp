// A private probe of the thread fan-out for the tests (parallel == serial, the order and coverage
// of parallel_tasks_ordered's consume calls, which error wins, nested calls): the kernels use
// parallel.hpp directly, so nothing else exposes it to Python.
#include "llmprep/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "common.hpp"

namespace llmprep::bindings {

namespace {

// Work on item i: optionally a nested parallel call (which finds the pool busy), then fail if
// asked. Returns a value that depends on i alone.
int64_t probe_work(int64_t i, const std::vector<int64_t>& fail_work, bool nested) {
  int64_t value = i * 3 + 1;
  if (nested) {
    std::vector<int64_t> parts(8, 0);
    parallel_for(8, 2, [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) parts[size_t(k)] = k;
    });
    for (int64_t part : parts) value += part;  // + 28
  }
  if (std::find(fail_work.begin(), fail_work.end(), i) != fail_work.end()) {
    throw std::invalid_argument("work failed at " + std::to_string(i));
  }
  return value;
}

}  // namespace

void register_parallel(py::module_& m) {
  py::module_ testing = testing_module(m);
  m.def("default_num_threads", &default_num_threads,
        "Threads used when none is given: LLMPREP_NUM_THREADS (ValueError unless a positive integer), else "
        "the core count. The one place that decides it.");
  testing.def(
      "parallel_probe",
      [](const std::string& kind, int64_t n, int num_threads, const std::vector<int64_t>& fail_work,
         int64_t fail_consume_at, bool nested, py::list consumed) {
        std::vector<int64_t> values(size_t(std::max<int64_t>(n, 0)), -1);
        {
          py::gil_scoped_release release;
          if (kind == "for") {
            parallel_for(n, num_threads, [&](int64_t begin, int64_t end) {
              for (int64_t i = begin; i < end; ++i) values[size_t(i)] = probe_work(i, fail_work, nested);
            });
          } else if (kind == "tasks") {
            parallel_tasks(n, num_threads, [&](int64_t i) { values[size_t(i)] = probe_work(i, fail_work, nested); });
          } else if (kind == "ordered") {
            parallel_tasks_ordered(
                n, num_threads, [&](int64_t i) { values[size_t(i)] = probe_work(i, fail_work, nested); },
                [&](int64_t begin, int64_t end) {
                  // Acquired as the real consumers do, so the probe also checks that this works.
                  py::gil_scoped_acquire acquire;
                  for (int64_t i = begin; i < end; ++i) {
                    if (values[size_t(i)] < 0) throw std::logic_error("consumed before its work finished");
                    if (i == fail_consume_at) throw std::out_of_range("consume failed at " + std::to_string(i));
                    consumed.append(i);
                  }
                });
          } else {
            throw std::invalid_argument("kind must be 'for', 'tasks' or 'ordered'");
          }
        }
        return values;
      },
      py::arg("kind"), py::arg("n"), py::arg("num_threads"), py::arg("fail_work"), py::arg("fail_consume_at"),
      py::arg("nested"), py::arg("consumed"),
      "Tests only: runs i*3+1 (+28 with a nested parallel_for) for i < n through parallel_for / "
      "parallel_tasks / parallel_tasks_ordered and returns the values; ordered appends each consumed "
      "index to `consumed`, in call order.");
}

}  // namespace llmprep::bindings
