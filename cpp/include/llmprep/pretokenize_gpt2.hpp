// The GPT-2 pre-tokenizer: a hand-written scanner that splits UTF-8 text into exactly the pieces
// tiktoken's GPT-2 / r50k_base regex yields, and the safe-cut test used to split large texts for
// parallel encoding. Character classes come from unicode_tables.hpp.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace llmprep::gpt2 {

// The pattern these functions implement, as tiktoken writes it (possessive quantifiers; same
// pieces as OpenAI's original 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+).
inline constexpr const char* kPattern =
    R"('(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s)";

// End (exclusive) of the GPT-2 pre-token starting at byte `pos` of valid UTF-8 `text`
// (pos < text.size(), pos on a code point boundary). Scanning from 0 and restarting at each
// returned end yields exactly the pieces tiktoken's regex yields. The result is > pos.
size_t next_piece_end(std::string_view text, size_t pos);

// Appends the end offset of every piece of `text` to `ends` (convenience over next_piece_end).
void piece_ends(std::string_view text, std::vector<size_t>& ends);

// The ends of up to `max` consecutive pieces starting at byte `pos` (a piece start, pos <= size),
// written to ends[0..k); returns k (0 only when pos == text.size()). The encoder's batch loop.
size_t next_piece_ends(std::string_view text, size_t pos, size_t* ends, size_t max);

// True if cutting `text` at byte p cannot change its pieces, i.e. pieces(text) ==
// pieces(text[:p]) + pieces(text[p:]). Looks at no more than two code points on each side of p.
// Conservative: a few real boundaries report false (after a letter followed by a letter, after
// "'" followed by a letter), never the reverse. p == 0 and p == text.size() are trivially safe;
// a p inside a code point is not. Throws std::out_of_range if p > text.size().
bool is_safe_cut(std::string_view text, size_t p);

// The smallest p' >= p with is_safe_cut(text, p'), or text.size() if none (so p == 0 gives 0).
// Throws std::out_of_range if p > text.size().
size_t next_safe_cut(std::string_view text, size_t p);

}  // namespace llmprep::gpt2
