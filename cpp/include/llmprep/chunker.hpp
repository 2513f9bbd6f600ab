// Streaming a document into chunks that can be encoded independently: the UTF-8 policy applied
// block by block with offsets counted in the whole source, and cuts only where the tokenizer's
// result cannot change, so encoding the chunks and concatenating equals encoding the whole text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmprep {

// Which tokenizer the cuts must be safe for.
enum class CutRule {
  kGpt2,        // the GPT-2 / r50k_base pre-tokenizer: gpt2::is_safe_cut
  kCl100k,      // the cl100k_base pre-tokenizer: cl100k::is_safe_cut
  kO200k,       // the o200k_base pre-tokenizer: o200k::is_safe_cut
  kWhitespace,  // the chapter's splitter: just before any whitespace character (Python's \s)
};

// Bytes a rule may look at past a candidate cut. A cut this close to the end of the text seen so
// far is not tried until more text (or the end of the document) arrives.
size_t cut_lookahead(CutRule rule);

// True if cutting valid UTF-8 `text` at p cannot change its tokens under `rule`, when `text` is a
// whole document suffix, or a prefix of one that extends at least cut_lookahead(rule) bytes past
// p (the answer only depends on those bytes). p == 0 and p == text.size() are not cuts: false.
bool is_safe_cut(CutRule rule, std::string_view text, size_t p);

// Cuts one document, fed in blocks of any size (down to one byte), into chunks of valid UTF-8 of
// about `chunk_bytes` each (longer when no safe cut comes sooner: a single pre-token is never
// split). Memory held: the text since the last cut plus at most 3 bytes of an unfinished sequence.
class TextChunker {
 public:
  // source: the name used in error messages (a path, "<stdin>", "file.jsonl line 7").
  // replace=false: the first ill-formed sequence throws Utf8Error with its byte offset in the
  // whole source; replace=true: each becomes U+FFFD exactly as Python's decoder does.
  TextChunker(CutRule rule, size_t chunk_bytes, bool replace, std::string source);

  // The next bytes of the document; appends finished chunks to `out`.
  void push(std::string_view bytes, std::vector<std::string>& out);
  // The document ended: appends what is left (possibly cut further). No chunk is empty.
  void finish(std::vector<std::string>& out);

  size_t chunk_bytes() const noexcept { return chunk_bytes_; }
  // Source bytes consumed so far.
  int64_t bytes_in() const noexcept { return raw_offset_ + static_cast<int64_t>(text_.size() - valid_end_); }

 private:
  void validate_tail(bool final);
  void emit_cuts(bool complete, std::vector<std::string>& out);

  CutRule rule_;
  size_t chunk_bytes_;
  bool replace_;
  std::string source_;
  // text_[start_, valid_end_) is valid text not yet emitted; text_[valid_end_, size) is raw input
  // that the next block may complete (<= 3 bytes between calls), at source offset raw_offset_.
  std::string text_;
  size_t start_ = 0;
  size_t valid_end_ = 0;
  int64_t raw_offset_ = 0;
  size_t scanned_ = 0;  // offsets in text_ below this (and >= start_ + chunk_bytes_) are not safe cuts
  bool finished_ = false;
};

}  // namespace llmprep
