#include "scan/scan_rows.h"

#include <algorithm>

#include "comm/alltoall.h"
#include "distclust/error.h"

namespace distclust {

ScanRows::ScanRows(FeatureBlock&& b, bool replicate, Communicator& comm)
    : n_(b.n_total), d_(b.d), own_(b.rows), replicated_(replicate) {
  const int P = comm.size();
  for (int r = 0; r <= P; ++r) begins_.push_back(r < P ? row_block(n_, r, P).begin : n_);
  if (!replicate) {
    x_ = std::move(b.x);
    return;
  }
  x_.resize(size_t(n_ * d_));
  std::copy(b.x.begin(), b.x.end(), x_.begin() + own_.begin * d_);
  std::vector<float>().swap(b.x);
  for (int r = 0; r < P; ++r) {
    RowRange rr = row_block(n_, r, P);
    if (rr.size() > 0) comm.broadcast(x_.data() + rr.begin * d_, size_t(rr.size() * d_) * sizeof(float), r);
  }
}

int ScanRows::owner(int64_t g) const {
  return int(std::upper_bound(begins_.begin(), begins_.end(), g) - begins_.begin()) - 1;
}

const float* ScanRows::row(int64_t g) const {
  if (replicated_) return x_.data() + g * d_;
  if (g >= own_.begin && g < own_.end) return x_.data() + (g - own_.begin) * d_;
  auto it = std::lower_bound(fetched_ids_.begin(), fetched_ids_.end(), g);
  require(it != fetched_ids_.end() && *it == g, "scan: internal error: row ", g, " was not fetched");
  return fetched_x_.data() + (it - fetched_ids_.begin()) * d_;
}

int64_t ScanRows::fetch(const std::vector<int64_t>& needed, Communicator& comm) {
  if (replicated_) return 0;
  std::vector<int64_t> ids = distinct_remote(needed, own_);
  fetched_x_ = fetch_from_owners<float>(
      ids, size_t(d_), [&](int64_t g) { return owner(g); },
      [&](int64_t g) {
        require(g >= own_.begin && g < own_.end, "scan: rank ", comm.rank(), " asked for row ", g, " it does not own");
        return x_.data() + (g - own_.begin) * d_;
      },
      comm);
  fetched_ids_ = std::move(ids);
  return int64_t(fetched_ids_.size());
}

}  // namespace distclust
