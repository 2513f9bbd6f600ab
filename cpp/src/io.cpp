// File reading for the kernels: one read into one buffer, then the UTF-8 policy.
#include "llmprep/io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "llmprep/errors.hpp"
#include "llmprep/utf8.hpp"

namespace llmprep {

namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

[[noreturn]] void throw_io(const std::string& what, const std::string& path, int errnum) {
  throw IoError(what + " '" + path + "': " + std::strerror(errnum), errnum);
}

}  // namespace

std::string read_file_bytes(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw_io("cannot open", path, errno);
  std::string data;
  char buffer[1 << 16];
  for (;;) {
    const size_t got = std::fread(buffer, 1, sizeof buffer, file.get());
    data.append(buffer, got);
    if (got < sizeof buffer) {
      if (std::ferror(file.get())) throw_io("cannot read", path, errno ? errno : EIO);
      break;
    }
  }
  return data;
}

std::string read_utf8_file(const std::string& path, bool replace) {
  std::string data = read_file_bytes(path);
  const Utf8Fault fault = find_utf8_fault(data);
  if (fault.offset < 0) return data;
  if (replace) return replace_invalid_utf8(data);
  throw_utf8_error(path, static_cast<unsigned char>(data[static_cast<size_t>(fault.offset)]), fault.offset,
                   fault.reason);
}

}  // namespace llmprep
