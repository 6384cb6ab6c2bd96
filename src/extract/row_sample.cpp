// Keyed row samples (row_sample.h).
#include "extract/row_sample.h"

#include <algorithm>

#include "distclust/rng.h"

namespace distclust {

std::vector<int64_t> keyed_sample(const FeatureBlock& b, int64_t m, uint64_t seed, uint64_t salt,
                                  Communicator& comm) {
  auto key_less = [&](int64_t a, int64_t c) { return key_hash(seed, uint64_t(a), salt) < key_hash(seed, uint64_t(c), salt); };
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i]) cand.push_back(b.rows.begin + i);
  // The m smallest keys of each rank, then the m smallest of those.
  const size_t keep = std::min<size_t>(cand.size(), size_t(std::max<int64_t>(m, 0)));
  std::partial_sort(cand.begin(), cand.begin() + keep, cand.end(), key_less);
  cand.resize(keep);
  auto all = comm.allgather(cand);
  std::sort(all.begin(), all.end(), key_less);
  all.resize(std::min<size_t>(all.size(), size_t(std::max<int64_t>(m, 0))));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<float> gather_rows(const FeatureBlock& b, const std::vector<int64_t>& rows, Communicator& comm) {
  // rows is sorted and ranks own consecutive ranges, so the allgather (in
  // rank order) returns the vectors in the order of rows.
  std::vector<float> mine;
  for (int64_t row : rows)
    if (row >= b.rows.begin && row < b.rows.end)
      mine.insert(mine.end(), b.x.begin() + (row - b.rows.begin) * b.d, b.x.begin() + (row - b.rows.begin + 1) * b.d);
  return comm.allgather(mine);
}

}  // namespace distclust
