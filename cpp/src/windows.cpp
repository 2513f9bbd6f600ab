// Window kernels: the chapter's window count, and the gathers that copy windows into caller
// buffers, widening token ids (uint16/uint32/int32/int64) to int64 or int32 on the way.
//
// Design notes (measurements: docs/performance.md): two plain widening loops per window (GCC
// vectorizes both; the second reads the window from L1); id checks are a separate branch-free pass
// over the window before copying; gathers stay on the calling thread unless each thread gets
// kMinIdsPerThread ids (a DataLoader batch costs far less than waking a thread).
// Shard sets: gather_windows_parts is one call per batch over a table of part pointers, reusing
// copy_window (a per-shard call from Python was far slower: docs/performance.md). TokenParts maps
// each shard file itself, on first need, and closes the descriptor at once: numpy's memmap keeps
// one open per map (Python's mmap dups it), so a set of more shards than RLIMIT_NOFILE / 2 failed
// with "Too many open files", and each np.memmap cost tens of microseconds of Python.
#include "llmprep/windows.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "llmprep/errors.hpp"
#include "llmprep/parallel.hpp"

#ifdef _WIN32
#include <cstdio>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

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

// Starts loading a shuffled batch's next window while this one is copied: each window begins at a
// random place, where the hardware prefetcher has nothing to go on yet.
template <class Token>
inline void prefetch_window(const Token* src, int64_t n) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  const char* bytes = reinterpret_cast<const char*>(src);
  const int64_t size = n * static_cast<int64_t>(sizeof(Token));
  for (int64_t at = 0; at < size; at += 64) __builtin_prefetch(bytes + at);
#else
  (void)src;
  (void)n;
#endif
}

// dst[k] = src[k] for k < n (none when n <= 0), widened or narrowed to Out; vectorized.
template <class Token, class Out>
inline void convert_ids(const Token* __restrict src, int64_t n, Out* __restrict dst) {
  for (int64_t k = 0; k < n; ++k) dst[k] = static_cast<Out>(src[k]);
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
int64_t upper_part(const int64_t* part_ends, int64_t n_parts, int64_t pos) {
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
      if (r + 1 < end) prefetch_window(tokens + windows[r + 1] * stride, length + 1);
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
                          const int64_t* windows, int64_t count, Out* inputs, Out* targets, int num_threads,
                          const PartIndex* index) {
  const auto find_part = [&](int64_t pos) {
    return index != nullptr ? index->part_of(pos) : upper_part(part_ends, n_parts, pos);
  };
  check_spec(spec);
  check_parts(part_ends, n_parts, spec);
  check_window_indices(spec, windows, count);
  const int64_t length = spec.max_length;
  const int64_t stride = spec.stride;
  for (int64_t r = 0; r < count; ++r) {  // every part a window touches must be there before any copy
    const int64_t start = windows[r] * stride;
    for (int64_t p = find_part(start); p < n_parts; ++p) {
      if (part_ends[p] > (p > 0 ? part_ends[p - 1] : 0) && parts[p] == nullptr) {
        throw std::invalid_argument("part " + std::to_string(p) + " is needed but not mapped");
      }
      if (part_ends[p] >= start + length + 1) break;
    }
  }
  parallel_for(count, gather_threads(num_threads, count, length), [&](int64_t begin, int64_t end) {
    std::vector<Token> spanning;  // a window that spans parts, assembled
    int64_t next_part = begin < end ? find_part(windows[begin] * stride) : 0;
    for (int64_t r = begin; r < end; ++r) {
      const int64_t start = windows[r] * stride;
      int64_t p = next_part;
      if (r + 1 < end) {  // as in gather_windows; a window spanning parts is left to the hardware
        const int64_t next = windows[r + 1] * stride;
        next_part = find_part(next);
        if (next + length + 1 <= part_ends[next_part]) {
          prefetch_window(parts[next_part] + (next - (next_part > 0 ? part_ends[next_part - 1] : 0)), length + 1);
        }
      }
      const int64_t part_begin = p > 0 ? part_ends[p - 1] : 0;
      const Token* src;
      int64_t src_start;
      if (start + length + 1 <= part_ends[p]) {  // inside one part: straight from its memory
        src = parts[p];
        src_start = start - part_begin;
      } else if constexpr (!needs_id_check<Token, Out>()) {
        // Spanning parts, ids that always fit: each part's piece goes straight into both rows, with
        // no assembled copy in between.
        Out* input_row = inputs + r * length;
        Out* target_row = targets + r * length;
        for (int64_t at = start; at < start + length + 1; ++p) {
          const int64_t from = p > 0 ? part_ends[p - 1] : 0;
          const int64_t stop = std::min(part_ends[p], start + length + 1);
          if (stop <= at) continue;                     // an empty part
          const Token* piece = parts[p] + (at - from);  // window offsets [j0, j1) of this part
          const int64_t j0 = at - start;
          const int64_t j1 = stop - start;
          const int64_t t0 = std::max<int64_t>(j0, 1);  // targets start one token in
          convert_ids(piece, std::min(j1, length) - j0, input_row + j0);
          convert_ids(piece + (t0 - j0), j1 - t0, target_row + (t0 - 1));
          at = stop;
        }
        continue;
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

template <class Token>
void copy_parts_range(const Token* const* parts, const int64_t* part_ends, int64_t n_parts, int64_t start, int64_t stop,
                      Token* out) {
  if (n_parts <= 0) throw std::invalid_argument("a sequence in parts needs at least one part");
  if (start < 0 || stop < start || stop > part_ends[n_parts - 1]) {
    throw std::out_of_range("tokens " + std::to_string(start) + ".." + std::to_string(stop) +
                            " are out of range: the sequence has " + std::to_string(part_ends[n_parts - 1]));
  }
  int64_t at = start;
  for (int64_t p = start < stop ? upper_part(part_ends, n_parts, start) : n_parts; at < stop; ++p) {
    const int64_t from = p > 0 ? part_ends[p - 1] : 0;
    const int64_t until = std::min(part_ends[p], stop);
    if (until > at) {
      if (parts[p] == nullptr) throw std::invalid_argument("part " + std::to_string(p) + " is needed but not mapped");
      std::copy(parts[p] + (at - from), parts[p] + (until - from), out + (at - start));
      at = until;
    }
  }
}

// ------------------------------------------------------------------------------------------------
// PartIndex

PartIndex::PartIndex(const int64_t* part_ends, int64_t n_parts) : ends_(part_ends) {
  const int64_t n_tokens = part_ends[n_parts - 1];
  // About two buckets per part, at most 2^22 (32 MiB of index for the largest sets).
  const int64_t want = std::min<int64_t>(2 * n_parts, int64_t(1) << 22);
  while (shift_ < 62 && (n_tokens >> shift_) >= want) ++shift_;
  const int64_t buckets = (n_tokens >> shift_) + 1;
  first_.resize(static_cast<size_t>(buckets) + 1);
  for (int64_t b = 0; b < buckets; ++b) {
    first_[static_cast<size_t>(b)] = upper_part(part_ends, n_parts, std::min(b << shift_, n_tokens - 1));
  }
  first_[static_cast<size_t>(buckets)] = n_parts - 1;
}

int64_t PartIndex::part_of(int64_t pos) const noexcept {
  const size_t b = static_cast<size_t>(pos >> shift_);
  // The answer lies in [first_[b], first_[b + 1]] (parts are ordered); usually they are equal.
  const int64_t lo = first_[b];
  const int64_t hi = first_[b + 1];
  return std::upper_bound(ends_ + lo, ends_ + hi, pos) - ends_;
}

// ------------------------------------------------------------------------------------------------
// TokenParts: the parts' files, mapped on first need.

TokenParts::TokenParts(std::vector<PartFile> files, std::vector<int64_t> part_ends, int itemsize)
    : files_(std::move(files)), ends_(std::move(part_ends)), itemsize_(itemsize) {
  if (ends_.empty()) throw std::invalid_argument("a sequence in parts needs at least one part");
  if (files_.size() != ends_.size()) {
    throw std::invalid_argument("there must be one file per part: " + std::to_string(files_.size()) + " files for " +
                                std::to_string(ends_.size()) + " parts");
  }
  if (itemsize_ != 2 && itemsize_ != 4 && itemsize_ != 8) {
    throw std::invalid_argument("itemsize must be 2, 4 or 8, not " + std::to_string(itemsize_));
  }
  int64_t previous = 0;
  for (size_t p = 0; p < ends_.size(); ++p) {
    if (ends_[p] < previous) throw std::invalid_argument("part ends must be non-decreasing and >= 0");
    if (files_[p].offset < 0) throw std::invalid_argument("a part's byte offset must be >= 0");
    if (ends_[p] > previous) ++n_nonempty_;
    previous = ends_[p];
  }
  pointers_.assign(ends_.size(), nullptr);
  mappings_.resize(ends_.size());
  index_ = PartIndex(ends_.data(), n_parts());
}

TokenParts::~TokenParts() {
  for (const Mapping& m : mappings_) {
    if (m.address == nullptr) continue;
#ifdef _WIN32
    delete[] static_cast<char*>(m.address);
#else
    ::munmap(m.address, m.length);
#endif
  }
}

void TokenParts::map_part(int64_t p) {
  const PartFile& file = files_[static_cast<size_t>(p)];
  const int64_t begin = p > 0 ? ends_[static_cast<size_t>(p - 1)] : 0;
  const int64_t bytes = (ends_[static_cast<size_t>(p)] - begin) * itemsize_;
  const auto too_short = [&](int64_t size) {
    return std::invalid_argument("token file '" + file.path + "' has " + std::to_string(size) +
                                 " bytes, but its part of the sequence needs " + std::to_string(file.offset + bytes) +
                                 ": it changed since it was opened; open the shards again");
  };
#ifdef _WIN32
  // No mmap here: the part is read into memory once (still only when first needed).
  std::FILE* f = std::fopen(file.path.c_str(), "rb");
  if (f == nullptr) throw IoError("cannot open token file '" + file.path + "': " + std::strerror(errno), errno);
  auto data = std::make_unique<char[]>(static_cast<size_t>(bytes));
  const bool ok = _fseeki64(f, file.offset, SEEK_SET) == 0 &&
                  std::fread(data.get(), 1, static_cast<size_t>(bytes), f) == static_cast<size_t>(bytes);
  std::fclose(f);
  if (!ok) throw too_short(file.offset);
  mappings_[static_cast<size_t>(p)] = {data.get(), static_cast<size_t>(bytes)};
  pointers_[static_cast<size_t>(p)] = data.release();
#else
  const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int errnum = errno;
    throw IoError("cannot open token file '" + file.path + "': " + std::strerror(errnum), errnum);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int errnum = errno;
    ::close(fd);
    throw IoError("cannot stat token file '" + file.path + "': " + std::strerror(errnum), errnum);
  }
  if (static_cast<int64_t>(st.st_size) < file.offset + bytes) {
    ::close(fd);
    throw too_short(static_cast<int64_t>(st.st_size));
  }
  // mmap offsets must be page-aligned: map from the page holding the first id.
  const int64_t page = ::sysconf(_SC_PAGESIZE);
  const int64_t aligned = file.offset - file.offset % page;
  const auto length = static_cast<size_t>(file.offset - aligned + bytes);
  void* address = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(aligned));
  const int errnum = errno;
  ::close(fd);  // the mapping keeps the file; the descriptor is not needed
  if (address == MAP_FAILED) {
    throw IoError("cannot map token file '" + file.path + "': " + std::strerror(errnum), errnum);
  }
  mappings_[static_cast<size_t>(p)] = {address, length};
  pointers_[static_cast<size_t>(p)] = static_cast<const char*>(address) + (file.offset - aligned);
#endif
  n_mapped_.fetch_add(1, std::memory_order_release);
}

const void* const* TokenParts::map_windows(const WindowSpec& spec, const int64_t* windows, int64_t count) {
  check_spec(spec);
  check_parts(ends_.data(), n_parts(), spec);
  check_window_indices(spec, windows, count);
  // Once every part is mapped (the steady state of training), a batch costs no lock and no lookup.
  if (n_mapped_.load(std::memory_order_acquire) == n_nonempty_) return pointers_.data();
  const std::lock_guard<std::mutex> lock(mutex_);
  for (int64_t r = 0; r < count; ++r) {
    const int64_t start = windows[r] * spec.stride;
    map_parts_in(index_.part_of(start), start + spec.max_length + 1);
  }
  return pointers_.data();
}

const void* const* TokenParts::map_range(int64_t start, int64_t stop) {
  if (start < 0 || stop < start || stop > n_tokens()) {
    throw std::out_of_range("tokens " + std::to_string(start) + ".." + std::to_string(stop) +
                            " are out of range: the sequence has " + std::to_string(n_tokens()));
  }
  if (start == stop || n_mapped_.load(std::memory_order_acquire) == n_nonempty_) return pointers_.data();
  const std::lock_guard<std::mutex> lock(mutex_);
  return map_parts_in(index_.part_of(start), stop);
}

const void* const* TokenParts::map_parts_in(int64_t first_part, int64_t stop) {
  for (int64_t p = first_part; p < n_parts(); ++p) {
    const int64_t from = p > 0 ? ends_[static_cast<size_t>(p - 1)] : 0;
    if (from >= stop) break;
    if (ends_[static_cast<size_t>(p)] > from && pointers_[static_cast<size_t>(p)] == nullptr) map_part(p);
  }
  return pointers_.data();
}

#define LLMPREP_INSTANTIATE_WINDOWS(Token, Out)                                                                        \
  template void gather_windows<Token, Out>(const Token*, const WindowSpec&, const int64_t*, int64_t, Out*, Out*, int); \
  template void gather_window_range<Token, Out>(const Token*, const WindowSpec&, int64_t, int64_t, Out*, Out*, int);   \
  template void gather_windows_parts<Token, Out>(const Token* const*, const int64_t*, int64_t, const WindowSpec&,      \
                                                 const int64_t*, int64_t, Out*, Out*, int, const PartIndex*);

LLMPREP_INSTANTIATE_WINDOWS(uint16_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(uint32_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(int32_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(int64_t, int64_t)
LLMPREP_INSTANTIATE_WINDOWS(uint16_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(uint32_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(int32_t, int32_t)
LLMPREP_INSTANTIATE_WINDOWS(int64_t, int32_t)

template void copy_parts_range<uint16_t>(const uint16_t* const*, const int64_t*, int64_t, int64_t, int64_t, uint16_t*);
template void copy_parts_range<uint32_t>(const uint32_t* const*, const int64_t*, int64_t, int64_t, int64_t, uint32_t*);
template void copy_parts_range<int32_t>(const int32_t* const*, const int64_t*, int64_t, int64_t, int64_t, int32_t*);
template void copy_parts_range<int64_t>(const int64_t* const*, const int64_t*, int64_t, int64_t, int64_t, int64_t*);

#undef LLMPREP_INSTANTIATE_WINDOWS

}  // namespace llmprep
