// CRC-32C for token files: one running checksum over a buffer, and the checksums of a buffer's
// fixed-size blocks in parallel (for `llmprep verify`). The GIL is released around the work.
#include "common.hpp"
#include "llmprep/crc32c.hpp"

namespace llmprep::bindings {

namespace {

py::buffer_info contiguous_bytes(const py::buffer& data) {
  py::buffer_info info = data.request();
  if (info.ndim > 1 && info.strides.back() != info.itemsize) {
    throw std::invalid_argument("crc32c needs a C-contiguous buffer");
  }
  for (py::ssize_t i = info.ndim - 1, expected = info.itemsize; i >= 0; --i) {
    if (info.strides[size_t(i)] != expected) throw std::invalid_argument("crc32c needs a C-contiguous buffer");
    expected *= info.shape[size_t(i)];
  }
  return info;
}

}  // namespace

void register_checksum(py::module_& m) {
  py::module_ testing = testing_module(m);
  m.def(
      "crc32c",
      [](const py::buffer& data, uint32_t crc, bool portable) {
        py::buffer_info info = contiguous_bytes(data);
        const auto size = static_cast<size_t>(info.size * info.itemsize);
        py::gil_scoped_release release;
        return portable ? crc32c_portable(crc, info.ptr, size) : crc32c(crc, info.ptr, size);
      },
      py::arg("data"), py::arg("crc") = 0, py::arg("portable") = false,
      "CRC-32C of a C-contiguous buffer, continuing from `crc` (portable=True forces the table path).");
  m.def(
      "crc32c_blocks",
      [](const py::buffer& data, int64_t block_bytes, int num_threads) {
        if (block_bytes <= 0) throw std::invalid_argument("block_bytes must be > 0");
        py::buffer_info info = contiguous_bytes(data);
        const auto size = static_cast<size_t>(info.size * info.itemsize);
        const auto block = static_cast<size_t>(block_bytes);
        std::vector<uint32_t> out((size + block - 1) / block);
        {
          py::gil_scoped_release release;
          crc32c_blocks(info.ptr, size, block, num_threads, out.data());
        }
        return vector_to_numpy(std::move(out));
      },
      py::arg("data"), py::arg("block_bytes"), py::arg("num_threads") = 0,
      "uint32 CRC-32C of each block_bytes block of a C-contiguous buffer (the last may be shorter), "
      "computed on up to num_threads threads (0: the default); a new array.");
  testing.def("crc32c_hardware", &crc32c_hardware, "Whether crc32c uses the CPU's crc32 instruction here.");
}

}  // namespace llmprep::bindings
