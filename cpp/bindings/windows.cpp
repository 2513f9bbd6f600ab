// Bindings for the window kernels: a 1-D numpy token array in, windows written into numpy buffers
// (the caller's, e.g. a pinned torch tensor's .numpy(), or fresh ones for materialize_windows).
// Checks here only keep the C++ core safe; the messages users see come from llmprep/data.py.
#include "llmprep/windows.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "common.hpp"

namespace llmprep::bindings {

namespace {

bool is_c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// Calls fn(const Token*) with the token array's data typed by its dtype.
template <class Fn>
void with_tokens(const py::array& tokens, Fn&& fn) {
  if (tokens.ndim() != 1 || !is_c_contiguous(tokens)) {
    throw std::invalid_argument("tokens must be a 1-D C-contiguous array");
  }
  const void* data = tokens.data();
  if (py::isinstance<py::array_t<uint16_t>>(tokens)) return fn(static_cast<const uint16_t*>(data));
  if (py::isinstance<py::array_t<uint32_t>>(tokens)) return fn(static_cast<const uint32_t*>(data));
  if (py::isinstance<py::array_t<int32_t>>(tokens)) return fn(static_cast<const int32_t*>(data));
  if (py::isinstance<py::array_t<int64_t>>(tokens)) return fn(static_cast<const int64_t*>(data));
  throw py::type_error("tokens must have dtype uint16, uint32, int32 or int64 (native byte order), not " +
                       std::string(py::str(tokens.dtype())));
}

bool is_int64(const py::array& a) { return py::isinstance<py::array_t<int64_t>>(a); }
bool is_int32(const py::array& a) { return py::isinstance<py::array_t<int32_t>>(a); }

void check_output(const py::array& out, const char* name, int64_t rows, int64_t max_length) {
  if (out.ndim() != 2 || out.shape(0) != rows || out.shape(1) != max_length) {
    throw std::invalid_argument(std::string(name) + " must have shape (" + std::to_string(rows) + ", " +
                                std::to_string(max_length) + ")");
  }
  if (!is_c_contiguous(out) || !out.writeable()) {
    throw std::invalid_argument(std::string(name) + " must be a writable C-contiguous array");
  }
  if (!is_int64(out) && !is_int32(out)) throw py::type_error(std::string(name) + " must have dtype int64 or int32");
}

void check_outputs(const py::array& inputs, const py::array& targets, int64_t rows, int64_t max_length) {
  check_output(inputs, "inputs", rows, max_length);
  check_output(targets, "targets", rows, max_length);
  if (is_int64(inputs) != is_int64(targets)) throw py::type_error("inputs and targets must have the same dtype");
  const auto* a = static_cast<const char*>(inputs.data());
  const auto* b = static_cast<const char*>(targets.data());
  const auto bytes = static_cast<size_t>(inputs.nbytes());
  if (rows > 0 && a < b + bytes && b < a + bytes) {
    throw std::invalid_argument("inputs and targets must not overlap");
  }
}

template <class Out, class Token>
void gather_into(const Token* tokens, const WindowSpec& spec, const py::array_t<int64_t>& windows, py::array& inputs,
                 py::array& targets, int num_threads) {
  const int64_t* index = windows.data();
  const int64_t count = windows.shape(0);
  Out* in = static_cast<Out*>(inputs.mutable_data());
  Out* tg = static_cast<Out*>(targets.mutable_data());
  py::gil_scoped_release release;
  gather_windows<Token, Out>(tokens, spec, index, count, in, tg, num_threads);
}

// The parts (shard arrays) of one token sequence, for gather_windows_parts: a table of data
// pointers filled in as Python maps each part, the arrays kept alive here. Not picklable and
// per process: llmprep.sources.ShardSet builds one in each process that gathers.
class TokenParts {
 public:
  TokenParts(const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& ends, const py::dtype& dtype)
      : ends_(ends.data(), ends.data() + ends.size()),
        pointers_(static_cast<size_t>(ends.size()), nullptr),
        keep_(static_cast<size_t>(ends.size())),
        dtype_(dtype) {
    if (ends.ndim() != 1 || ends.size() == 0) throw std::invalid_argument("ends must be a non-empty 1-D array");
    int64_t previous = 0;
    for (const int64_t end : ends_) {
      if (end < previous) throw std::invalid_argument("ends must be non-decreasing and >= 0");
      previous = end;
    }
    with_tokens(py::array(dtype, 0), [this](auto* typed) {  // rejects an unsupported dtype
      using Token = std::remove_const_t<std::remove_pointer_t<decltype(typed)>>;
      gather_ = &TokenParts::gather_typed<Token>;
    });
  }

  void set(int64_t k, const py::array& tokens) {
    if (k < 0 || k >= static_cast<int64_t>(ends_.size())) throw std::out_of_range("part index out of range");
    if (tokens.ndim() != 1 || !is_c_contiguous(tokens) || !tokens.dtype().equal(dtype_)) {
      throw std::invalid_argument("a part must be a 1-D C-contiguous array of the parts' dtype");
    }
    const int64_t begin = k > 0 ? ends_[static_cast<size_t>(k - 1)] : 0;
    if (tokens.shape(0) != ends_[static_cast<size_t>(k)] - begin) {
      throw std::invalid_argument("part " + std::to_string(k) + " must hold " +
                                  std::to_string(ends_[static_cast<size_t>(k)] - begin) + " tokens, not " +
                                  std::to_string(tokens.shape(0)));
    }
    keep_[static_cast<size_t>(k)] = tokens;
    pointers_[static_cast<size_t>(k)] = tokens.data();
  }

  // One call per batch: returns the parts still to set (and writes nothing) when some window needs
  // one; else gathers and returns an empty list.
  py::list gather(int64_t max_length, int64_t stride,
                  const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& windows, py::array& inputs,
                  py::array& targets, int num_threads) const {
    if (windows.ndim() != 1) throw std::invalid_argument("windows must be a 1-D sequence of indices");
    check_outputs(inputs, targets, windows.shape(0), max_length);
    const WindowSpec spec{ends_.back(), max_length, stride};
    const std::vector<int64_t> missing = parts_needed(
        pointers_.data(), ends_.data(), static_cast<int64_t>(ends_.size()), spec, windows.data(), windows.shape(0));
    py::list result;
    if (!missing.empty()) {
      for (const int64_t k : missing) result.append(k);
      return result;
    }
    (this->*gather_)(spec, windows, inputs, targets, num_threads);
    return result;
  }

 private:
  template <class Token>
  void gather_typed(const WindowSpec& spec,
                    const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& windows, py::array& inputs,
                    py::array& targets, int num_threads) const {
    const auto* parts = reinterpret_cast<const Token* const*>(pointers_.data());
    const int64_t n_parts = static_cast<int64_t>(ends_.size());
    const int64_t* index = windows.data();
    const int64_t count = windows.shape(0);
    if (is_int64(inputs)) {
      auto* in = static_cast<int64_t*>(inputs.mutable_data());
      auto* tg = static_cast<int64_t*>(targets.mutable_data());
      py::gil_scoped_release release;
      gather_windows_parts<Token, int64_t>(parts, ends_.data(), n_parts, spec, index, count, in, tg, num_threads);
    } else {
      auto* in = static_cast<int32_t*>(inputs.mutable_data());
      auto* tg = static_cast<int32_t*>(targets.mutable_data());
      py::gil_scoped_release release;
      gather_windows_parts<Token, int32_t>(parts, ends_.data(), n_parts, spec, index, count, in, tg, num_threads);
    }
  }

  using GatherFn = void (TokenParts::*)(const WindowSpec&,
                                        const py::array_t<int64_t, py::array::c_style | py::array::forcecast>&,
                                        py::array&, py::array&, int) const;

  std::vector<int64_t> ends_;
  std::vector<const void*> pointers_;
  std::vector<py::object> keep_;
  py::dtype dtype_;
  GatherFn gather_ = nullptr;
};

}  // namespace

void register_windows(py::module_& m) {
  py::class_<TokenParts>(m, "TokenParts",
                         "The parts (shard arrays) of one token sequence: part k holds tokens [ends[k-1], ends[k]).")
      .def(py::init<const py::array_t<int64_t, py::array::c_style | py::array::forcecast>&, const py::dtype&>(),
           py::arg("ends"), py::arg("dtype"))
      .def("set", &TokenParts::set, py::arg("k"), py::arg("tokens"), "Installs part k (kept alive here).")
      .def("gather", &TokenParts::gather, py::arg("max_length"), py::arg("stride"), py::arg("windows"),
           py::arg("inputs"), py::arg("targets"), py::arg("num_threads") = 0,
           "gather_windows over the concatenation of the parts. Returns the indices of parts the windows touch\n"
           "that are not set yet (then nothing is written: set them and call again), else [].");

  m.def("window_count", &window_count, py::arg("n_tokens"), py::arg("max_length"), py::arg("stride"),
        "len(range(0, n_tokens - max_length, stride)): the chapter's number of windows.");

  m.def(
      "gather_windows",
      [](const py::array& tokens, int64_t max_length, int64_t stride,
         const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& windows, py::array inputs,
         py::array targets, int num_threads) {
        if (windows.ndim() != 1) throw std::invalid_argument("windows must be a 1-D sequence of indices");
        check_outputs(inputs, targets, windows.shape(0), max_length);
        with_tokens(tokens, [&](auto* data) {
          const WindowSpec spec{tokens.shape(0), max_length, stride};
          if (is_int64(inputs)) {
            gather_into<int64_t>(data, spec, windows, inputs, targets, num_threads);
          } else {
            gather_into<int32_t>(data, spec, windows, inputs, targets, num_threads);
          }
        });
      },
      py::arg("tokens"), py::arg("max_length"), py::arg("stride"), py::arg("windows"), py::arg("inputs"),
      py::arg("targets"), py::arg("num_threads") = 0,
      "Writes window windows[r] of tokens into row r of inputs and (shifted by one) targets, in place.\n"
      "inputs/targets: writable C-contiguous (len(windows), max_length) int64 or int32 arrays.");

  m.def(
      "materialize_windows",
      [](const py::array& tokens, int64_t max_length, int64_t stride, bool int32, int num_threads) {
        py::tuple result;
        with_tokens(tokens, [&](auto* data) {
          const WindowSpec spec{tokens.shape(0), max_length, stride};
          const int64_t n = window_count(spec.n_tokens, max_length, stride);
          auto run = [&](auto out_tag) {
            using Out = decltype(out_tag);
            py::array_t<Out> inputs({n, max_length});
            py::array_t<Out> targets({n, max_length});
            Out* in = inputs.mutable_data();
            Out* tg = targets.mutable_data();
            {
              py::gil_scoped_release release;
              gather_window_range<std::remove_const_t<std::remove_pointer_t<decltype(data)>>, Out>(data, spec, 0, n, in,
                                                                                                   tg, num_threads);
            }
            result = py::make_tuple(inputs, targets);
          };
          if (int32) {
            run(int32_t{});
          } else {
            run(int64_t{});
          }
        });
        return result;
      },
      py::arg("tokens"), py::arg("max_length"), py::arg("stride"), py::arg("int32") = false, py::arg("num_threads") = 0,
      "All windows as two new (n_windows, max_length) arrays (inputs, targets): a copy.");
}

}  // namespace llmprep::bindings
