// llmprep._core: the private extension module. Each concern registers itself from its own
// binding file; this file only lists them.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "llmprep's C++ kernels (private: use the llmprep package)";
  m.def_submodule("_testing", "Test and inspection hooks of llmprep._core: for tests, fuzzers and benchmarks only");
  llmprep::bindings::register_errors(m);
  llmprep::bindings::register_text(m);
  llmprep::bindings::register_simple(m);
  llmprep::bindings::register_windows(m);
  llmprep::bindings::register_pretokenize(m);
  llmprep::bindings::register_bpe(m);
  llmprep::bindings::register_tokenize(m);     // after bpe: it takes a BpeEncoder
  llmprep::bindings::register_vocab_files(m);  // after bpe: it returns BpeEncoders
  llmprep::bindings::register_parallel(m);
  llmprep::bindings::register_checksum(m);
}
