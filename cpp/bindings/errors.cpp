// C++ exceptions -> Python exceptions, and the str -> UTF-8 conversion every binding uses.
#include "llmprep/errors.hpp"

#include <string>

#include "common.hpp"

namespace llmprep::bindings {

namespace {
PyObject* invalid_utf8_error_type = nullptr;  // owned by the module for the process lifetime
}

std::string_view utf8_of(py::handle text, const char* argument_name) {
  if (!PyUnicode_Check(text.ptr())) {
    throw py::type_error(std::string(argument_name) + " must be str, not " +
                         std::string(py::str(py::type::handle_of(text).attr("__name__"))));
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (data != nullptr) return {data, static_cast<size_t>(size)};
  PyErr_Clear();
  // The only str that has no UTF-8 form is one holding a lone surrogate: say where it is.
  const Py_ssize_t length = PyUnicode_GetLength(text.ptr());
  for (Py_ssize_t i = 0; i < length; ++i) {
    const Py_UCS4 cp = PyUnicode_ReadChar(text.ptr(), i);
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "U+%04X", static_cast<unsigned>(cp));
      throw py::value_error(std::string(argument_name) + " contains a lone surrogate " + hex + " at index " +
                            std::to_string(i) +
                            ", which cannot be encoded as UTF-8; remove it, or clean the text first with "
                            "text.encode('utf-8', 'replace').decode('utf-8')");
    }
  }
  throw py::value_error(std::string(argument_name) + " cannot be encoded as UTF-8");
}

void register_errors(py::module_& m) {
  invalid_utf8_error_type = PyErr_NewExceptionWithDoc(
      "llmprep._core.InvalidUTF8Error",
      "Bytes that are not valid UTF-8. Attributes: offset (byte offset of the first bad sequence), reason.",
      PyExc_ValueError, nullptr);
  if (invalid_utf8_error_type == nullptr) throw py::error_already_set();
  m.add_object("InvalidUTF8Error", py::handle(invalid_utf8_error_type));

  // Registered translators run before pybind11's defaults, so llmprep::KeyError (an
  // std::out_of_range) becomes KeyError rather than IndexError.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const llmprep::KeyError& e) {
      PyErr_SetObject(PyExc_KeyError, py::str(e.key()).ptr());
    } catch (const llmprep::Utf8Error& e) {
      py::object exc = py::reinterpret_borrow<py::object>(invalid_utf8_error_type)(e.what());
      exc.attr("offset") = e.offset();
      exc.attr("reason") = e.reason();
      PyErr_SetObject(invalid_utf8_error_type, exc.ptr());
    } catch (const llmprep::IoError& e) {
      // OSError(errno, message) picks the right subclass (FileNotFoundError, PermissionError, ...).
      py::object exc = py::reinterpret_borrow<py::object>(PyExc_OSError)(e.errnum(), e.what());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace llmprep::bindings
