// Sliding windows over a 1-D token array, as section 2.6 of the chapter cuts them: how many windows
// there are, and copying chosen windows (inputs, and targets shifted by one token) into contiguous
// buffers the caller owns, so a pinned torch tensor is filled with no intermediate copy.
#pragma once

#include <cstdint>
#include <vector>

namespace llmprep {

// The geometry of a window set: window w covers tokens [w * stride, w * stride + max_length) as
// inputs and the same span shifted by one as targets.
struct WindowSpec {
  int64_t n_tokens = 0;
  int64_t max_length = 0;
  int64_t stride = 0;
};

// len(range(0, n_tokens - max_length, stride)), exactly as the chapter's loop counts: 0 when
// n_tokens <= max_length. Throws std::invalid_argument when max_length or stride is not positive
// or n_tokens is negative.
int64_t window_count(int64_t n_tokens, int64_t max_length, int64_t stride);

// Writes window windows[r] into row r of inputs and targets (each [count, max_length], row-major,
// contiguous). Token is uint16_t, uint32_t, int32_t or int64_t; Out is int64_t or int32_t.
//   - a window index outside [0, window_count) throws std::out_of_range before anything is written;
//   - a negative token id (signed Token) or one that does not fit Out throws std::invalid_argument
//     naming its position; rows before it may already be written.
// Large gathers are split over up to num_threads threads (<= 0: the default); the result does not
// depend on the thread count.
template <class Token, class Out>
void gather_windows(const Token* tokens, const WindowSpec& spec, const int64_t* windows, int64_t count, Out* inputs,
                    Out* targets, int num_threads);

// The same for the consecutive windows first, first + 1, ..., first + count - 1 (materializing a
// whole window set without building an index array).
template <class Token, class Out>
void gather_window_range(const Token* tokens, const WindowSpec& spec, int64_t first, int64_t count, Out* inputs,
                         Out* targets, int num_threads);

// The same windows over a sequence stored in parts (the shard files of a corpus, each its own
// array): part p holds sequence tokens [part_ends[p - 1], part_ends[p]) (part_ends[-1] = 0; empty
// parts allowed; the caller checks once that the ends do not decrease), and spec.n_tokens must
// be part_ends[n_parts - 1]. The result equals gather_windows
// over the concatenation: a window inside one part is copied from it; one that spans parts is
// assembled from their pieces first. Error positions count in the whole sequence. Every part a
// window touches must be non-null (the caller maps them first; see parts_needed).
template <class Token, class Out>
void gather_windows_parts(const Token* const* parts, const int64_t* part_ends, int64_t n_parts, const WindowSpec& spec,
                          const int64_t* windows, int64_t count, Out* inputs, Out* targets, int num_threads);

// Indices of the parts that windows[0..count) touch and that are still null in `parts`, ascending
// and without repeats (the index check of gather_windows runs first).
std::vector<int64_t> parts_needed(const void* const* parts, const int64_t* part_ends, int64_t n_parts,
                                  const WindowSpec& spec, const int64_t* windows, int64_t count);

}  // namespace llmprep
