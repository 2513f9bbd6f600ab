// Sliding windows over a 1-D token array, as section 2.6 of the chapter cuts them: how many windows
// there are, and copying chosen windows (inputs, and targets shifted by one token) into contiguous
// buffers the caller owns, so a pinned torch tensor is filled with no intermediate copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
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

// Which part of a sequence in parts holds a position: the first part whose end is past it (so
// empty parts are skipped). A binary search over a set of 1,000 shards cost a fifth of a batch's
// gather: its levels miss L1 once the batch's output has gone through it. This keeps, per bucket
// of 2^shift positions (about two buckets per part), the part holding the bucket's first position,
// so a lookup reads one bucket and searches only the parts that end inside it (usually none).
class PartIndex {
 public:
  PartIndex() = default;
  // part_ends: non-decreasing, at least one; must outlive the index.
  PartIndex(const int64_t* part_ends, int64_t n_parts);
  int64_t part_of(int64_t pos) const noexcept;  // 0 <= pos < the last end

 private:
  const int64_t* ends_ = nullptr;
  int shift_ = 0;
  std::vector<int64_t> first_;  // first_[b]: the part holding position b << shift_; one more at the end
};

// The same windows over a sequence stored in parts (the shard files of a corpus, each its own
// array): part p holds sequence tokens [part_ends[p - 1], part_ends[p]) (part_ends[-1] = 0; empty
// parts allowed; the caller checks once that the ends do not decrease), and spec.n_tokens must
// be part_ends[n_parts - 1]. The result equals gather_windows over the concatenation: a window
// inside one part is copied from it; one that spans parts is assembled from their pieces first.
// Error positions count in the whole sequence. Every non-empty part a window touches must be
// non-null (else std::invalid_argument before anything is written; TokenParts maps them first).
// `index`, when given, must be a PartIndex of these part_ends (TokenParts keeps one).
template <class Token, class Out>
void gather_windows_parts(const Token* const* parts, const int64_t* part_ends, int64_t n_parts, const WindowSpec& spec,
                          const int64_t* windows, int64_t count, Out* inputs, Out* targets, int num_threads,
                          const PartIndex* index = nullptr);

// Copies sequence tokens [start, stop) of a sequence in parts (as above) into out, which holds
// stop - start tokens. Throws std::out_of_range unless 0 <= start <= stop <= part_ends[n_parts - 1],
// std::invalid_argument when a non-empty part in the range is null.
template <class Token>
void copy_parts_range(const Token* const* parts, const int64_t* part_ends, int64_t n_parts, int64_t start, int64_t stop,
                      Token* out);

// Where one part of a sequence in files lives: its ids start at byte `offset` of the file `path`.
struct PartFile {
  std::string path;
  int64_t offset = 0;
};

// A token sequence stored in files, one part per file (the shards of a corpus), mapped lazily:
// a part is mapped read-only the first time a window or range needs it and stays mapped until
// the table is destroyed. No file descriptor is kept open (a set of 10,000 shards must not need
// 10,000 of them, nor 20,000 as numpy's memmap would), and nothing is read before it is needed.
// The files must not shrink while mapped (as for any memory map). Thread-safe: mapping is
// serialized by a mutex, and a pointer, once set, never changes.
class TokenParts {
 public:
  // files[p] holds part p; part_ends as for gather_windows_parts (checked here: non-decreasing,
  // >= 0, at least one part); itemsize is the ids' size in bytes (2, 4 or 8).
  TokenParts(std::vector<PartFile> files, std::vector<int64_t> part_ends, int itemsize);
  ~TokenParts();
  TokenParts(const TokenParts&) = delete;
  TokenParts& operator=(const TokenParts&) = delete;

  int64_t n_tokens() const { return ends_.back(); }
  int64_t n_parts() const { return static_cast<int64_t>(ends_.size()); }
  const int64_t* part_ends() const { return ends_.data(); }
  const PartIndex& index() const { return index_; }
  // How many parts are mapped now.
  int64_t n_mapped() const { return n_mapped_.load(std::memory_order_relaxed); }

  // Maps the parts windows[0..count) touch that are not mapped yet (after the index check of
  // gather_windows, which throws std::out_of_range before anything is mapped) and returns the
  // table of part pointers for gather_windows_parts. Throws IoError naming the file when one
  // cannot be opened or mapped, std::invalid_argument when it is shorter than its part.
  const void* const* map_windows(const WindowSpec& spec, const int64_t* windows, int64_t count);
  // The same for the parts overlapping tokens [start, stop) (std::out_of_range outside the sequence).
  const void* const* map_range(int64_t start, int64_t stop);

 private:
  struct Mapping {
    void* address = nullptr;  // what munmap (or delete[] where there is no mmap) releases
    size_t length = 0;
  };
  void map_part(int64_t p);                                           // with mutex_ held
  const void* const* map_parts_in(int64_t first_part, int64_t stop);  // with mutex_ held

  std::vector<PartFile> files_;
  std::vector<int64_t> ends_;
  PartIndex index_;
  int itemsize_;
  std::vector<const void*> pointers_;
  std::vector<Mapping> mappings_;
  int64_t n_nonempty_ = 0;
  std::atomic<int64_t> n_mapped_{0};
  std::mutex mutex_;
};

}  // namespace llmprep
