// Window kernels: the chapter's window count, and the gathers that copy windows into caller
// buffers, widening token ids (uint16/uint32/int32/int64) to int64 or int32 on the way.
//
// Design notes (measurements: docs/performance.md): two plain widening loops per window (GCC
// vectorizes both; the second reads the window from L1); id checks are a separate branch-free pass
// over the window before copying; gathers stay on the calling thread unless each thread gets
// kMinIdsPerThread ids (a DataLoader batch costs far less than waking a thread).
#include "llmprep/windows.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "llmprep/parallel.hpp"

namespace llmprep {

namespace {

// 256K ids = 2 MiB of int64 output per thread: large enough that thread start-up is noise.
constexpr int64_t kMinIdsPerThread = int64_t{1} << 18;

template <class Out, class Token>
inline bool id_fits(Token v) {
  if constexpr (std::is_signed_v<Token>) {
    if (v < 0) return false;
  }
  return static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<Out>::max());
}

// Whether some value of Token cannot be stored as an Out id (negative, or too large).
template <class Token, class Out>
constexpr bool needs_id_check() {
  return std::is_signed_v<Token> || static_cast<uint64_t>(std::numeric_limits<Token>::max()) >
                                        static_cast<uint64_t>(std::numeric_limits<Out>::max());
}

template <class Out, class Token>
[[noreturn]] void throw_bad_id(const Token* tokens, int64_t begin, int64_t end) {
  for (int64_t p = begin; p < end; ++p) {
    const Token v = tokens[p];
    if (id_fits<Out>(v)) continue;
    if constexpr (std::is_signed_v<Token>) {
      if (v < 0) {
        throw std::invalid_argument("token id " + std::to_string(v) + " at position " + std::to_string(p) +
                                    " is negative; token ids must be >= 0 (was the array or file written "
                                    "with a different dtype?)");
      }
    }
    throw std::invalid_argument("token id " + std::to_string(v) + " at position " + std::to_string(p) +
                                " does not fit the int32 output; use int64 output");
  }
  throw std::logic_error("throw_bad_id called on a window without a bad id");
}

template <class Token, class Out>
inline void copy_window(const Token* tokens, int64_t start, int64_t max_length, Out* input_row, Out* target_row) {
  const Token* src = tokens + start;
  if constexpr (needs_id_check<Token, Out>()) {
    bool all_fit = true;
    for (int64_t j = 0; j <= max_length; ++j) all_fit &= id_fits<Out>(src[j]);
    if (!all_fit) throw_bad_id<Out>(tokens, start, start + max_length + 1);
  }
  for (int64_t j = 0; j < max_length; ++j) input_row[j] = static_cast<Out>(src[j]);
  for (int64_t j = 0; j < max_length; ++j) target_row[j] = static_cast<Out>(src[j + 1]);
}

int gather_threads(int requested, int64_t count, int64_t max_length) {
  const int64_t ids = count * max_length;
  const int64_t useful = ids / kMinIdsPerThread;
  if (useful <= 1) return 1;
  const int threads = resolve_num_threads(requested, count);
  return static_cast<int>(std::min<int64_t>(threads, useful));
}

void check_spec(const WindowSpec& spec) {
  // window_count validates max_length, stride and n_tokens.
  (void)window_count(spec.n_tokens, spec.max_length, spec.stride);
}

}  // namespace

int64_t window_count(int64_t n_tokens, int64_t max_length, int64_t stride) {
  if (max_length <= 0) {
    throw std::invalid_argument("max_length must be a positive number of tokens, got " + std::to_string(max_length));
  }
  if (stride <= 0) {
    throw std::invalid_argument("stride must be a positive number of tokens, got " + std::to_string(stride));
  }
  if (n_tokens < 0) throw std::invalid_argument("n_tokens must be >= 0, got " + std::to_string(n_tokens));
  const int64_t span = n_tokens - max_length;  // the chapter's range(0, span, stride)
  if (span <= 0) return 0;
  return (span - 1) / stride + 1;
}

template <class Token, class Out>
void gather_windows(const Token* tokens, const WindowSpec& spec, const int64_t* windows, int64_t count, Out* inputs,
                    Out* targets, int num_threads) {
  check_spec(spec);
  if (count < 0) throw std::invalid_argument("count must be >= 0, got " + std::to_string(count));
  const int64_t n_windows = window_count(spec.n_tokens, spec.max_length, spec.stride);
  // Validate every index before writing anything: a bad batch leaves the buffers untouched.
  for (int64_t r = 0; r < count; ++r) {
    if (windows[r] < 0 || windows[r] >= n_windows) {
      throw std::out_of_range("window index " + std::to_string(windows[r]) + " (at position " + std::to_string(r) +
                              ") is out of range: there are " + std::to_string(n_windows) +
                              " windows, so valid indices are 0.." + std::to_string(n_windows - 1));
    }
  }
  const int64_t length = spec.max_length;
  const int64_t stride = spec.stride;
  parallel_for(count, gather_threads(num_threads, count, length), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      copy_window(tokens, windows[r] * stride, length, inputs + r * length, targets + r * length);
    }
  });
}

template <class Token, class Out>
void gather_window_range(const Token* tokens, const WindowSpec& spec, int64_t first, int64_t count, Out* inputs,
                         Out* targets, int num_threads) {
  check_spec(spec);
  const int64_t n_windows = window_count(spec.n_tokens, spec.max_length, spec.stride);
  if (first < 0 || count < 0 || first > n_windows || count > n_windows - first) {
    throw std::out_of_range("windows " + std::to_string(first) + ".." + std::to_string(first + count - 1) +
                            " are out of range: there are " + std::to_string(n_windows) + " windows");
  }
  const int64_t length = spec.max_length;
  const int64_t stride = spec.stride;
  parallel_for(count, gather_threads(num_threads, count, length), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      copy_window(tokens, (first + r) * stride, length, inputs + r * length, targets + r * length);
    }
  });
}

#define LLMPREP_INSTANTIATE_WINDOWS(Token, Out)                                                                        \
  template void gather_windows<Token, Out>(const Token*, const WindowSpec&, const int64_t*, int64_t, Out*, Out*, int); \
  template void gather_window_range<Token, Out>(const Token*, const WindowSpec&, int64_t, int64_t, Out*, Out*, int);

LLMPREP_INSTANTIATE_WINDOWS(uint16_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(uint32_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(int32_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(int64_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(uint16_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(uint32_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(int32_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(int64_t, int32_t)

#undef LLMPREP_INSTANTIATE_WINDOWS

}  // namespace llmprep
