// Bindings for corpus preprocessing: the streaming chunker that `llmprep tokenize` feeds file
// blocks through, and a batch's encoding joined into one block of the token file (TokenJoiner). The
// pipeline itself (inputs, batching, the token file) is Python policy.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "llmprep/bpe.hpp"
#include "llmprep/chunker.hpp"
#include "llmprep/parallel.hpp"
#include "llmprep/token_join.hpp"
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

// The chunker validated the pipeline's chunks; a direct caller might not have, and the encoder
// assumes valid UTF-8. Checked on the call's threads (on one, this pass was ~7% of a batch's wall
// time with two encoding threads). Call without the GIL.
void check_chunks_utf8(const std::vector<std::string_view>& views, int num_threads) {
  parallel_tasks(static_cast<int64_t>(views.size()), resolve_num_threads(num_threads, int64_t(views.size())),
                 [&](int64_t i) {
                   const Utf8Fault fault = find_utf8_fault(views[size_t(i)]);
                   if (fault.offset >= 0)
                     throw std::invalid_argument("chunks[" + std::to_string(i) + "] is not valid UTF-8 (" +
                                                 fault.reason + " at byte " + std::to_string(fault.offset) + ")");
                 });
}

// A token file's id type by numpy name: 2 (uint16) or 4 (uint32) bytes.
int id_bytes_of(const std::string& dtype) {
  if (dtype == "uint16") return 2;
  if (dtype == "uint32") return 4;
  throw std::invalid_argument("dtype must be 'uint16' or 'uint32', not '" + dtype + "'");
}

// Blocks of a token file that Python hands back once it has written them (their arrays freed), for
// the next batch's join to write into: a pipeline run makes one and passes it to every batch. A
// fresh block of megabytes is mapped anew by malloc, and on 20,000 files of 52 KB the kernel's
// zeroing of its pages on first touch was ~30% of the joining thread (an encoder too). Keeps at
// most kKeep blocks, the largest; they are freed with the object once no array uses them.
class OutputBlocks {
 public:
  template <class T>
  std::vector<T> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& free = list<T>();
    if (free.empty()) return {};
    std::vector<T> block = std::move(free.back());
    free.pop_back();
    return block;
  }
  template <class T>
  void give(std::vector<T>&& block) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& free = list<T>();
    if (free.size() < kKeep) {
      try {
        free.push_back(std::move(block));
      } catch (...) {  // no room to keep it: it is freed
        return;
      }
      // The largest last, where take() looks: a batch a little larger than the last one then
      // does not reallocate.
      std::sort(free.begin(), free.end(), [](const auto& a, const auto& b) { return a.capacity() < b.capacity(); });
    }
  }

 private:
  // A written batch gives one back as the next batch to be joined takes one: a few kept cover the
  // gap between them, for any number of encoder threads (each batch joins on its own thread).
  static constexpr size_t kKeep = 4;
  template <class T>
  std::vector<std::vector<T>>& list() {
    if constexpr (sizeof(T) == 2) {
      return u16_;
    } else {
      return u32_;
    }
  }
  std::mutex mutex_;
  std::vector<std::vector<uint16_t>> u16_;
  std::vector<std::vector<uint32_t>> u32_;
};

// A 1-D numpy array owning `block`, which goes back to `home` when the array is freed.
template <class T>
py::array_t<T> block_to_numpy(std::vector<T>&& block, std::shared_ptr<OutputBlocks> home) {
  struct Owned {
    std::vector<T> block;
    std::shared_ptr<OutputBlocks> home;
  };
  auto* owned = new Owned{std::move(block), std::move(home)};
  py::capsule owner(owned, [](void* p) {
    auto* o = static_cast<Owned*>(p);
    o->home->give(std::move(o->block));
    delete o;
  });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->block.size())}, {static_cast<py::ssize_t>(sizeof(T))},
                        owned->block.data(), owner);
}

// Runs fill(joiner) on a TokenJoiner of the dtype's id type without the GIL, and returns the
// joined ids and the documents' ends as numpy arrays that own their buffers (the ids' block taken
// from and handed back to `blocks`, unless it is null).
template <class Fill>
py::tuple join_as(const std::string& dtype, std::vector<size_t> doc_ends, size_t n_chunks, std::optional<uint32_t> eot,
                  size_t reserve_ids, const std::shared_ptr<OutputBlocks>& blocks, Fill&& fill) {
  const auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    std::vector<T> ids;
    std::vector<uint64_t> ends;
    {
      py::gil_scoped_release release;
      TokenJoiner<T> joiner(std::move(doc_ends), n_chunks, eot, reserve_ids,
                            blocks ? blocks->take<T>() : std::vector<T>());
      fill(joiner);
      ids = joiner.take_ids();
      ends = joiner.take_ends();
    }
    py::array_t<T> joined = blocks ? block_to_numpy(std::move(ids), blocks) : vector_to_numpy(std::move(ids));
    return py::make_tuple(std::move(joined), vector_to_numpy(std::move(ends)));
  };
  return id_bytes_of(dtype) == 2 ? run(uint16_t{}) : run(uint32_t{});
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

  py::class_<OutputBlocks, std::shared_ptr<OutputBlocks>>(
      m, "OutputBlocks",
      "Token-file blocks handed back once written, for the next batch's join to reuse (one per pipeline run; "
      "pass it as blocks= to bpe_encode_documents / join_documents).")
      .def(py::init<>());

  m.def(
      "bpe_encode_chunks",
      [](const BpeEncoder& encoder, const std::vector<py::bytes>& chunks, int num_threads) {
        const std::vector<std::string_view> views = views_of(chunks);
        std::vector<std::vector<uint32_t>> ids;
        {
          py::gil_scoped_release release;
          check_chunks_utf8(views, num_threads);
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

  m.def(
      "bpe_encode_documents",
      [](const BpeEncoder& encoder, const std::vector<py::bytes>& chunks, std::vector<size_t> doc_ends,
         std::optional<uint32_t> eot, const std::string& dtype, int num_threads,
         const std::shared_ptr<OutputBlocks>& blocks) {
        const std::vector<std::string_view> views = views_of(chunks);
        size_t total = 0;
        for (std::string_view v : views) total += v.size();
        // A token is at least one byte: reserving an id per byte never regrows (pages are touched
        // only as ids are written).
        return join_as(dtype, std::move(doc_ends), views.size(), eot, total, blocks, [&](auto& joiner) {
          check_chunks_utf8(views, num_threads);
          // The sink runs on this thread, in chunk order, while the other threads still encode
          // later chunks: the join overlaps the encoding.
          encoder.encode_batch(views, {}, num_threads, 0,
                               [&](size_t, std::vector<uint32_t>* ids, size_t count, bool open) {
                                 for (size_t k = 0; k < count; ++k) {
                                   joiner.append(ids[k].data(), ids[k].size());
                                   if (!open || k + 1 < count) joiner.end_chunk();
                                 }
                               });
        });
      },
      py::arg("encoder"), py::arg("chunks"), py::arg("doc_ends"), py::arg("eot"), py::arg("dtype"),
      py::arg("num_threads"), py::arg("blocks") = nullptr,
      "bpe_encode_chunks joined into one block of a token file: (ids as dtype 'uint16' or 'uint32', with eot "
      "after each document unless it is None; each document's end offset, uint64). doc_ends[d]: the number of "
      "chunks before document d ends. ValueError for an id that does not fit dtype. blocks: an OutputBlocks to take "
      "the ids' block from "
      "and hand it back to when the array is freed.");

  m.def(
      "join_documents",
      [](const std::vector<py::array>& arrays, std::vector<size_t> doc_ends, std::optional<uint32_t> eot,
         const std::string& dtype, const std::shared_ptr<OutputBlocks>& blocks) {
        // Unsigned ids of up to 32 bits, as any encoder's encode_chunks returns them; copied to
        // uint32 only when narrower (the word-level tokenizer's uint16 arrays).
        std::vector<py::array_t<uint32_t, py::array::c_style>> ids;
        size_t total = 0;
        for (size_t i = 0; i < arrays.size(); ++i) {
          const py::dtype kind = arrays[i].dtype();
          if (arrays[i].ndim() != 1 || kind.kind() != 'u' || kind.itemsize() > 4)
            throw py::type_error("arrays[" + std::to_string(i) + "] must be a 1-D array of unsigned ids (<= 32 bits)");
          ids.push_back(py::array_t<uint32_t, py::array::c_style | py::array::forcecast>::ensure(arrays[i]));
          total += size_t(arrays[i].size());
        }
        return join_as(dtype, std::move(doc_ends), ids.size(), eot, total, blocks, [&](auto& joiner) {
          for (const auto& a : ids) {
            joiner.append(a.data(), size_t(a.size()));
            joiner.end_chunk();
          }
        });
      },
      py::arg("arrays"), py::arg("doc_ends"), py::arg("eot"), py::arg("dtype"), py::arg("blocks") = nullptr,
      "The same join for ids already encoded (one array per chunk).");
}

}  // namespace llmprep::bindings
