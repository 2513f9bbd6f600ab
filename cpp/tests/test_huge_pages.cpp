// advise_huge_pages / reserve_output: a hint that never changes contents, asked only for whole
// 2 MiB pages inside the buffer.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "llmprep/huge_pages.hpp"

TEST_CASE("advise_huge_pages asks only for whole aligned huge pages inside the range") {
  constexpr size_t kHuge = size_t(2) << 20;
  // No whole aligned 2 MiB page inside: nothing asked.
  std::vector<char> small(kHuge - 1);
  CHECK_FALSE(llmprep::advise_huge_pages(small.data(), small.size()));
  CHECK_FALSE(llmprep::advise_huge_pages(nullptr, 0));
  void* aligned = std::aligned_alloc(kHuge, 2 * kHuge);
  REQUIRE(aligned != nullptr);
  auto* bytes = static_cast<unsigned char*>(aligned);
  // A range from one byte past an aligned start to one byte before the next: no whole page.
  CHECK_FALSE(llmprep::advise_huge_pages(bytes + 1, kHuge - 2));
#if defined(__linux__)
  // A whole aligned page: asked (the kernel accepts the hint whatever THP's mode).
  CHECK(llmprep::advise_huge_pages(bytes + 1, 2 * kHuge - 1));
#endif
  for (size_t i = 0; i < 2 * kHuge; i += 4096) bytes[i] = static_cast<unsigned char>(i >> 12);
  for (size_t i = 0; i < 2 * kHuge; i += 4096) CHECK(bytes[i] == static_cast<unsigned char>(i >> 12));
  std::free(aligned);
}

TEST_CASE("reserve_output reserves and keeps what the vector holds") {
  std::vector<uint32_t> out(1000);
  std::iota(out.begin(), out.end(), 7u);
  llmprep::reserve_output(out, size_t(3) << 20);  // 12 MiB: reallocated, advised
  CHECK(out.capacity() >= (size_t(3) << 20));
  REQUIRE(out.size() == 1000);
  for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == 7u + i);
  const uint32_t* data = out.data();
  llmprep::reserve_output(out, 10);  // enough room: no change
  CHECK(out.data() == data);
  out.resize(size_t(3) << 20, 5u);
  CHECK(out.back() == 5u);
}

TEST_CASE("allocate_table_memory: zeroed, aligned to a cache line, or to 2 MiB when large and huge pages are wanted") {
  constexpr size_t kHuge = size_t(2) << 20;
  for (const size_t bytes : {size_t(64), size_t(1000), kHuge - 1, kHuge, 3 * kHuge + 5}) {
    for (const bool huge : {false, true}) {
      bool advised = true;
      void* p = llmprep::allocate_table_memory(bytes, huge, &advised);
      REQUIRE(p != nullptr);
      const auto address = reinterpret_cast<uintptr_t>(p);
      const bool large = huge && bytes >= kHuge;
      CHECK(address % (large ? kHuge : 64) == 0);
      if (!large) CHECK_FALSE(advised);  // only a 2 MiB-aligned table asks for huge pages
      const auto* b = static_cast<const unsigned char*>(p);
      size_t nonzero = 0;
      for (size_t i = 0; i < bytes; ++i) nonzero += b[i] != 0;
      CHECK(nonzero == 0);
      static_cast<unsigned char*>(p)[bytes - 1] = 1;  // the whole range is usable
      llmprep::free_table_memory(p);
    }
  }
  llmprep::free_table_memory(nullptr);  // like free(nullptr)
}
