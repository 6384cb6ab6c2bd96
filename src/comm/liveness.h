// The rule by which a rank decides that its neighbour in the heartbeat ring
// (comm/heartbeat.h) is gone, kept free of MPI and of the clock so that it
// is unit-tested with made-up times (tests/unit/test_liveness.cpp).
#pragma once

#include <algorithm>

namespace distclust {

/// Silence of one peer, measured in seconds on the watcher's own clock.
/// The peer is gone when nothing was heard from it for timeout_s while the
/// watcher itself kept running. A gap in the watcher's own ticks longer than
/// gap_s means the watcher was stopped or starved as well (`scontrol
/// suspend` stops every rank of a job, SIGCONT resumes them within
/// milliseconds of each other): the count then starts again, so a job
/// suspended and resumed as a whole goes on.
class Liveness {
 public:
  /// now: the watcher's clock at the start; the peer counts as just heard.
  Liveness(double timeout_s, double gap_s, double now)
      : timeout_(timeout_s), gap_(gap_s), last_heard_(now), last_tick_(now) {}
  /// A beat from the peer arrived at `now`.
  void heard(double now) { last_heard_ = std::max(last_heard_, now); }
  /// The watcher's periodic check at `now`: true when the peer is gone.
  bool gone(double now) {
    if (now - last_tick_ > gap_) last_heard_ = std::max(last_heard_, now);  // we were not running either
    last_tick_ = now;
    return now - last_heard_ > timeout_;
  }
  /// Seconds since the peer was last heard (or since the count restarted).
  double silent_for(double now) const { return now - last_heard_; }

 private:
  double timeout_, gap_, last_heard_, last_tick_;
};

}  // namespace distclust
