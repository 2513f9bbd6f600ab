// CRC-32C (Castagnoli, the iSCSI / ext4 / Parquet checksum): the checksum of token-file blocks.
// One portable slice-by-8 path and, on x86-64, the SSE4.2 crc32 instruction chosen at run time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmprep {

// Extends `crc` (0 for a new checksum) over `size` bytes: crc32c(crc32c(0, a), b) == crc32c(0, a + b).
uint32_t crc32c(uint32_t crc, const void* data, size_t size);

// The same, always through the portable table path (for differential tests of the fast path).
uint32_t crc32c_portable(uint32_t crc, const void* data, size_t size);

// Whether crc32c() uses a hardware instruction on this machine.
bool crc32c_hardware();

// The checksum of each `block_bytes` block of data[0, size) (the last may be shorter), written to
// out[0, ceil(size / block_bytes)), on up to `num_threads` threads (<= 0: the default).
void crc32c_blocks(const void* data, size_t size, size_t block_bytes, int num_threads, uint32_t* out);

}  // namespace llmprep
