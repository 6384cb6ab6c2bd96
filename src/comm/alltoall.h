// Variable-sized all-to-all over the Communicator's sendrecv: P-1 shifted
// exchanges (step s: send to r+s, receive from r-s). send[dest] -> recv[src].
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "distclust/error.h"

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

/// The distinct rows of `rows` outside `own`, sorted: what fetch_from_owners
/// takes as `want`.
inline std::vector<int64_t> distinct_remote(const std::vector<int64_t>& rows, RowRange own) {
  std::vector<int64_t> out;
  for (int64_t g : rows)
    if (g < own.begin || g >= own.end) out.push_back(g);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// Fetches `width` values of T per global row from the row's owner
/// (collective: requests, then replies, each one alltoallv). want: distinct
/// global rows, sorted, none owned here; owner(g): the rank owning row g;
/// serve(g): on the owner, a pointer to its `width` values of row g (it may
/// throw for a row it does not own). Returns [want.size() x width] in the
/// order of want.
template <class T, class Owner, class Serve>
std::vector<T> fetch_from_owners(const std::vector<int64_t>& want, size_t width, Owner owner, Serve serve,
                                 Communicator& comm) {
  const int P = comm.size();
  std::vector<std::vector<uint8_t>> req(P);
  for (int64_t g : want) put_bytes(req[owner(g)], &g, 1);
  auto got = alltoallv(req, comm);
  std::vector<std::vector<uint8_t>> rep(P);
  for (int r = 0; r < P; ++r) {
    const size_t cnt = got[r].size() / sizeof(int64_t);
    const uint8_t* at = got[r].data();
    rep[r].reserve(cnt * width * sizeof(T));
    for (size_t i = 0; i < cnt; ++i) {
      int64_t g = 0;
      at = get_bytes(at, &g, 1);
      put_bytes(rep[r], serve(g), width);
    }
  }
  std::vector<std::vector<uint8_t>>().swap(got);
  auto back = alltoallv(rep, comm);
  // Owners hold increasing row ranges and answer in request order, so the
  // replies concatenated in rank order follow `want`.
  std::vector<T> out(want.size() * width);
  size_t off = 0;  // bytes
  for (int r = 0; r < P; ++r) {
    require(off + back[r].size() <= out.size() * sizeof(T), "fetch: rank ", r, " sent more rows than asked for");
    std::copy(back[r].begin(), back[r].end(), reinterpret_cast<uint8_t*>(out.data()) + off);
    off += back[r].size();
  }
  require(off == out.size() * sizeof(T), "fetch: received ", off / sizeof(T) / std::max<size_t>(1, width), " of ",
          want.size(), " requested rows");
  return out;
}

}  // namespace distclust
