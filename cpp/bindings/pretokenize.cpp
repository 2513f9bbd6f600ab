// Bindings for the pre-tokenizers (gpt2, cl100k_base, o200k_base) and the Unicode class table they
// use: test and inspection hooks. Offsets are UTF-8 byte offsets into the text (what the BPE stage
// works on), not str indices.
#include "llmprep/pretokenize.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "llmprep/unicode_tables.hpp"

namespace llmprep::bindings {

namespace {

// Piece ends as the encoder finds them (batches: the block scanners where they apply), or with the
// scalar scanner alone, one piece per call (the reference the block scanners are tested against).
std::vector<int64_t> ends_of(Pattern pattern, std::string_view utf8, bool scalar) {
  std::vector<int64_t> ends;
  visit_pattern(pattern, [&](auto scanner) {
    using Scanner = decltype(scanner);
    if (scalar) {
      for (size_t pos = 0; pos < utf8.size();) {
        pos = Scanner::next_piece_end(utf8, pos);
        ends.push_back(static_cast<int64_t>(pos));
      }
      return;
    }
    size_t batch[64];
    for (size_t pos = 0; pos < utf8.size();) {
      const size_t k = Scanner::next_piece_ends(utf8, pos, batch, 64);
      ends.insert(ends.end(), batch, batch + k);
      pos = batch[k - 1];
    }
  });
  return ends;
}

py::array ends_array(py::handle text, const std::string& pattern, bool scalar) {
  const Pattern parsed = parse_pattern(pattern);
  const std::string_view utf8 = utf8_of(text, "text");
  std::vector<int64_t> ends;
  {
    py::gil_scoped_release release;
    ends = ends_of(parsed, utf8, scalar);
  }
  return vector_to_numpy(std::move(ends));
}

}  // namespace

void register_pretokenize(py::module_& m) {
  py::module_ testing = testing_module(m);
  m.def(
      "pretokenize_ends", [](py::handle text, const std::string& pattern) { return ends_array(text, pattern, false); },
      py::arg("text"), py::arg("pattern") = "gpt2",
      "End byte offset (in the UTF-8 of text) of each pre-token of the pattern ('gpt2', 'cl100k_base' or "
      "'o200k_base'), as a new int64 array that owns its memory.");
  testing.def(
      "pretokenize_ends_scalar",
      [](py::handle text, const std::string& pattern) { return ends_array(text, pattern, true); }, py::arg("text"),
      py::arg("pattern") = "gpt2",
      "pretokenize_ends with the scalar scanner alone, one piece per call: the reference for the block scanners.");
  testing.def(
      "pretokenize",
      [](py::handle text, const std::string& pattern) {
        const Pattern parsed = parse_pattern(pattern);
        const std::string_view utf8 = utf8_of(text, "text");
        std::vector<int64_t> ends;
        {
          py::gil_scoped_release release;
          ends = ends_of(parsed, utf8, false);
        }
        py::list pieces(ends.size());
        size_t start = 0;
        for (size_t i = 0; i < ends.size(); ++i) {
          pieces[i] = py::str(utf8.data() + start, size_t(ends[i]) - start);
          start = size_t(ends[i]);
        }
        return pieces;
      },
      py::arg("text"), py::arg("pattern") = "gpt2",
      "The pre-tokens of text as a list of str (copies): what tiktoken's regex for the pattern finds.");
  testing.def(
      "safe_cuts",
      [](py::handle text, const std::string& pattern) {
        const Pattern parsed = parse_pattern(pattern);
        const std::string_view utf8 = utf8_of(text, "text");
        std::vector<int64_t> cuts;
        {
          py::gil_scoped_release release;
          visit_pattern(parsed, [&](auto scanner) {
            for (size_t p = 1; p < utf8.size(); ++p) {
              if (decltype(scanner)::is_safe_cut(utf8, p)) cuts.push_back(static_cast<int64_t>(p));
            }
          });
        }
        return vector_to_numpy(std::move(cuts));
      },
      py::arg("text"), py::arg("pattern") = "gpt2",
      "Every UTF-8 byte offset 0 < p < len where cutting cannot change the pattern's pieces (is_safe_cut), as "
      "a new int64 array.");
  testing.def(
      "next_safe_cut",
      [](py::handle text, int64_t pos, const std::string& pattern) {
        const Pattern parsed = parse_pattern(pattern);
        const std::string_view utf8 = utf8_of(text, "text");
        if (pos < 0) throw py::value_error("pos must be >= 0, got " + std::to_string(pos));
        py::gil_scoped_release release;
        return static_cast<int64_t>(next_safe_cut(parsed, utf8, static_cast<size_t>(pos)));
      },
      py::arg("text"), py::arg("pos"), py::arg("pattern") = "gpt2",
      "The smallest safe cut byte offset >= pos in the UTF-8 of text for the pattern, or its length if none.");
  testing.def(
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
  testing.def(
      "unicode_fine_class_table",
      []() {
        std::vector<uint8_t> classes(0x110000);
        for (uint32_t cp = 0; cp < classes.size(); ++cp) classes[cp] = unicode::fine_class(cp);
        return vector_to_numpy(std::move(classes));
      },
      "The fine class of every code point 0..U+10FFFF as a new uint8 array: the class of unicode_class_table "
      "in bits 0-1, and 0 other, 4 mark (\\p{M}), 1 Lu/Lt, 5 Ll, 9 Lm/Lo, 2 number, 3 whitespace.");
}

}  // namespace llmprep::bindings
