// Bindings for the GPT-2 pre-tokenizer and the Unicode class table it uses. Offsets are UTF-8
// byte offsets into the text (what the BPE stage works on), not str indices.
#include "llmprep/pretokenize_gpt2.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "llmprep/unicode_tables.hpp"

namespace llmprep::bindings {

void register_pretokenize_gpt2(py::module_& m) {
  m.def(
      "gpt2_piece_ends",
      [](py::handle text) {
        const std::string_view utf8 = utf8_of(text, "text");
        std::vector<int64_t> ends;
        {
          py::gil_scoped_release release;
          // Built here rather than through gpt2::piece_ends so the array is int64 without a copy.
          for (size_t pos = 0; pos < utf8.size();) {
            pos = gpt2::next_piece_end(utf8, pos);
            ends.push_back(static_cast<int64_t>(pos));
          }
        }
        return vector_to_numpy(std::move(ends));
      },
      py::arg("text"),
      "End byte offset (in the UTF-8 of text) of each GPT-2 pre-token, as a new int64 array that owns its "
      "memory.");
  m.def(
      "gpt2_pieces",
      [](py::handle text) {
        const std::string_view utf8 = utf8_of(text, "text");
        std::vector<size_t> ends;
        {
          py::gil_scoped_release release;
          gpt2::piece_ends(utf8, ends);
        }
        py::list pieces(ends.size());
        size_t start = 0;
        for (size_t i = 0; i < ends.size(); ++i) {
          pieces[i] = py::str(utf8.data() + start, ends[i] - start);
          start = ends[i];
        }
        return pieces;
      },
      py::arg("text"), "The GPT-2 pre-tokens of text as a list of str (copies): what tiktoken's regex finds.");
  m.def(
      "gpt2_safe_cuts",
      [](py::handle text) {
        const std::string_view utf8 = utf8_of(text, "text");
        std::vector<int64_t> cuts;
        {
          py::gil_scoped_release release;
          for (size_t p = 1; p < utf8.size(); ++p) {
            if (gpt2::is_safe_cut(utf8, p)) cuts.push_back(static_cast<int64_t>(p));
          }
        }
        return vector_to_numpy(std::move(cuts));
      },
      py::arg("text"),
      "Every UTF-8 byte offset 0 < p < len where cutting cannot change the GPT-2 pieces (is_safe_cut), as a "
      "new int64 array.");
  m.def(
      "gpt2_next_safe_cut",
      [](py::handle text, int64_t pos) {
        const std::string_view utf8 = utf8_of(text, "text");
        if (pos < 0) throw py::value_error("pos must be >= 0, got " + std::to_string(pos));
        py::gil_scoped_release release;
        return static_cast<int64_t>(gpt2::next_safe_cut(utf8, static_cast<size_t>(pos)));
      },
      py::arg("text"), py::arg("pos"),
      "The smallest safe cut byte offset >= pos in the UTF-8 of text, or its length if none.");
  m.def(
      "unicode_class_table",
      []() {
        std::vector<uint8_t> classes(0x110000);
        for (uint32_t cp = 0; cp < classes.size(); ++cp) {
          classes[cp] = static_cast<uint8_t>(unicode::char_class(cp));
        }
        return vector_to_numpy(std::move(classes));
      },
      "The pre-tokenizer's class of every code point 0..U+10FFFF as a new uint8 array: 0 other, 1 letter "
      "(\\p{L}), 2 number (\\p{N}), 3 whitespace (tiktoken's \\s), from the Unicode 16.0.0 tables.");
}

}  // namespace llmprep::bindings
