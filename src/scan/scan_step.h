// Data-parallel optimiser step of the SCAN heads: the gradient summed over
// ranks, then Adam.
//
// With more than one rank and many parameters the Adam update is sharded
// (ZeRO stage 1): reduce-scatter the gradient, each rank updates only its
// block of the parameters, all-gather the parameters. The traffic is that of
// one allreduce (which MPI runs as reduce-scatter + all-gather anyway), and
// each rank does 1/P of the Adam work instead of all of it: at C = 1000
// (10 M parameters), batch 256, 2 ranks, Adam 25.2 -> 17.9 s an epoch and
// the epoch 1.06x faster (bench/RESULTS-scan.md). Adam is elementwise,
// so sharding changes no result; only the gradient sums' order may differ
// from an allreduce (floating-point reduction order, as between rank counts).
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "scan/scan_heads.h"

namespace distclust {

class DataParallelStep {
 public:
  /// Below this many parameters the whole update costs less than the second
  /// collective's latency (C = 10, 25,700 parameters: Adam 0.24 s an epoch,
  /// allreduce 0.26 s), so the step stays one allreduce + a full update.
  static constexpr int64_t kShardMin = int64_t(1) << 18;

  /// n_params: the heads' parameter count (the same on every rank).
  DataParallelStep(int64_t n_params, Communicator& comm);

  bool sharded() const { return sharded_; }

  /// Sums h.grad() over ranks and takes one Adam step (collective). Adds the
  /// time spent in collectives to *t_comm and in the update to *t_adam.
  void step(ScanHeads& h, const AdamConfig& a, double* t_comm, double* t_adam);

  /// Sharded: the Adam moments outside this rank's block are stale; this
  /// makes them current on every rank (before a checkpoint; collective).
  void gather_moments(ScanHeads& h);

 private:
  Communicator& comm_;
  int64_t n_ = 0;
  bool sharded_ = false;
  std::vector<size_t> counts_;  // [P] block sizes (row_block of the parameters)
  int64_t begin_ = 0, end_ = 0;  // this rank's block
  std::vector<float> gshard_;    // [end_ - begin_] this block's gradient summed over ranks
};

}  // namespace distclust
