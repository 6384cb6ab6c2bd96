// The CRC-32 check of a TorchScript model's zip entries. LibTorch (and
// torch.jit.load) never checks them: a model with a flipped byte inside a
// weight loaded and gave other features, exit 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace distclust {

class RegularFile;

/// The zip CRC-32 (IEEE 802.3, reflected 0xEDB88320) of `n` bytes continued
/// from `crc` (0 to start): crc32_update(0, "123456789", 9) == 0xCBF43926.
/// Our own rather than zlib's, so the GPU bundle's build needs no zlib.
uint32_t crc32_update(uint32_t crc, const uint8_t* data, size_t n);

/// The name of the first stored entry of the zip archive `f` whose bytes
/// (found through its local header, as a zip reader finds them) do not match
/// the CRC-32 its central directory records; "" when every checked entry
/// matches. Not checked, so never named: compressed entries (TorchScript
/// stores its tensors), and entries whose local header or data cannot be
/// found. A file whose central directory cannot be read gives "" too: it is
/// no zip LibTorch can open, and LibTorch says so itself.
std::string first_corrupt_zip_entry(const RegularFile& f);

}  // namespace distclust
