// Reading files into memory for the kernels, with the UTF-8 policy applied once at the edge.
#pragma once

#include <string>

namespace llmprep {

// The whole file as bytes. Throws IoError naming the path and the system's reason.
std::string read_file_bytes(const std::string& path);

// The whole file as valid UTF-8. replace=false: throws Utf8Error naming the path and the byte
// offset of the first ill-formed sequence (Python's errors="strict"); replace=true: substitutes
// U+FFFD exactly as Python's errors="replace" does. A BOM is kept, as Python's "utf-8" codec does.
std::string read_utf8_file(const std::string& path, bool replace);

}  // namespace llmprep
