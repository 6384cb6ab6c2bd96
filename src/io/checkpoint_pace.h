// When an iterative stage saves its checkpoint. A save writes the whole
// state (k-means K=20000, D=256: 20 MB, 60-80 ms here, fsync included) and
// can take as long as an iteration (a GPU's, a small GMM's): saved every
// iteration, it doubled the time. Paced: the first save is always made,
// others once the time since the last save is 10x that save's duration, so
// saving takes at most ~10% of the time (every iteration where iterations
// are long, as on CPUs). A kill loses at most ~10 saves' time of work. A
// restart's end is saved by the stage itself, after its final pass (the
// state that starts the next restart), not through due().
#pragma once

#include <chrono>
#include <cstdint>

#include "distclust/comm.h"

namespace distclust {

class CheckpointPace {
 public:
  /// Collective: whether this iteration's state is saved. The ranks agree
  /// by one max of a flag (their clocks differ).
  bool due(Communicator& comm) const {
    if (last_seconds_ < 0) return true;
    const double since = std::chrono::duration<double>(Clock::now() - saved_at_).count();
    return comm.max(int64_t(since >= 10 * last_seconds_)) > 0;
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
  double last_seconds_ = -1;
  Clock::time_point saved_at_;
};

}  // namespace distclust
