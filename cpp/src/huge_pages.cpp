#include "llmprep/huge_pages.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(_WIN32)
#include <malloc.h>
#endif

namespace llmprep {

bool advise_huge_pages(void* p, size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  return end > begin && madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void* allocate_table_memory(size_t bytes, bool huge, bool* advised) noexcept {
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t alignment = huge && bytes >= kHuge ? kHuge : 64;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
#if defined(_WIN32)
  void* p = _aligned_malloc(rounded, alignment);
#else
  void* p = std::aligned_alloc(alignment, rounded);  // rounded: a multiple of the alignment, as C requires
#endif
  if (advised != nullptr) *advised = false;
  if (p == nullptr) return nullptr;
  // Before the first touch: a refused hint (THP off, PR_SET_THP_DISABLE, no madvise) leaves 4 KiB
  // pages, which work the same.
  const bool took = alignment == kHuge && advise_huge_pages(p, rounded);
  if (advised != nullptr) *advised = took;
  std::memset(p, 0, rounded);
  return p;
}

void free_table_memory(void* p) noexcept {
#if defined(_WIN32)
  _aligned_free(p);
#else
  std::free(p);
#endif
}

}  // namespace llmprep
