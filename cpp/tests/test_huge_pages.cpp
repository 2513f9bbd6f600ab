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
