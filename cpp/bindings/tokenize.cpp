// Bindings for corpus preprocessing: the streaming chunker that `llmprep tokenize` feeds file
// blocks through. The pipeline itself (inputs, batching, the token file) is Python policy.
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "llmprep/bpe.hpp"
#include "llmprep/chunker.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep::bindings {

namespace {

CutRule parse_rule(const std::string& rule) {
  if (rule == "gpt2") return CutRule::kGpt2;
  if (rule == "cl100k_base") return CutRule::kCl100k;
  if (rule == "o200k_base") return CutRule::kO200k;
  if (rule == "whitespace") return CutRule::kWhitespace;
  throw std::invalid_argument("cut rule must be 'gpt2', 'cl100k_base', 'o200k_base' or 'whitespace', not '" + rule +
                              "'");
}

py::list to_bytes_list(const std::vector<std::string>& chunks) {
  py::list out(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i)
    out[i] = py::bytes(chunks[i].data(), static_cast<py::ssize_t>(chunks[i].size()));
  return out;
}

// Views of each bytes object (kept alive by the caller's list).
std::vector<std::string_view> views_of(const std::vector<py::bytes>& chunks) {
  return std::vector<std::string_view>(chunks.begin(), chunks.end());
}

}  // namespace

void register_tokenize(py::module_& m) {
  py::class_<TextChunker>(m, "TextChunker",
                          "Cuts one document, fed in blocks, into chunks of valid UTF-8 that encode independently.")
      .def(py::init([](const std::string& rule, int64_t chunk_bytes, bool replace, const std::string& source) {
             if (chunk_bytes < 1) throw std::invalid_argument("chunk_bytes must be >= 1");
             return std::make_unique<TextChunker>(parse_rule(rule), static_cast<size_t>(chunk_bytes), replace, source);
           }),
           py::arg("rule"), py::arg("chunk_bytes"), py::arg("replace"), py::arg("source"))
      .def(
          "push",
          [](TextChunker& self, const py::buffer& data) {
            const py::buffer_info info = data.request();
            if (info.ndim != 1 || info.itemsize != 1 || info.strides[0] != 1)
              throw std::invalid_argument("push() takes contiguous bytes (bytes, bytearray or a memoryview of them)");
            std::vector<std::string> chunks;
            {
              py::gil_scoped_release release;
              self.push(std::string_view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size)), chunks);
            }
            return to_bytes_list(chunks);
          },
          py::arg("data"), "Feeds the next bytes; returns the finished chunks (new bytes objects, copies).")
      .def(
          "finish",
          [](TextChunker& self) {
            std::vector<std::string> chunks;
            {
              py::gil_scoped_release release;
              self.finish(chunks);
            }
            return to_bytes_list(chunks);
          },
          "Ends the document; returns the remaining chunks (none empty).")
      .def(
          "whole",
          [](TextChunker& self, const py::bytes& data) {
            // A document small enough for one chunk goes on as the caller's object (valid UTF-8
            // is all there is to check): no copy into the chunker and none back out. For 20,000
            // files of 52 KB those two copies were ~20% of the reading thread.
            const std::string_view text(data);
            bool one_chunk = false;
            {
              py::gil_scoped_release release;
              one_chunk = !text.empty() && text.size() <= self.chunk_bytes() && is_valid_utf8(text);
            }
            if (one_chunk) {
              py::list out(1);
              out[0] = data;
              return out;
            }
            std::vector<std::string> chunks;
            {
              py::gil_scoped_release release;
              self.push(text, chunks);
              self.finish(chunks);
            }
            return to_bytes_list(chunks);
          },
          py::arg("data"),
          "A whole document at once, into a new chunker: push(data) then finish(), except that a "
          "document of valid UTF-8 no longer than chunk_bytes comes back as [data] itself.")
      .def_property_readonly("bytes_in", &TextChunker::bytes_in, "Source bytes consumed so far.");

  m.def(
      "bpe_encode_chunks",
      [](const BpeEncoder& encoder, const std::vector<py::bytes>& chunks, int num_threads) {
        const std::vector<std::string_view> views = views_of(chunks);
        std::vector<std::vector<uint32_t>> ids;
        {
          py::gil_scoped_release release;
          // The chunker validated these; a direct caller might not have, and the encoder assumes it.
          for (size_t i = 0; i < views.size(); ++i) {
            const Utf8Fault fault = find_utf8_fault(views[i]);
            if (fault.offset >= 0)
              throw std::invalid_argument("chunks[" + std::to_string(i) + "] is not valid UTF-8 (" + fault.reason +
                                          " at byte " + std::to_string(fault.offset) + ")");
          }
          // encode_batch shares the calling thread's piece cache with its workers; the pipeline
          // calls from one long-lived thread, so the cache stays warm from batch to batch.
          ids = encoder.encode_batch(views, {}, num_threads);
        }
        py::list out(ids.size());
        for (size_t i = 0; i < ids.size(); ++i) out[i] = vector_to_numpy(std::move(ids[i]));
        return out;
      },
      py::arg("encoder"), py::arg("chunks"), py::arg("num_threads"),
      "encode_ordinary of each UTF-8 chunk with the encoder's own pattern (cut the chunks with the TextChunker "
      "rule of the same name) on up to num_threads threads, as uint32 numpy arrays that own their C++ buffers "
      "(no copy).");
}

}  // namespace llmprep::bindings
