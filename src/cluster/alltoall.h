// Variable-sized all-to-all over the Communicator's sendrecv: P-1 shifted
// exchanges (step s: send to r+s, receive from r-s). send[dest] -> recv[src].
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

std::vector<std::vector<uint8_t>> alltoallv(const std::vector<std::vector<uint8_t>>& send, Communicator& comm);

/// Appends raw bytes of a value or array to a buffer; reads them back.
template <class T>
inline void put_bytes(std::vector<uint8_t>& buf, const T* p, size_t n) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  buf.insert(buf.end(), b, b + n * sizeof(T));
}
template <class T>
inline const uint8_t* get_bytes(const uint8_t* at, T* p, size_t n) {
  std::copy(at, at + n * sizeof(T), reinterpret_cast<uint8_t*>(p));
  return at + n * sizeof(T);
}

}  // namespace distclust
