// Parsing BPE vocabulary files into rank tables: OpenAI's GPT-2 "data gym" pair (vocab.bpe +
// encoder.json, tokens spelled in GPT-2's printable byte alphabet) and tiktoken's base64 format.
// Replaces tiktoken's Python parser (~0.15 s per process for GPT-2) on the start-up path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmprep::vocab {

// (token bytes, rank) pairs, as BpeEncoder takes them.
using RankList = std::vector<std::pair<std::string, uint32_t>>;

struct DataGymTable {
  RankList mergeable;  // in rank order: rank i is mergeable[i]
  RankList special;    // <|endoftext|> / <|startoftext|> found in encoder.json, with their ids
};

// The byte that GPT-2's printable stand-in character `cp` spells (tiktoken's
// data_gym_byte_to_byte), or -1 when no byte maps to it.
int data_gym_byte(uint32_t cp) noexcept;
// The byte with rank r (0..255) among the single-byte tokens: printable bytes first, in order,
// then the others (tiktoken's rank_to_intbyte).
unsigned char data_gym_rank_byte(unsigned r) noexcept;

// Exactly tiktoken's data_gym_to_mergeable_bpe_ranks on well-formed files: the 256 single bytes,
// then one token per merge line of vocab.bpe, checked entry by entry against encoder.json (whose
// two special tokens are returned apart). The names only label error messages.
// Throws std::invalid_argument naming the file and what is wrong: text that is not UTF-8, a
// missing '#version' line, a line that is not two tokens, a character no byte maps to, JSON that
// is not an object of integer ids, a token listed twice, or files that disagree. Stricter than
// tiktoken on malformed files (duplicate keys, non-integer ids are errors, not last-wins).
DataGymTable parse_data_gym(std::string_view vocab_bpe, std::string_view encoder_json, std::string_view vocab_name,
                            std::string_view encoder_name);

// A .tiktoken file: one "base64-token rank" pair per non-empty line (tiktoken's
// load_tiktoken_bpe; base64 checked as strictly as base64.b64decode(validate=True), ranks are
// decimal digits). Throws std::invalid_argument naming the line for anything else, or an empty file.
RankList parse_tiktoken_bpe(std::string_view contents, std::string_view name);

}  // namespace llmprep::vocab
