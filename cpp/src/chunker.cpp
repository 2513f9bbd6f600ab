// Streaming documents into independently encodable chunks: the block-by-block UTF-8 policy and
// the safe-cut search.
//
// Performance notes: blocks are appended to the chunker's text buffer and validated in place, so
// valid input is copied once on the way in and once into its chunk (both memcpy speed, far below
// the encoder's cost). Emitted text is dropped by moving a start index; the buffer is compacted
// only when the dead prefix is at least half of it, so each byte is moved O(1) times. The cut
// search starts at the target size and remembers how far it got, so a long stretch without a safe
// cut (one huge pre-token) is scanned once, not once per block. Tried and rejected: validating each
// chunk after cutting (it would need the cut search to run on unvalidated bytes).
#include "llmprep/chunker.hpp"

#include <algorithm>
#include <stdexcept>

#include "llmprep/pretokenize.hpp"
#include "llmprep/pretokenize_simple.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep {

namespace {

// The end of the prefix of s[begin, n) that a UTF-8 decoder can finish without seeing more bytes:
// everything except a trailing sequence whose lead byte announces more bytes than are present.
// Cutting there is a unit boundary for Python's decoder too: its maximal subparts start at a byte
// that is not a continuation byte, so what it reports before the cut cannot depend on what follows.
size_t decodable_end(const unsigned char* s, size_t begin, size_t n) {
  size_t q = n;
  for (int k = 0; k < 4 && q > begin; ++k) {
    --q;
    const unsigned char b = s[q];
    if ((b & 0xC0) == 0x80) continue;
    size_t need = 1;  // ASCII, and bytes that can never start a sequence (0x80-0xC1, 0xF5-0xFF)
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    if (b >= 0xE0 && b <= 0xEF) need = 3;
    if (b >= 0xF0 && b <= 0xF4) need = 4;
    return q + need > n ? q : n;
  }
  return n;  // only stray continuation bytes: each is an error on its own, whatever follows
}

}  // namespace

size_t cut_lookahead(CutRule rule) {
  // The pre-tokenizers' is_safe_cut read at most the two code points starting at p (<= 8 bytes);
  // the whitespace rule reads the one character starting at p (<= 3 bytes for any whitespace
  // character).
  return rule == CutRule::kWhitespace ? 3 : 8;
}

bool is_safe_cut(CutRule rule, std::string_view text, size_t p) {
  if (p == 0 || p >= text.size()) return false;
  if (rule == CutRule::kGpt2) return gpt2::is_safe_cut(text, p);
  if (rule == CutRule::kCl100k) return cl100k::is_safe_cut(text, p);
  if (rule == CutRule::kO200k) return o200k::is_safe_cut(text, p);
  // The chapter's splitter drops whitespace and no token contains it, so every token lies wholly
  // on one side of a cut made just before a whitespace character.
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  return simple::whitespace_length(s + p, text.size() - p) > 0;
}

TextChunker::TextChunker(CutRule rule, size_t chunk_bytes, bool replace, std::string source)
    : rule_(rule), chunk_bytes_(std::max<size_t>(chunk_bytes, 1)), replace_(replace), source_(std::move(source)) {}

void TextChunker::validate_tail(bool final) {
  // text_[valid_end_, size) is raw input: make its decodable part valid text.
  const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
  const size_t n = text_.size();
  const size_t boundary = final ? n : decodable_end(s, valid_end_, n);
  const std::string_view raw(text_.data() + valid_end_, boundary - valid_end_);
  const Utf8Fault fault = find_utf8_fault(raw);
  raw_offset_ += static_cast<int64_t>(raw.size());
  if (fault.offset < 0) {
    valid_end_ = boundary;
    return;
  }
  if (!replace_) {
    // The reason may depend on the byte after `boundary` ("\xc3" then "\xc3" is an invalid
    // continuation, not an unexpected end): ask again with the whole tail in view.
    const std::string_view tail_view(text_.data() + valid_end_, n - valid_end_);
    const Utf8Fault full = find_utf8_fault(tail_view, fault.offset);
    const int64_t offset = raw_offset_ - static_cast<int64_t>(raw.size()) + fault.offset;
    throw_utf8_error(source_, static_cast<unsigned char>(raw[static_cast<size_t>(fault.offset)]), offset, full.reason);
  }
  std::string fixed = replace_invalid_utf8(raw);
  const size_t tail = n - boundary;
  fixed.append(text_, boundary, tail);
  text_.resize(valid_end_);
  text_ += fixed;
  valid_end_ = text_.size() - tail;
}

void TextChunker::push(std::string_view bytes, std::vector<std::string>& out) {
  if (finished_) throw std::logic_error("TextChunker::push after finish");
  text_.append(bytes.data(), bytes.size());
  validate_tail(false);
  emit_cuts(false, out);
}

void TextChunker::finish(std::vector<std::string>& out) {
  if (finished_) return;
  validate_tail(true);
  emit_cuts(true, out);
  finished_ = true;
  text_.clear();
  text_.shrink_to_fit();
}

void TextChunker::emit_cuts(bool complete, std::vector<std::string>& out) {
  const size_t lookahead = cut_lookahead(rule_);
  for (;;) {
    const size_t length = valid_end_ - start_;
    if (length == 0) break;
    if (!complete && length < chunk_bytes_ + lookahead) break;
    const std::string_view view(text_.data() + start_, length);
    size_t cut = 0;
    if (length > chunk_bytes_) {
      // Candidates p < length when the document is complete; otherwise p + lookahead <= length.
      const size_t limit = complete ? length : length - lookahead + 1;
      for (size_t p = std::max(chunk_bytes_, scanned_ > start_ ? scanned_ - start_ : 0); p < limit; ++p) {
        if (is_safe_cut(rule_, view, p)) {
          cut = p;
          break;
        }
      }
      if (cut == 0) scanned_ = start_ + limit;
    }
    if (cut == 0) {
      if (!complete) break;
      cut = length;  // the rest of the document is one chunk
    }
    out.emplace_back(view.substr(0, cut));
    start_ += cut;
    scanned_ = start_;
  }
  if (start_ > 0 && start_ * 2 >= text_.size()) {
    text_.erase(0, start_);
    valid_end_ -= start_;
    scanned_ -= std::min(scanned_, start_);
    start_ = 0;
  }
}

}  // namespace llmprep
