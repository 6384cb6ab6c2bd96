#include "scan/scan_rows.h"

#include <algorithm>

#include "cluster/alltoall.h"
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
  const int P = comm.size();
  std::vector<int64_t> ids;
  ids.reserve(needed.size());
  for (int64_t g : needed)
    if (g < own_.begin || g >= own_.end) ids.push_back(g);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  // Requests, grouped by owner (ids are sorted and owners hold contiguous ranges).
  std::vector<std::vector<uint8_t>> req(P);
  for (int64_t g : ids) put_bytes(req[owner(g)], &g, 1);
  auto got = alltoallv(req, comm);
  std::vector<std::vector<uint8_t>> rep(P);
  for (int r = 0; r < P; ++r) {
    const size_t cnt = got[r].size() / sizeof(int64_t);
    const uint8_t* at = got[r].data();
    rep[r].reserve(cnt * d_ * sizeof(float));
    for (size_t i = 0; i < cnt; ++i) {
      int64_t g = 0;
      at = get_bytes(at, &g, 1);
      require(g >= own_.begin && g < own_.end, "scan: rank ", comm.rank(), " asked for row ", g, " it does not own");
      put_bytes(rep[r], x_.data() + (g - own_.begin) * d_, size_t(d_));
    }
  }
  std::vector<std::vector<uint8_t>>().swap(got);
  auto back = alltoallv(rep, comm);
  fetched_ids_ = std::move(ids);
  fetched_x_.resize(fetched_ids_.size() * d_);
  size_t off = 0;
  for (int r = 0; r < P; ++r) {
    require(off + back[r].size() / sizeof(float) <= fetched_x_.size(), "scan: rank ", r,
            " sent more rows than asked for");
    std::copy(back[r].begin(), back[r].end(), reinterpret_cast<uint8_t*>(fetched_x_.data() + off));
    off += back[r].size() / sizeof(float);
  }
  require(off == fetched_x_.size(), "scan: received ", off / std::max<int64_t>(1, d_), " of ", fetched_ids_.size(),
          " requested rows");
  return int64_t(fetched_ids_.size());
}

}  // namespace distclust
