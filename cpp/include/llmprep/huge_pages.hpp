// Transparent huge pages for large buffers: the one place llmprep asks the kernel for them.
#pragma once

#include <cstddef>
#include <vector>

namespace llmprep {

// Asks for 2 MiB pages (madvise MADV_HUGEPAGE) on the 2 MiB-aligned part of [p, p + bytes), before
// the buffer is first written. Two uses: tables read at random (the piece cache, the word table:
// fewer TLB misses), and large outputs written once, front to back, right after they are allocated
// (an id vector, a Python list's item array), which on 4 KiB pages took a page fault per 4 KiB once
// malloc maps them fresh (above 32 MiB): freedict-jpn-deu's 6.1M-token list spent a third of its
// cost beyond the ids there, GPT-2 ids of a 121 MB text ~7% of the encode. A hint: where
// the range holds no whole huge page, THP is off, or the platform has no madvise, nothing changes
// (returns false).
bool advise_huge_pages(void* p, size_t bytes) noexcept;

// Zeroed memory for a table read at random (the piece cache, the word table): `bytes` rounded up to
// its alignment, which is 2 MiB when the table is that large and `huge` is set (then advised as
// above before the zeroing touches it, so the kernel can back it with huge pages from the first
// fault), else 64 (a cache line). Returns nullptr when the allocation fails; *advised tells whether
// huge pages were asked for and the kernel took the hint. Free with free_table_memory.
void* allocate_table_memory(size_t bytes, bool huge, bool* advised = nullptr) noexcept;
void free_table_memory(void* p) noexcept;

// out.reserve(n), with the new storage advised as above when the reserve allocated it.
template <class T>
void reserve_output(std::vector<T>& out, size_t n) {
  const T* before = out.data();
  out.reserve(n);
  if (out.data() != before) advise_huge_pages(out.data() + out.size(), (out.capacity() - out.size()) * sizeof(T));
}

}  // namespace llmprep
