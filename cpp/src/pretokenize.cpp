// Pattern names and run-time dispatch over the pre-tokenizer scanners (pretokenize.hpp).
#include "llmprep/pretokenize.hpp"

#include <stdexcept>
#include <string>

#include "pretokenize_scan.hpp"

namespace llmprep {

namespace scan {

void throw_position(const char* function, size_t pos, size_t size, bool inside) {
  throw std::out_of_range(std::string(function) + ": position " + std::to_string(pos) +
                          (inside ? " is not inside the text of " : " is past the end of the text of ") +
                          std::to_string(size) + " bytes");
}

}  // namespace scan

Pattern parse_pattern(std::string_view name) {
  if (name == "gpt2" || name == "r50k_base" || name == "p50k_base" || name == "p50k_edit") return Pattern::kGpt2;
  if (name == "cl100k_base") return Pattern::kCl100k;
  if (name == "o200k_base" || name == "o200k_harmony") return Pattern::kO200k;
  throw std::invalid_argument("unknown pre-tokenizer pattern '" + std::string(name) +
                              "': use 'gpt2' (also 'r50k_base'), 'cl100k_base' or 'o200k_base'");
}

const char* pattern_name(Pattern pattern) {
  switch (pattern) {
    case Pattern::kCl100k:
      return "cl100k_base";
    case Pattern::kO200k:
      return "o200k_base";
    case Pattern::kGpt2:
    default:
      return "gpt2";
  }
}

const char* pattern_regex(Pattern pattern) {
  switch (pattern) {
    case Pattern::kCl100k:
      return cl100k::kPattern;
    case Pattern::kO200k:
      return o200k::kPattern;
    case Pattern::kGpt2:
    default:
      return gpt2::kPattern;
  }
}

size_t next_piece_end(Pattern pattern, std::string_view text, size_t pos) {
  return visit_pattern(pattern, [&](auto scanner) { return decltype(scanner)::next_piece_end(text, pos); });
}

bool is_safe_cut(Pattern pattern, std::string_view text, size_t p) {
  return visit_pattern(pattern, [&](auto scanner) { return decltype(scanner)::is_safe_cut(text, p); });
}

size_t next_safe_cut(Pattern pattern, std::string_view text, size_t from) {
  return visit_pattern(pattern, [&](auto scanner) { return decltype(scanner)::next_safe_cut(text, from); });
}

}  // namespace llmprep
