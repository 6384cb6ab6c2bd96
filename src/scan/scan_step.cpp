#include "scan/scan_step.h"

#include <chrono>

#include "distclust/error.h"

namespace distclust {
namespace {
double since(std::chrono::steady_clock::time_point& t) {
  const auto now = std::chrono::steady_clock::now();
  const double s = std::chrono::duration<double>(now - t).count();
  t = now;
  return s;
}
}  // namespace

DataParallelStep::DataParallelStep(int64_t n, Communicator& comm) : comm_(comm), n_(n) {
  const int P = comm.size();
  sharded_ = P > 1 && n >= kShardMin;
  for (int r = 0; r < P; ++r) counts_.push_back(size_t(row_block(n, r, P).size()));
  const RowRange mine = sharded_ ? row_block(n, comm.rank(), P) : RowRange{0, n};
  begin_ = mine.begin;
  end_ = mine.end;
  if (sharded_) gshard_.resize(size_t(mine.size()));
}

void DataParallelStep::step(ScanHeads& h, const AdamConfig& a, double* t_comm, double* t_adam) {
  auto t = std::chrono::steady_clock::now();
  std::vector<float>& g = h.grad();
  if (!sharded_) {
    comm_.allreduce_sum(g.data(), g.size());
    *t_comm += since(t);
    h.adam(a);
    *t_adam += since(t);
    return;
  }
  require(int64_t(g.size()) == n_, "scan: internal error: gradient of ", g.size(), " values, step made for ", n_);
  comm_.reduce_scatter_sum(g.data(), gshard_.data(), counts_, DType::f32);
  *t_comm += since(t);
  h.adam(a, begin_, end_, gshard_.data());
  *t_adam += since(t);
  comm_.allgather_blocks(h.params().data(), counts_, DType::f32);
  *t_comm += since(t);
}

void DataParallelStep::gather_moments(ScanHeads& h) {
  if (!sharded_) return;
  comm_.allgather_blocks(h.adam_m().data(), counts_, DType::f32);
  comm_.allgather_blocks(h.adam_v().data(), counts_, DType::f32);
}

}  // namespace distclust
