// Window kernels: the chapter's window count, and the gathers that copy windows into caller
// buffers, widening token ids (uint16/uint32/int32/int64) to int64 or int32 on the way.
//
// Design notes (measurements: docs/performance.md): two plain widening loops per window (GCC
// vectorizes both; the second reads the window from L1); id checks are a separate branch-free pass
// over the window before copying; gathers stay on the calling thread unless each thread gets
// kMinIdsPerThread ids (a DataLoader batch costs far less than waking a thread).
// Shard sets: gather_windows_parts is one call per batch over a table of part pointers, reusing
// copy_window (a per-shard call from Python was far slower: docs/performance.md).
#include "llmprep/windows.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

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

// Names the first id in tokens[begin, end) that does not fit; positions are reported plus `shift`.
template <class Out, class Token>
[[noreturn]] void throw_bad_id(const Token* tokens, int64_t begin, int64_t end, int64_t shift = 0) {
  for (int64_t p = begin; p < end; ++p) {
    const Token v = tokens[p];
    if (id_fits<Out>(v)) continue;
    if constexpr (std::is_signed_v<Token>) {
      if (v < 0) {
        throw std::invalid_argument("token id " + std::to_string(v) + " at position " + std::to_string(p + shift) +
                                    " is negative; token ids must be >= 0 (was the array or file written "
                                    "with a different dtype?)");
      }
    }
    throw std::invalid_argument("token id " + std::to_string(v) + " at position " + std::to_string(p + shift) +
                                " does not fit the int32 output; use int64 output");
  }
  throw std::logic_error("throw_bad_id called on a window without a bad id");
}

template <class Token, class Out>
inline void copy_window(const Token* tokens, int64_t start, int64_t max_length, Out* input_row, Out* target_row,
                        int64_t position_shift = 0) {
  const Token* src = tokens + start;
  if constexpr (needs_id_check<Token, Out>()) {
    bool all_fit = true;
    for (int64_t j = 0; j <= max_length; ++j) all_fit &= id_fits<Out>(src[j]);
    if (!all_fit) throw_bad_id<Out>(tokens, start, start + max_length + 1, position_shift);
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

// Validates every index before anything is written: a bad batch leaves the buffers untouched.
void check_window_indices(const WindowSpec& spec, const int64_t* windows, int64_t count) {
  if (count < 0) throw std::invalid_argument("count must be >= 0, got " + std::to_string(count));
  const int64_t n_windows = window_count(spec.n_tokens, spec.max_length, spec.stride);
  for (int64_t r = 0; r < count; ++r) {
    if (windows[r] < 0 || windows[r] >= n_windows) {
      throw std::out_of_range("window index " + std::to_string(windows[r]) + " (at position " + std::to_string(r) +
                              ") is out of range: there are " + std::to_string(n_windows) +
                              " windows, so valid indices are 0.." + std::to_string(n_windows - 1));
    }
  }
}

// The part holding sequence position `pos` (< the last end): the first part whose end is past it,
// which skips empty parts.
int64_t part_of(const int64_t* part_ends, int64_t n_parts, int64_t pos) {
  return std::upper_bound(part_ends, part_ends + n_parts, pos) - part_ends;
}

// The ends themselves (non-decreasing, >= 0) are the caller's to check once, not per batch.
void check_parts(const int64_t* part_ends, int64_t n_parts, const WindowSpec& spec) {
  if (n_parts <= 0) throw std::invalid_argument("a sequence in parts needs at least one part");
  if (part_ends[n_parts - 1] != spec.n_tokens) {
    throw std::invalid_argument("the last part end (" + std::to_string(part_ends[n_parts - 1]) +
                                ") must equal n_tokens (" + std::to_string(spec.n_tokens) + ")");
  }
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
  check_window_indices(spec, windows, count);
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

template <class Token, class Out>
void gather_windows_parts(const Token* const* parts, const int64_t* part_ends, int64_t n_parts, const WindowSpec& spec,
                          const int64_t* windows, int64_t count, Out* inputs, Out* targets, int num_threads) {
  check_spec(spec);
  check_parts(part_ends, n_parts, spec);
  check_window_indices(spec, windows, count);
  const int64_t length = spec.max_length;
  const int64_t stride = spec.stride;
  for (int64_t r = 0; r < count; ++r) {  // every part a window touches must be there before any copy
    const int64_t start = windows[r] * stride;
    for (int64_t p = part_of(part_ends, n_parts, start); p < n_parts; ++p) {
      if (part_ends[p] > (p > 0 ? part_ends[p - 1] : 0) && parts[p] == nullptr) {
        throw std::invalid_argument("part " + std::to_string(p) + " is needed but not mapped");
      }
      if (part_ends[p] >= start + length + 1) break;
    }
  }
  parallel_for(count, gather_threads(num_threads, count, length), [&](int64_t begin, int64_t end) {
    std::vector<Token> spanning;  // a window that spans parts, assembled
    for (int64_t r = begin; r < end; ++r) {
      const int64_t start = windows[r] * stride;
      int64_t p = part_of(part_ends, n_parts, start);
      const int64_t part_begin = p > 0 ? part_ends[p - 1] : 0;
      const Token* src;
      int64_t src_start;
      if (start + length + 1 <= part_ends[p]) {  // inside one part: straight from its memory
        src = parts[p];
        src_start = start - part_begin;
      } else {
        spanning.resize(static_cast<size_t>(length + 1));
        int64_t at = start;
        for (; at < start + length + 1; ++p) {
          const int64_t from = p > 0 ? part_ends[p - 1] : 0;
          const int64_t stop = std::min(part_ends[p], start + length + 1);
          if (stop > at) std::copy(parts[p] + (at - from), parts[p] + (stop - from), spanning.data() + (at - start));
          at = std::max(at, stop);
        }
        src = spanning.data();
        src_start = 0;
      }
      // Error positions as in the whole sequence: position start + j for the window's j-th id.
      copy_window(src, src_start, length, inputs + r * length, targets + r * length, start - src_start);
    }
  });
}

std::vector<int64_t> parts_needed(const void* const* parts, const int64_t* part_ends, int64_t n_parts,
                                  const WindowSpec& spec, const int64_t* windows, int64_t count) {
  check_spec(spec);
  check_parts(part_ends, n_parts, spec);
  check_window_indices(spec, windows, count);
  std::vector<int64_t> needed;
  for (int64_t r = 0; r < count; ++r) {
    const int64_t start = windows[r] * spec.stride;
    for (int64_t p = part_of(part_ends, n_parts, start); p < n_parts; ++p) {
      if (part_ends[p] > (p > 0 ? part_ends[p - 1] : 0) && parts[p] == nullptr) needed.push_back(p);
      if (part_ends[p] >= start + spec.max_length + 1) break;
    }
  }
  std::sort(needed.begin(), needed.end());
  needed.erase(std::unique(needed.begin(), needed.end()), needed.end());
  return needed;
}

#define LLMPREP_INSTANTIATE_WINDOWS(Token, Out)                                                                        \
  template void gather_windows<Token, Out>(const Token*, const WindowSpec&, const int64_t*, int64_t, Out*, Out*, int); \
  template void gather_window_range<Token, Out>(const Token*, const WindowSpec&, int64_t, int64_t, Out*, Out*, int);   \
  template void gather_windows_parts<Token, Out>(const Token* const*, const int64_t*, int64_t, const WindowSpec&,      \
                                                 const int64_t*, int64_t, Out*, Out*, int);

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
