// Internal to src/scan: the keys of SCAN's random streams (drawn with the
// seed, the epoch and the global row, so every draw is the same for any rank
// count) and the grouping of rows by their drawn batch.
#pragma once

#include <cstdint>
#include <vector>

namespace distclust {

constexpr uint64_t kInitKey = 0x5CA41417ull;       ///< head initialisation
constexpr uint64_t kBatchKey = 0x5CA4BA7Cull;      ///< batch of a row in a SCAN epoch
constexpr uint64_t kNeighbourKey = 0x5CA4AE16ull;  ///< neighbour paired with a row in a SCAN epoch
constexpr uint64_t kSelfLabelKey = 0x5CA45E1Full;  ///< batch and neighbour view in a self-labelling epoch

/// Local rows grouped by batch: rows of batch b are order[start[b] .. start[b+1]), ascending.
struct Buckets {
  std::vector<int64_t> start, order;
};

/// rows [m] with their batches batch_of [m] in [0, nb) -> Buckets.
inline Buckets bucket(const std::vector<int64_t>& rows, const std::vector<int64_t>& batch_of, int64_t nb) {
  Buckets bk;
  bk.start.assign(size_t(nb + 1), 0);
  for (int64_t b : batch_of) ++bk.start[b + 1];
  for (int64_t b = 0; b < nb; ++b) bk.start[b + 1] += bk.start[b];
  bk.order.resize(rows.size());
  std::vector<int64_t> pos(bk.start.begin(), bk.start.end() - 1);
  for (size_t i = 0; i < rows.size(); ++i) bk.order[pos[batch_of[i]]++] = rows[i];
  return bk;
}

}  // namespace distclust
