// The cl100k_base pre-tokenizer: a hand-written scanner that splits UTF-8 text into exactly the
// pieces tiktoken's cl100k_base regex yields (also used by Llama-3-style .tiktoken vocabularies),
// and its safe-cut test. Character classes come from unicode_tables.hpp.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace llmprep::cl100k {

// The pattern these functions implement, exactly as tiktoken 0.14 writes it.
inline constexpr const char* kPattern =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s)";

// End (exclusive) of the piece starting at byte `pos` of valid UTF-8 `text` (pos < text.size(), on
// a code point boundary; std::out_of_range otherwise). The result is > pos.
size_t next_piece_end(std::string_view text, size_t pos);

// Appends the end offset of every piece of `text` to `ends`.
void piece_ends(std::string_view text, std::vector<size_t>& ends);

// The ends of up to `max` consecutive pieces starting at byte `pos` (a piece start, pos <= size),
// written to ends[0..k); returns k (0 only when pos == text.size()). The encoder's batch loop.
size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max);

// True if cutting `text` at byte p cannot change its pieces: pieces(text) == pieces(text[:p]) +
// pieces(text[p:]). Looks at no more than two code points on each side of p; conservative (some real
// boundaries report false, never the reverse). p == 0 and p == text.size() are trivially safe; a p
// inside a code point is not. Throws std::out_of_range if p > text.size().
bool is_safe_cut(std::string_view text, size_t p);

// The smallest p' >= p with is_safe_cut(text, p'), or text.size() if none.
size_t next_safe_cut(std::string_view text, size_t p);

}  // namespace llmprep::cl100k
