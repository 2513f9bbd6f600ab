// Bindings for UTF-8 handling and file reading.
#include <string>

#include "common.hpp"
#include "llmprep/io.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep::bindings {

void register_text(py::module_& m) {
  py::module_ testing = testing_module(m);
  testing.def(
      "utf8_fault",
      [](py::bytes data) {
        const std::string_view view = data;
        Utf8Fault fault;
        {
          py::gil_scoped_release release;
          fault = find_utf8_fault(view);
        }
        return py::make_tuple(fault.offset, fault.length, fault.reason);
      },
      py::arg("data"), "(offset, length, reason) of the first ill-formed UTF-8 sequence; offset -1 if none.");
  testing.def(
      "replace_invalid_utf8",
      [](py::bytes data) {
        const std::string_view view = data;
        std::string out;
        {
          py::gil_scoped_release release;
          out = replace_invalid_utf8(view);
        }
        return py::bytes(out);
      },
      py::arg("data"), "bytes.decode('utf-8', 'replace').encode('utf-8'), in C++ (a copy).");
  m.def(
      "read_text",
      [](const std::string& path, bool replace) {
        std::string text;
        {
          py::gil_scoped_release release;
          text = read_utf8_file(path, replace);
        }
        return py::str(text.data(), static_cast<py::ssize_t>(text.size()));
      },
      py::arg("path"), py::arg("replace"),
      "A UTF-8 file as str; strict (InvalidUTF8Error with the byte offset) or replace, as Python decodes.");
}

}  // namespace llmprep::bindings
