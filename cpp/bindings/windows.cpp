// Bindings for the window kernels: a 1-D numpy token array in, windows written into numpy buffers
// (the caller's, e.g. a pinned torch tensor's .numpy(), or fresh ones for materialize_windows).
// Checks here only keep the C++ core safe; the messages users see come from llmprep/sources.py.
#include "llmprep/windows.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
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

// Calls fn(Token{}) for the token type of a numpy dtype (TypeError for any other dtype).
template <class Fn>
void with_token_type(const py::dtype& dtype, Fn&& fn) {
  with_tokens(py::array(dtype, 0),
              [&](auto* typed) { fn(std::remove_const_t<std::remove_pointer_t<decltype(typed)>>{}); });
}

// The shard files of one token sequence (llmprep::TokenParts: each mapped on first need, no
// descriptor kept), gathered from in one call per batch. Not picklable and per process:
// llmprep.sources.ShardSet builds one in each process that gathers.
class PyTokenParts {
 public:
  PyTokenParts(const std::vector<py::bytes>& paths,
               const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& offsets,
               const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& ends, const py::dtype& dtype) {
    if (ends.ndim() != 1 || offsets.ndim() != 1 || offsets.size() != ends.size()) {
      throw std::invalid_argument("ends and offsets must be 1-D arrays with one entry per path");
    }
    if (paths.size() != static_cast<size_t>(ends.size())) {
      throw std::invalid_argument("there must be one path per part: " + std::to_string(paths.size()) + " paths for " +
                                  std::to_string(ends.size()) + " parts");
    }
    std::vector<PartFile> files;
    files.reserve(paths.size());
    for (size_t p = 0; p < paths.size(); ++p) files.push_back({std::string(paths[p]), offsets.data()[p]});
    int itemsize = 0;
    with_token_type(dtype, [&](auto token) {
      using Token = decltype(token);
      itemsize = static_cast<int>(sizeof(Token));
      gather_ = &PyTokenParts::gather_typed<Token>;
      read_ = &PyTokenParts::read_typed<Token>;
    });
    parts_ = std::make_unique<TokenParts>(std::move(files),
                                          std::vector<int64_t>(ends.data(), ends.data() + ends.size()), itemsize);
  }

  void gather(int64_t max_length, int64_t stride,
              const py::array_t<int64_t, py::array::c_style | py::array::forcecast>& windows, py::array& inputs,
              py::array& targets, int num_threads) {
    if (windows.ndim() != 1) throw std::invalid_argument("windows must be a 1-D sequence of indices");
    check_outputs(inputs, targets, windows.shape(0), max_length);
    (this->*gather_)(WindowSpec{parts_->n_tokens(), max_length, stride}, windows, inputs, targets, num_threads);
  }

  py::array read(int64_t start, int64_t stop) { return (this->*read_)(start, stop); }

  int64_t n_mapped() const { return parts_->n_mapped(); }

 private:
  using Windows = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

  template <class Token>
  void gather_typed(const WindowSpec& spec, const Windows& windows, py::array& inputs, py::array& targets,
                    int num_threads) {
    const int64_t* index = windows.data();
    const int64_t count = windows.shape(0);
    const bool wide = is_int64(inputs);
    void* in = inputs.mutable_data();
    void* tg = targets.mutable_data();
    py::gil_scoped_release release;  // mapping (file system calls) and copying both run without it
    const auto* parts = reinterpret_cast<const Token* const*>(parts_->map_windows(spec, index, count));
    if (wide) {
      gather_windows_parts<Token, int64_t>(parts, parts_->part_ends(), parts_->n_parts(), spec, index, count,
                                           static_cast<int64_t*>(in), static_cast<int64_t*>(tg), num_threads,
                                           &parts_->index());
    } else {
      gather_windows_parts<Token, int32_t>(parts, parts_->part_ends(), parts_->n_parts(), spec, index, count,
                                           static_cast<int32_t*>(in), static_cast<int32_t*>(tg), num_threads,
                                           &parts_->index());
    }
  }

  template <class Token>
  py::array read_typed(int64_t start, int64_t stop) {
    const int64_t n = parts_->n_tokens();
    start = std::clamp<int64_t>(start, 0, n);  // slice semantics: the caller clamps, this is the core's guard
    stop = std::clamp<int64_t>(stop, start, n);
    py::array_t<Token> out(stop - start);
    Token* data = out.mutable_data();
    {
      py::gil_scoped_release release;
      const auto* parts = reinterpret_cast<const Token* const*>(parts_->map_range(start, stop));
      copy_parts_range<Token>(parts, parts_->part_ends(), parts_->n_parts(), start, stop, data);
    }
    return out;
  }

  using GatherFn = void (PyTokenParts::*)(const WindowSpec&, const Windows&, py::array&, py::array&, int);
  using ReadFn = py::array (PyTokenParts::*)(int64_t, int64_t);

  std::unique_ptr<TokenParts> parts_;
  GatherFn gather_ = nullptr;
  ReadFn read_ = nullptr;
};

}  // namespace

void register_windows(py::module_& m) {
  py::class_<PyTokenParts>(m, "TokenParts",
                           "The shard files of one token sequence: part k holds tokens [ends[k-1], ends[k]) at byte\n"
                           "offsets[k] of paths[k]. Each file is memory-mapped when a window first needs it (no file\n"
                           "descriptor kept) and stays mapped while this object lives.")
      .def(py::init<const std::vector<py::bytes>&,
                    const py::array_t<int64_t, py::array::c_style | py::array::forcecast>&,
                    const py::array_t<int64_t, py::array::c_style | py::array::forcecast>&, const py::dtype&>(),
           py::arg("paths"), py::arg("offsets"), py::arg("ends"), py::arg("dtype"))
      .def("gather", &PyTokenParts::gather, py::arg("max_length"), py::arg("stride"), py::arg("windows"),
           py::arg("inputs"), py::arg("targets"), py::arg("num_threads") = 0,
           "gather_windows over the concatenation of the parts, in place; maps the parts the windows touch first.")
      .def("read", &PyTokenParts::read, py::arg("start"), py::arg("stop"),
           "Tokens [start, stop) of the concatenation (clamped to it) as a new array (a copy).")
      .def_property_readonly("n_mapped", &PyTokenParts::n_mapped, "How many parts are mapped in this process.");

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
