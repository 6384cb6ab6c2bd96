// The checksum of a checkpoint state. HDF5 checks its own metadata but not
// the bytes of a dataset: a checkpoint whose data a disk, a copy or a stray
// write changed (zeros in the middle of the centroids) reads back without
// error and would resume a job from wrong numbers. Each field's name and
// bytes go into a 64-bit hash written with the state and checked on read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace distclust {

/// A streaming 64-bit hash (FNV-1a over 8-byte words, then a final mix):
/// one multiply per word, so hashing keeps pace with the disk for the
/// largest checkpoints (the kNN heaps, [n x k] scores and indices).
class StateChecksum {
 public:
  void add_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      mix(w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    mix(tail ^ (uint64_t(n - i) << 56));
    mix(uint64_t(n));  // lengths in: "ab"+"c" differs from "a"+"bc"
  }
  /// One field: its name, then its value's bytes (vectors: the elements).
  template <class T>
  void add(const char* name, const T& v) {
    add_bytes(name, std::strlen(name));
    if constexpr (std::is_same_v<T, std::string>)
      add_bytes(v.data(), v.size());
    else if constexpr (std::is_arithmetic_v<T>)
      add_bytes(&v, sizeof(v));
    else
      add_bytes(v.data(), v.size() * sizeof(typename T::value_type));
  }
  /// 16 hex digits.
  std::string hex() const {
    uint64_t h = h_;
    h ^= h >> 33, h *= 0xff51afd7ed558ccdULL, h ^= h >> 33;
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, h >>= 4) s[size_t(i)] = digits[h & 15];
    return s;
  }

 private:
  void mix(uint64_t w) { h_ = (h_ ^ w) * 0x100000001b3ULL; }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace distclust
