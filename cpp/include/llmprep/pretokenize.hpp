// The pre-tokenizer patterns the BPE encoder runs natively (tiktoken's r50k/GPT-2, cl100k_base and
// o200k_base regexes, each a hand-written scanner), by name, and dispatch over them. Hot loops
// dispatch once per text through visit_pattern, never once per piece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "llmprep/pretokenize_cl100k.hpp"
#include "llmprep/pretokenize_gpt2.hpp"
#include "llmprep/pretokenize_o200k.hpp"

namespace llmprep {

enum class Pattern : uint8_t { kGpt2, kCl100k, kO200k };

// "gpt2" (also "r50k_base", "p50k_base", "p50k_edit": the same pattern), "cl100k_base",
// "o200k_base" (also "o200k_harmony"). Throws std::invalid_argument naming the accepted names.
Pattern parse_pattern(std::string_view name);
// "gpt2", "cl100k_base" or "o200k_base".
const char* pattern_name(Pattern pattern);
// tiktoken's pat_str of the pattern (the exact string its encodings use).
const char* pattern_regex(Pattern pattern);

// The per-pattern functions as a type, for templates (see visit_pattern).
struct Gpt2Scanner {
  static size_t next_piece_end(std::string_view text, size_t pos) { return gpt2::next_piece_end(text, pos); }
  static size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
    return gpt2::next_piece_ends(text, pos, ends, max);
  }
  static bool is_safe_cut(std::string_view text, size_t p) { return gpt2::is_safe_cut(text, p); }
  static size_t next_safe_cut(std::string_view text, size_t p) { return gpt2::next_safe_cut(text, p); }
};
struct Cl100kScanner {
  static size_t next_piece_end(std::string_view text, size_t pos) { return cl100k::next_piece_end(text, pos); }
  static size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
    return cl100k::next_piece_ends(text, pos, ends, max);
  }
  static bool is_safe_cut(std::string_view text, size_t p) { return cl100k::is_safe_cut(text, p); }
  static size_t next_safe_cut(std::string_view text, size_t p) { return cl100k::next_safe_cut(text, p); }
};
struct O200kScanner {
  static size_t next_piece_end(std::string_view text, size_t pos) { return o200k::next_piece_end(text, pos); }
  static size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max) {
    return o200k::next_piece_ends(text, pos, ends, max);
  }
  static bool is_safe_cut(std::string_view text, size_t p) { return o200k::is_safe_cut(text, p); }
  static size_t next_safe_cut(std::string_view text, size_t p) { return o200k::next_safe_cut(text, p); }
};

// Calls f(Scanner{}) with the scanner type of `pattern`, so a loop inside f calls the scanner
// directly: one switch per call of visit_pattern, none per piece.
template <class F>
decltype(auto) visit_pattern(Pattern pattern, F&& f) {
  switch (pattern) {
    case Pattern::kCl100k:
      return std::forward<F>(f)(Cl100kScanner{});
    case Pattern::kO200k:
      return std::forward<F>(f)(O200kScanner{});
    case Pattern::kGpt2:
    default:
      return std::forward<F>(f)(Gpt2Scanner{});
  }
}

// The same functions for a pattern chosen at run time (one switch per call: fine outside hot loops).
size_t next_piece_end(Pattern pattern, std::string_view text, size_t pos);
bool is_safe_cut(Pattern pattern, std::string_view text, size_t p);
size_t next_safe_cut(Pattern pattern, std::string_view text, size_t from);

}  // namespace llmprep
