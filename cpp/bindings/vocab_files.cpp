// Bindings for loading a vocabulary in C++: GPT-2's data-gym files or a .tiktoken file are parsed
// and built into a BpeEncoder with the GIL released, with no Python dict of 50k bytes in between.
// Which files, their hashes and the special-token defaults are policy in llmprep/encoding.py.
#include "llmprep/vocab_files.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "llmprep/bpe.hpp"

namespace llmprep::bindings {

namespace {

vocab::RankList special_pairs(const py::dict& special_tokens) {
  vocab::RankList out;
  for (auto item : special_tokens) {
    std::string text(utf8_of(item.first, "special_tokens keys"));
    const long long id = PyLong_AsLongLong(item.second.ptr());
    if (id == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (id < 0 || id > 0xFFFFFFFELL) {
      throw py::value_error("special_tokens has the id " + std::to_string(id) + ", outside 0..4294967294");
    }
    out.emplace_back(std::move(text), static_cast<uint32_t>(id));
  }
  return out;
}

py::dict to_dict(const vocab::RankList& special) {
  py::dict out;
  for (const auto& [text, id] : special) out[py::str(text)] = id;
  return out;
}

// (encoder, number of ordinary tokens, the special tokens it was built with).
py::tuple encoder_result(std::unique_ptr<BpeEncoder> encoder, const vocab::RankList& special) {
  const size_t n_mergeable = encoder->n_mergeable();
  py::object owned = py::cast(encoder.release(), py::return_value_policy::take_ownership);
  return py::make_tuple(owned, n_mergeable, to_dict(special));
}

// The encoder's own checks (all 256 single bytes present, no id used twice) know no file name:
// prefix it, so every error about a malformed file names the file.
std::unique_ptr<BpeEncoder> build_encoder(const vocab::RankList& ranks, const vocab::RankList& special,
                                          const std::string& name, Pattern pattern = Pattern::kGpt2) {
  try {
    return std::make_unique<BpeEncoder>(ranks, special, pattern);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(name + ": " + e.what());
  }
}

}  // namespace

void register_vocab_files(py::module_& m) {
  m.def(
      "bpe_encoder_from_data_gym",
      [](const py::bytes& vocab_bpe, const py::bytes& encoder_json, const std::string& vocab_name,
         const std::string& encoder_name, const py::object& special_tokens) {
        const std::string_view bpe_view = vocab_bpe;
        const std::string_view json_view = encoder_json;
        vocab::RankList special;
        const bool given = !special_tokens.is_none();
        if (given) special = special_pairs(special_tokens.cast<py::dict>());
        std::unique_ptr<BpeEncoder> encoder;
        {
          py::gil_scoped_release release;
          vocab::DataGymTable table = vocab::parse_data_gym(bpe_view, json_view, vocab_name, encoder_name);
          if (!given) special = std::move(table.special);
          encoder = build_encoder(table.mergeable, special, vocab_name + " with " + encoder_name);
        }
        return encoder_result(std::move(encoder), special);
      },
      py::arg("vocab_bpe"), py::arg("encoder_json"), py::arg("vocab_name"), py::arg("encoder_name"),
      py::arg("special_tokens"),
      "Parses GPT-2's vocab.bpe and encoder.json contents (checked against each other) and builds the encoder. "
      "special_tokens=None takes <|endoftext|>/<|startoftext|> from encoder.json. Returns (encoder, n_mergeable, "
      "special_tokens). ValueError naming the file for anything malformed.");
  m.def(
      "bpe_encoder_from_tiktoken",
      [](const py::bytes& contents, const std::string& name, const py::object& special_tokens,
         const std::string& pattern) {
        const Pattern parsed = parse_pattern(pattern);
        const std::string_view view = contents;
        vocab::RankList special;
        const bool given = !special_tokens.is_none();
        if (given) special = special_pairs(special_tokens.cast<py::dict>());
        std::unique_ptr<BpeEncoder> encoder;
        {
          py::gil_scoped_release release;
          const vocab::RankList ranks = vocab::parse_tiktoken_bpe(view, name);
          if (!given) {
            // Encoding.from_tiktoken_file's documented default: GPT-2's end-of-text after the ranks.
            uint32_t max_rank = 0;
            for (const auto& entry : ranks) max_rank = std::max(max_rank, entry.second);
            special.emplace_back("<|endoftext|>", max_rank + 1);
          }
          encoder = build_encoder(ranks, special, name, parsed);
        }
        return encoder_result(std::move(encoder), special);
      },
      py::arg("contents"), py::arg("name"), py::arg("special_tokens"), py::arg("pattern") = "gpt2",
      "Parses a .tiktoken file's contents and builds the encoder with the given pre-tokenizer pattern "
      "('gpt2', 'cl100k_base' or 'o200k_base'); special_tokens=None means {'<|endoftext|>': largest rank + 1}. "
      "Returns (encoder, n_mergeable, special_tokens).");
  m.def(
      "bpe_token_rank",
      [](const BpeEncoder& encoder, const py::bytes& token) -> py::object {
        const uint32_t rank = encoder.rank_of(std::string_view(token));
        if (rank == BytesMap::kMissing) return py::none();
        return py::int_(rank);
      },
      py::arg("encoder"), py::arg("token"), "The rank of bytes that are exactly one ordinary token, else None.");
}

}  // namespace llmprep::bindings
