// Bindings for the chapter's word-level tokenizer: convert, release the GIL, call, wrap.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "llmprep/huge_pages.hpp"
#include "llmprep/io.hpp"
#include "llmprep/parallel.hpp"
#include "llmprep/pretokenize_simple.hpp"
#include "llmprep/simple_tokenizer.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep::bindings {

namespace {

using simple::Tokenizer;

py::list to_str_list(const std::vector<std::string_view>& items) {
  py::list out(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    out[i] = py::str(items[i].data(), static_cast<py::ssize_t>(items[i].size()));
  return out;
}

py::list to_str_list(const std::vector<std::string>& items) {
  py::list out(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    out[i] = py::str(items[i].data(), static_cast<py::ssize_t>(items[i].size()));
  return out;
}

// One Python int per vocabulary entry (Tokenizer::entry_ids), made on the entry's first use: a list
// of ids then costs a reference-count increment per token, not an allocation. Made in order of first
// use, the ints of the frequent words (which come early) lie together in the interpreter's memory;
// made up front in id order (alphabetical for a vocabulary from text), the few thousand words that
// make up most of a text were spread over megabytes, and each increment missed the cache.
class EntryInts {
 public:
  EntryInts() = default;
  explicit EntryInts(std::vector<int64_t> ids) : ids_(std::move(ids)), ints_(ids_.size()) {}

  // Call with the GIL held; `entries` come from Tokenizer::encode_entries.
  py::list to_list(const uint32_t* entries, size_t count) const {
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(count));
    if (list == nullptr) throw py::error_already_set();
    py::list result = py::reinterpret_steal<py::list>(list);
    advise_huge_pages(PySequence_Fast_ITEMS(list), count * sizeof(PyObject*));
    py::object* ints = ints_.data();
    // Fetch each int a few tokens ahead (its pointer first, then the object) so that the
    // reference-count updates do not stall on a large vocabulary.
    constexpr size_t kPointerAhead = 16, kObjectAhead = 8;
    for (size_t i = 0; i < count; ++i) {
#if defined(__GNUC__)
      if (i + kPointerAhead < count) __builtin_prefetch(ints + entries[i + kPointerAhead]);
      if (i + kObjectAhead < count) __builtin_prefetch(ints[entries[i + kObjectAhead]].ptr(), 1);
#endif
      py::object& slot = ints[entries[i]];
      if (!slot) slot = py::int_(ids_[entries[i]]);
      PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), slot.inc_ref().ptr());
    }
    return result;
  }

 private:
  std::vector<int64_t> ids_;
  mutable std::vector<py::object> ints_;  // null until the entry's first use
};

// The C++ tokenizer plus the Python ints its ids turn into.
struct BoundTokenizer {
  Tokenizer core;
  EntryInts ints;
};

std::vector<uint32_t> encode_entries(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<uint32_t> entries;
  py::gil_scoped_release release;
  tokenizer.encode_entries(text, entries);
  return entries;
}

template <class T>
std::vector<T> encode_ids(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<T> ids;
  py::gil_scoped_release release;
  tokenizer.encode(text, ids);
  return ids;
}

// Each text is encoded into a local vector and moved into place: neighbouring results share a
// cache line, and appending to them from two threads would make every append a cache miss.
template <class T>
std::vector<std::vector<T>> encode_many(const Tokenizer& tokenizer, const std::vector<std::string_view>& texts,
                                        int num_threads) {
  std::vector<std::vector<T>> results(texts.size());
  py::gil_scoped_release release;
  parallel_tasks(static_cast<int64_t>(texts.size()), num_threads, [&](int64_t i) {
    std::vector<T> ids;
    tokenizer.encode(texts[static_cast<size_t>(i)], ids);
    results[static_cast<size_t>(i)] = std::move(ids);
  });
  return results;
}

// Lists of ids, one per text. This thread builds them under the GIL, in order, while the other
// threads still encode: after the encoding, building them was ~25% of a batch and held 2-thread
// scaling to ~1.5x.
py::list encode_to_lists(const BoundTokenizer& self, const std::vector<std::string_view>& texts, int num_threads) {
  py::list out(texts.size());
  std::vector<std::vector<uint32_t>> results(texts.size());
  py::gil_scoped_release release;
  parallel_tasks_ordered(
      static_cast<int64_t>(texts.size()), num_threads,
      [&](int64_t i) {
        std::vector<uint32_t> entries;
        self.core.encode_entries(texts[static_cast<size_t>(i)], entries);
        results[static_cast<size_t>(i)] = std::move(entries);
      },
      [&](int64_t begin, int64_t end) {
        py::gil_scoped_acquire acquire;
        for (int64_t i = begin; i < end; ++i) {
          std::vector<uint32_t>& entries = results[static_cast<size_t>(i)];
          out[static_cast<size_t>(i)] = self.ints.to_list(entries.data(), entries.size());
          std::vector<uint32_t>().swap(entries);
        }
      });
  return out;
}

// dtype names are chosen by the Python layer from the vocabulary's id range.
enum class IdType { kUint16, kUint32, kInt64 };

IdType parse_id_type(const std::string& dtype) {
  if (dtype == "uint16") return IdType::kUint16;
  if (dtype == "uint32") return IdType::kUint32;
  if (dtype == "int64") return IdType::kInt64;
  throw std::invalid_argument("dtype must be 'uint16', 'uint32' or 'int64', not '" + dtype + "'");
}

}  // namespace

void register_simple(py::module_& m) {
  m.def(
      "simple_split",
      [](py::handle text) {
        const std::string_view view = utf8_of(text, "text");
        std::vector<std::string_view> tokens;
        {
          py::gil_scoped_release release;
          tokens = simple::split(view);
        }
        return to_str_list(tokens);
      },
      py::arg("text"), "The chapter's split of text into words and punctuation (a list of new str).");

  m.def(
      "simple_sorted_tokens",
      [](py::handle text) {
        const std::string_view view = utf8_of(text, "text");
        std::vector<std::string> words;
        {
          py::gil_scoped_release release;
          words = simple::sorted_unique_tokens(view);
        }
        return to_str_list(words);
      },
      py::arg("text"), "sorted(set(split(text))), in code-point order.");

  m.def(
      "simple_sorted_tokens_file",
      [](const std::string& path, bool replace) {
        std::vector<std::string> words;
        {
          py::gil_scoped_release release;
          words = simple::sorted_unique_tokens(read_utf8_file(path, replace));
        }
        return to_str_list(words);
      },
      py::arg("path"), py::arg("replace"),
      "sorted(set(split(file text))): the file is read and decoded in C++ (strict or replace).");

  py::class_<BoundTokenizer>(m, "SimpleTokenizerCore", "The C++ side of llmprep.SimpleTokenizer (private).")
      .def(py::init([](const std::vector<std::string>& words, const std::vector<int64_t>& ids,
                       std::optional<int64_t> unknown_id) {
             std::unique_ptr<BoundTokenizer> bound;
             {
               py::gil_scoped_release release;
               bound.reset(new BoundTokenizer{Tokenizer(words, ids, unknown_id), EntryInts()});
             }
             bound->ints = EntryInts(bound->core.entry_ids());
             return bound;
           }),
           py::arg("words"), py::arg("ids"), py::arg("unknown_id"))
      .def("__len__", [](const BoundTokenizer& self) { return self.core.size(); })
      .def(
          "encode",
          [](const BoundTokenizer& self, py::handle text, const std::string& dtype) -> py::array {
            const std::string_view view = utf8_of(text, "text");
            switch (parse_id_type(dtype)) {
              case IdType::kUint16:
                return vector_to_numpy(encode_ids<uint16_t>(self.core, view));
              case IdType::kUint32:
                return vector_to_numpy(encode_ids<uint32_t>(self.core, view));
              default:
                return vector_to_numpy(encode_ids<int64_t>(self.core, view));
            }
          },
          py::arg("text"), py::arg("dtype"), "Ids of text as a new numpy array owning the C++ buffer (no copy).")
      .def(
          "encode_list",
          [](const BoundTokenizer& self, py::handle text, const std::string& dtype) -> py::list {
            parse_id_type(dtype);  // lists hold ints of any size; the dtype is only checked
            const std::string_view view = utf8_of(text, "text");
            const std::vector<uint32_t> entries = encode_entries(self.core, view);
            return self.ints.to_list(entries.data(), entries.size());
          },
          py::arg("text"), py::arg("dtype"), "Ids of text as a list of int.")
      .def(
          "encode_batch",
          [](const BoundTokenizer& self, const py::sequence& texts, const std::string& dtype, int num_threads) {
            // Views borrow each str's UTF-8 buffer; `texts` keeps the strs alive during the call.
            std::vector<std::string_view> views;
            views.reserve(texts.size());
            for (size_t i = 0; i < texts.size(); ++i) {
              const std::string name = "texts[" + std::to_string(i) + "]";
              views.push_back(utf8_of(texts[i], name.c_str()));
            }
            parse_id_type(dtype);  // lists hold ints of any size; the dtype is only checked
            return encode_to_lists(self, views, num_threads);
          },
          py::arg("texts"), py::arg("dtype"), py::arg("num_threads"),
          "Ids of each text (a list of lists of int), encoded in parallel with the GIL released.")
      .def(
          "encode_chunks",
          [](const BoundTokenizer& self, const std::vector<py::bytes>& chunks, const std::string& dtype,
             int num_threads) {
            // Views borrow each bytes object's buffer; `chunks` keeps them alive during the call.
            std::vector<std::string_view> views(chunks.begin(), chunks.end());
            for (size_t i = 0; i < views.size(); ++i) {
              const Utf8Fault fault = find_utf8_fault(views[i]);
              if (fault.offset >= 0)
                throw std::invalid_argument("chunks[" + std::to_string(i) + "] is not valid UTF-8 (" + fault.reason +
                                            " at byte " + std::to_string(fault.offset) + ")");
            }
            py::list out(views.size());
            auto to_arrays = [&](auto&& results) {
              for (size_t i = 0; i < results.size(); ++i) out[i] = vector_to_numpy(std::move(results[i]));
            };
            switch (parse_id_type(dtype)) {
              case IdType::kUint16:
                to_arrays(encode_many<uint16_t>(self.core, views, num_threads));
                break;
              case IdType::kUint32:
                to_arrays(encode_many<uint32_t>(self.core, views, num_threads));
                break;
              default:
                to_arrays(encode_many<int64_t>(self.core, views, num_threads));
            }
            return out;
          },
          py::arg("chunks"), py::arg("dtype"), py::arg("num_threads"),
          "Ids of each UTF-8 chunk as numpy arrays owning C++ buffers (no copy), encoded in parallel.")
      .def(
          "decode",
          [](const BoundTokenizer& self, py::array_t<int64_t, py::array::c_style | py::array::forcecast> ids, bool v2) {
            const int64_t* data = ids.data();
            const size_t count = static_cast<size_t>(ids.size());
            std::string text;
            {
              py::gil_scoped_release release;
              text = self.core.decode(data, count, v2 ? simple::Cleanup::kV2 : simple::Cleanup::kV1);
            }
            return py::str(text.data(), static_cast<py::ssize_t>(text.size()));
          },
          py::arg("ids"), py::arg("v2_cleanup"), "The chapter's decode: join with spaces, then the clean-up.");
}

}  // namespace llmprep::bindings
