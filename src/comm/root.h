// Collectives for work done on rank 0 alone: report and export do their file work on rank 0
// while the other ranks wait, and gather per-rank row blocks to rank 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// Runs fn on rank 0 only (collective: every rank calls). An Error on rank 0
/// is rethrown there with its message; the other ranks throw "WHAT failed on
/// rank 0", so every rank ends with a failure together and none hangs.
void run_on_root(Communicator& comm, const std::string& what, const std::function<void()>& fn);

/// Collective: each rank's rows row_block(n, rank, size) in `mine`
/// [block size] -> all n rows on rank 0 (empty elsewhere). Sent point to
/// point in pieces under MPI's int limit, so only rank 0 holds all n
/// (an allgather would put n on every rank).
template <class T>
std::vector<T> gather_rows_to_root(Communicator& comm, const std::vector<T>& mine, int64_t n) {
  const size_t piece = (size_t(1) << 28) / sizeof(T);
  std::vector<T> all;
  if (comm.rank() == 0) {
    all.resize(static_cast<size_t>(n));
    std::copy(mine.begin(), mine.end(), all.begin());
  }
  for (int r = 1; r < comm.size(); ++r) {
    RowRange b = row_block(n, r, comm.size());
    for (int64_t off = 0; off < b.size(); off += static_cast<int64_t>(piece)) {
      size_t count = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(piece), b.size() - off));
      if (comm.rank() == r) comm.sendrecv(mine.data() + off, count * sizeof(T), 0, nullptr, 0, 0);
      if (comm.rank() == 0) comm.sendrecv(nullptr, 0, r, all.data() + b.begin + off, count * sizeof(T), r);
    }
  }
  return all;
}

/// Collective: each rank's `mine` (any length, plain data) -> all of them
/// on rank 0, concatenated in rank order (empty elsewhere). Sent point to
/// point in pieces under MPI's int limit, like gather_rows_to_root.
template <class T>
std::vector<T> gather_to_root(Communicator& comm, const std::vector<T>& mine) {
  std::vector<int64_t> counts = comm.allgather(std::vector<int64_t>{static_cast<int64_t>(mine.size())});
  int64_t total = 0;
  for (int64_t c : counts) total += c;
  std::vector<T> all;
  if (comm.rank() == 0) {
    all.resize(static_cast<size_t>(total));
    std::copy(mine.begin(), mine.end(), all.begin());
  }
  const size_t piece = (size_t(1) << 28) / sizeof(T);
  int64_t at = counts.empty() ? 0 : counts[0];
  for (int r = 1; r < comm.size(); ++r) {
    for (int64_t off = 0; off < counts[r]; off += static_cast<int64_t>(piece)) {
      size_t count = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(piece), counts[r] - off));
      if (comm.rank() == r) comm.sendrecv(mine.data() + off, count * sizeof(T), 0, nullptr, 0, 0);
      if (comm.rank() == 0) comm.sendrecv(nullptr, 0, r, all.data() + at + off, count * sizeof(T), r);
    }
    at += counts[r];
  }
  return all;
}

}  // namespace distclust
