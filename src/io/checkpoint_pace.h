// When an iterative stage saves its checkpoint. A save writes the whole
// state (k-means K=20000, D=256: 20 MB, 60-80 ms here, fsync included) and
// can take as long as an iteration (a GPU's, a small GMM's): saved every
// iteration, it doubled the time. Paced: the first save is always made,
// others once the time since the last save is 10x that save's duration, so
// saving takes at most ~10% of the time (every iteration where iterations
// are long, as on CPUs). A kill loses at most ~10 saves' time of work. A
// restart's end is saved by the stage itself, after its final pass (the
// state that starts the next restart), not through due().
//
// extract paces the syncs of its OUT.tmp the same way, on each rank alone
// (due_here), with a floor between syncs (extract/extract_output.h).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "distclust/comm.h"

namespace distclust {

class CheckpointPace {
 public:
  /// ratio: the time between saves over a save's duration (10: saving takes
  /// at most ~10% of the time); min_seconds: the least time between saves.
  explicit CheckpointPace(double ratio = 10, double min_seconds = 0) : ratio_(ratio), min_seconds_(min_seconds) {}
  /// Whether a save is due by this process's clock alone.
  bool due_here() const {
    if (last_seconds_ < 0) return true;
    const double since = std::chrono::duration<double>(Clock::now() - saved_at_).count();
    return since >= std::max(min_seconds_, ratio_ * last_seconds_);
  }
  /// Collective: whether this iteration's state is saved. The ranks agree
  /// by one max of a flag (their clocks differ).
  bool due(Communicator& comm) const {
    if (last_seconds_ < 0) return true;  // every rank: none saved yet
    return comm.max(int64_t(due_here())) > 0;
  }
  /// Runs save() and times it.
  template <class F>
  void save(F&& save) {
    const auto t0 = Clock::now();
    save();
    saved_at_ = Clock::now();
    last_seconds_ = std::chrono::duration<double>(saved_at_ - t0).count();
  }
  /// How long the last save took, in seconds (-1: none yet).
  double last_seconds() const { return last_seconds_; }

 private:
  using Clock = std::chrono::steady_clock;
  double ratio_, min_seconds_;
  double last_seconds_ = -1;
  Clock::time_point saved_at_;
};

}  // namespace distclust
