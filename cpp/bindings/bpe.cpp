// Bindings for the byte-level BPE encoder: build it from a rank table, encode (to a list or a numpy
// array), batch-encode and decode. Special-token policy and argument defaults live in
// llmprep/encoding.py; these only convert, release the GIL and call the core.
#include "llmprep/bpe.hpp"

#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "llmprep/errors.hpp"
#include "llmprep/huge_pages.hpp"
#include "llmprep/piece_cache.hpp"

namespace llmprep::bindings {

namespace {

// One Python int per id, made on the id's first use and shared by every list we build from then
// on: a list of tokens costs one reference-count increment per token instead of one allocation
// (which made encode() ~60 ns per token slower than encode_to_numpy). Made in order of first use,
// the ints of the frequent tokens lie together in the interpreter's memory; made up front in id
// order, they were spread over the 6 MB of o200k_base's 200k ints, and after other work between
// calls each increment missed the cache. Touched only with the GIL held; never freed, like
// CPython's own small-int cache.
PyObject** id_ints(uint32_t max_id) {
  static std::vector<PyObject*>* ints = new std::vector<PyObject*>();
  if (ints->size() <= max_id) ints->resize(size_t(max_id) + 1, nullptr);
  return ints->data();
}

PyObject* id_int(PyObject** ints, uint32_t id) {
  PyObject*& slot = ints[id];
  if (slot == nullptr) {
    slot = PyLong_FromSize_t(id);
    if (slot == nullptr) throw py::error_already_set();
  }
  return slot;
}

py::list ids_to_list(const std::vector<uint32_t>& ids, uint32_t max_id) {
  PyObject** ints = id_ints(max_id);
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(ids.size()));
  if (list == nullptr) throw py::error_already_set();
  py::list result = py::reinterpret_steal<py::list>(list);
  advise_huge_pages(PySequence_Fast_ITEMS(list), ids.size() * sizeof(PyObject*));
  for (size_t i = 0; i < ids.size(); ++i) {
    PyObject* value = id_int(ints, ids[i]);  // every id the encoder emits is <= max_id
    Py_INCREF(value);
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), value);
  }
  return result;
}

// Appends ids to list (a text handed over in parts).
void append_ids(PyObject* list, const std::vector<uint32_t>& ids, uint32_t max_id) {
  PyObject** ints = id_ints(max_id);
  for (uint32_t id : ids) {
    if (PyList_Append(list, id_int(ints, id)) != 0) throw py::error_already_set();
  }
}

// Token ids from any iterable of ints (or an integer numpy array). An int outside int64 becomes -1,
// which the core reports as an unknown id, so every bad id gets the same KeyError.
std::vector<int64_t> ids_from_python(py::handle tokens) {
  std::vector<int64_t> ids;
  if (py::isinstance<py::array>(tokens)) {
    auto array = py::reinterpret_borrow<py::array>(tokens);
    const char kind = array.dtype().kind();
    if (kind != 'i' && kind != 'u') {
      throw py::type_error("token ids must be integers, not an array of dtype " + std::string(py::str(array.dtype())));
    }
    if (kind == 'u' && array.dtype().itemsize() == 8) {
      auto values = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(array);
      ids.reserve(static_cast<size_t>(values.size()));
      for (py::ssize_t i = 0; i < values.size(); ++i) {
        const uint64_t v = values.data()[i];
        ids.push_back(v > uint64_t(INT64_MAX) ? -1 : int64_t(v));
      }
      return ids;
    }
    auto values = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
    ids.assign(values.data(), values.data() + values.size());
    return ids;
  }
  const Py_ssize_t hint = PyObject_LengthHint(tokens.ptr(), 0);
  if (hint > 0) ids.reserve(static_cast<size_t>(hint));
  for (py::handle item : py::iter(tokens)) {
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(item.ptr(), &overflow);
    if (value == -1 && PyErr_Occurred()) throw py::error_already_set();  // not an int
    ids.push_back(overflow != 0 ? -1 : static_cast<int64_t>(value));
  }
  return ids;
}

std::vector<std::pair<std::string, uint32_t>> rank_pairs(const py::dict& table, bool keys_are_bytes, const char* what) {
  std::vector<std::pair<std::string, uint32_t>> out;
  out.reserve(table.size());
  for (auto item : table) {
    std::string key;
    if (keys_are_bytes) {
      if (!PyBytes_Check(item.first.ptr())) {
        throw py::type_error(std::string(what) + " keys must be bytes");
      }
      key = std::string(py::reinterpret_borrow<py::bytes>(item.first));
    } else {
      key = std::string(utf8_of(item.first, what));
    }
    const long long value = PyLong_AsLongLong(item.second.ptr());
    if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (value < 0 || value > 0xFFFFFFFELL) {
      throw py::value_error(std::string(what) + " has the rank " + std::to_string(value) + ", outside 0..4294967294");
    }
    out.emplace_back(std::move(key), static_cast<uint32_t>(value));
  }
  return out;
}

std::vector<uint32_t> text_ids(const BpeEncoder& encoder, py::handle text, const std::vector<uint32_t>& allowed,
                               int num_threads, size_t task_bytes) {
  const std::string_view view = utf8_of(text, "text");
  py::gil_scoped_release release;
  return encoder.encode(view, allowed, num_threads, task_bytes);
}

}  // namespace

void register_bpe(py::module_& m) {
  py::module_ testing = testing_module(m);
  testing.def(
      "piece_cache_settings",
      [](std::optional<size_t> max_table_bytes, std::optional<bool> huge_pages) {
        const py::tuple before = py::make_tuple(PieceTable::max_table_bytes(), PieceTable::huge_pages_enabled());
        if (max_table_bytes) PieceTable::set_max_table_bytes(*max_table_bytes);
        if (huge_pages) PieceTable::set_huge_pages_enabled(*huge_pages);
        return before;
      },
      py::arg("max_table_bytes") = py::none(), py::arg("huge_pages") = py::none(),
      "Test hook: set the process-wide piece-cache cap (bytes of table per thread) and huge-page use for "
      "tables grown from now on; returns the settings before, (max_table_bytes, huge_pages).");
  // The GIL stays held: the lock is taken and released on the one thread that holds it.
  testing.def("hold_learned_caches_lock", &hold_learned_caches_lock, py::arg("hold"),
              "Test hook: lock (True) or unlock (False) the kept learned piece caches' mutex, from the same "
              "thread, so that a test can fork while it is held.");
  py::class_<BpeEncoder>(m, "BpeEncoder",
                         "Byte-level BPE over a rank table with a pre-tokenizer pattern (gpt2, cl100k_base or "
                         "o200k_base) in front (private: use llmprep.Encoding).")
      .def(py::init([](const py::dict& mergeable_ranks, const py::dict& special_tokens, const std::string& pattern) {
             const Pattern parsed = parse_pattern(pattern);
             auto mergeable = rank_pairs(mergeable_ranks, true, "mergeable_ranks");
             auto special = rank_pairs(special_tokens, false, "special_tokens");
             py::gil_scoped_release release;
             return new BpeEncoder(mergeable, special, parsed);
           }),
           py::arg("mergeable_ranks"), py::arg("special_tokens"), py::arg("pattern") = "gpt2")
      .def_property_readonly("max_token_value", &BpeEncoder::max_token_value)
      .def_property_readonly(
          "pattern", [](const BpeEncoder& self) { return pattern_name(self.pattern()); },
          "The pre-tokenizer pattern: 'gpt2', 'cl100k_base' or 'o200k_base'.")
      .def(
          "encode",
          [](const BpeEncoder& self, py::handle text, const std::vector<uint32_t>& allowed, int num_threads,
             size_t task_bytes) {
            return ids_to_list(text_ids(self, text, allowed, num_threads, task_bytes), self.max_token_value());
          },
          py::arg("text"), py::arg("allowed_special"), py::arg("num_threads"), py::arg("task_bytes") = 0,
          "Token ids as a list; allowed_special is a list of special-token ids to recognise; task_bytes > 0 "
          "forces cutting into tasks of about that size (tests), 0 decides by size.")
      .def(
          "encode_to_numpy",
          [](const BpeEncoder& self, py::handle text, const std::vector<uint32_t>& allowed, int num_threads,
             size_t task_bytes) {
            return read_only(vector_to_numpy(text_ids(self, text, allowed, num_threads, task_bytes)));
          },
          py::arg("text"), py::arg("allowed_special"), py::arg("num_threads"), py::arg("task_bytes") = 0,
          "Token ids as a read-only uint32 numpy array that owns the C++ buffer (no copy).")
      .def(
          "encode_batch",
          [](const BpeEncoder& self, const py::list& texts, const std::vector<uint32_t>& allowed, int num_threads,
             size_t task_bytes) {
            std::vector<std::string_view> views;
            views.reserve(texts.size());
            for (py::handle text : texts) views.push_back(utf8_of(text, "every text"));
            py::list out(views.size());
            const uint32_t max_id = self.max_token_value();
            // A text handed over in parts (one cut into several tasks) grows one list, part by part.
            // Declared before the GIL is released so that an exception frees it with the GIL held.
            py::object open_list;  // null while no text is open
            {
              py::gil_scoped_release release;
              // Lists are built under the GIL on this thread while the other threads still encode
              // (serially after the encoding they were ~30% of a batch and capped 2-thread scaling).
              // Each is kept out of the cyclic GC until the call ends: thousands of new lists
              // trigger collections that walk every id in them (~10% of a batch of 7k documents);
              // nothing else can reach them meanwhile, so no cycle can form.
              self.encode_batch(views, allowed, num_threads, task_bytes,
                                [&](size_t first, std::vector<uint32_t>* ids, size_t count, bool open) {
                                  py::gil_scoped_acquire acquire;
                                  for (size_t k = 0; k < count; ++k) {
                                    py::object ids_list;
                                    if (open_list) {  // k == 0: the next part of the open text
                                      append_ids(open_list.ptr(), ids[k], max_id);
                                      ids_list = std::move(open_list);
                                    } else {
                                      ids_list = ids_to_list(ids[k], max_id);
                                      PyObject_GC_UnTrack(ids_list.ptr());
                                    }
                                    std::vector<uint32_t>().swap(ids[k]);
                                    if (open && k + 1 == count) {
                                      open_list = std::move(ids_list);
                                    } else {
                                      out[first + k] = std::move(ids_list);
                                    }
                                  }
                                });
            }
            for (py::handle ids_list : out) {
              if (!PyObject_GC_IsTracked(ids_list.ptr())) PyObject_GC_Track(ids_list.ptr());
            }
            return out;
          },
          py::arg("texts"), py::arg("allowed_special"), py::arg("num_threads"), py::arg("task_bytes") = 0,
          "Token ids of each text (a list of lists), encoded in parallel.")
      .def_static(
          "find_first",
          [](py::handle text, const std::vector<std::string>& needles) -> py::object {
            const std::string_view view = utf8_of(text, "text");
            std::vector<std::string_view> views(needles.begin(), needles.end());
            std::pair<size_t, size_t> found;
            {
              py::gil_scoped_release release;
              found = find_first_needle(view, views);
            }
            if (found.first == std::string_view::npos) return py::none();
            return py::str(needles[found.second]);
          },
          py::arg("text"), py::arg("needles"),
          "The leftmost of the needles found in text (the longest on ties), or None.")
      .def(
          "encode_pieces",
          [](const BpeEncoder& self, const std::vector<py::bytes>& pieces, bool use_cache) {
            py::list out(pieces.size());
            for (size_t i = 0; i < pieces.size(); ++i) {
              std::vector<uint32_t> ids;
              const std::string_view piece = pieces[i];
              {
                py::gil_scoped_release release;
                if (use_cache) {
                  self.encode_piece(piece, ids);
                } else {
                  self.merge_piece(piece, ids);
                }
              }
              out[i] = ids_to_list(ids, self.max_token_value());
            }
            return out;
          },
          py::arg("pieces"), py::arg("use_cache"),
          "BPE of each already pre-tokenized piece; use_cache=False runs the bare merge loop (tests).")
      .def(
          "decode_bytes",
          [](const BpeEncoder& self, py::handle tokens) {
            const std::vector<int64_t> ids = ids_from_python(tokens);
            std::string bytes;
            {
              py::gil_scoped_release release;
              bytes = self.decode_bytes(ids.data(), ids.size());
            }
            return py::bytes(bytes);
          },
          py::arg("tokens"), "The bytes of the token ids, concatenated (a copy). KeyError for an unknown id.")
      .def(
          "token_bytes",
          [](const BpeEncoder& self, py::handle token) {
            int overflow = 0;
            const long long value = PyLong_AsLongLongAndOverflow(token.ptr(), &overflow);
            if (value == -1 && PyErr_Occurred()) throw py::error_already_set();
            const std::string_view bytes = self.token_bytes(overflow != 0 ? -1 : value);
            return py::bytes(bytes.data(), bytes.size());
          },
          py::arg("token"), "The bytes of one token id. KeyError for an unknown id.");
  testing.def(
      "piece_cache_stats",
      [](const BpeEncoder& encoder) {
        const BpeEncoder::PieceCacheStats s = encoder.piece_cache_stats();
        py::dict d;
        d["size"] = s.size;
        d["capacity"] = s.capacity;
        d["evictions"] = s.evictions;
        d["spilled"] = s.spilled;
        d["huge_pages"] = s.huge_pages;
        return d;
      },
      py::arg("encoder"), "The calling thread's piece cache for this encoder (all zero if it serves another).");
}

}  // namespace llmprep::bindings
