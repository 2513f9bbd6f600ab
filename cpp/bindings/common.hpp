// Shared helpers for the binding files (the only code that includes pybind11): converting
// Python inputs, wrapping C++ results as numpy arrays without copying, and the registration
// entry points each binding file provides to module.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace llmprep::bindings {

namespace py = pybind11;

// The UTF-8 bytes of a Python str, borrowed from the str's own cached UTF-8 form: keep `text`
// alive while the view is used. Call with the GIL held. TypeError for a non-str; ValueError
// naming the index for a lone surrogate (which has no UTF-8 form).
std::string_view utf8_of(py::handle text, const char* argument_name);

// A 1-D numpy array that takes ownership of a vector's buffer (no copy); a capsule frees it when
// the last view is gone.
template <class T>
py::array_t<T> vector_to_numpy(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, {static_cast<py::ssize_t>(sizeof(T))}, owned->data(),
                        owner);
}

// The same array made read-only (as tiktoken's encode_to_numpy returns it): the flag cleared in C++
// costs nothing, where setting `flags.writeable` from Python took a quarter of a short call.
template <class T>
py::array_t<T> read_only(py::array_t<T>&& array) {
  py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return std::move(array);
}

// llmprep._core._testing, which module.cpp creates before any register_* runs: the home of the
// test and inspection hooks (the package never calls them; no stability promise).
inline py::module_ testing_module(py::module_& m) { return m.attr("_testing").cast<py::module_>(); }

// One per binding file; module.cpp calls them all.
void register_errors(py::module_& m);
void register_text(py::module_& m);
void register_simple(py::module_& m);
void register_windows(py::module_& m);
void register_pretokenize(py::module_& m);
void register_bpe(py::module_& m);
void register_tokenize(py::module_& m);
void register_vocab_files(py::module_& m);
void register_parallel(py::module_& m);
void register_checksum(py::module_& m);

}  // namespace llmprep::bindings
