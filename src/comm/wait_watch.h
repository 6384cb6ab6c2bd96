// How the heartbeat thread (comm/heartbeat.h) watches its main thread's
// collective calls (comm/collective_watch.h): when one has waited too long,
// and which rank the ring says the others wait for (comm/standing.h). Kept
// free of MPI and of the clock so that it is unit-tested with made-up
// times (tests/unit/test_wait_watch.cpp).
#pragma once

#include <cstdint>

#include "comm/collective_watch.h"
#include "comm/liveness.h"
#include "comm/standing.h"

namespace distclust {

/// The heartbeat thread's view of its main thread's collective calls
/// (comm/collective_watch.h), checked once a tick.
struct WaitWatch {
  double timeout_s, gap_s, tick_s;
  int rank, size;
  /// The wait in one call, by the heartbeat's rule: "heard" whenever the
  /// main thread is not in a call or is in a new one, so that a job
  /// suspended as a whole restarts the count.
  Liveness waiting;
  uint64_t seen_seq = 0;
  double last_tick, outside_since;  ///< outside_since: when seen_seq last changed
  /// The ring's pick (comm/standing.h) is trusted only once the same rank
  /// has held it for a round and beats still arrive: copies of an old time
  /// take up to size - 1 ticks to die out, and a thread that cannot receive
  /// (its main thread stopped inside MPI) holds an old pick.
  Standing held;
  double held_since;

  WaitWatch(double timeout, double gap, double tick, int r, int p, double now)
      : timeout_s(timeout), gap_s(gap), tick_s(tick), rank(r), size(p), waiting(timeout, gap, now), last_tick(now),
        outside_since(now), held_since(now) {}

  /// Seconds the main thread has been outside any call (0 while inside one).
  double outside_for(const CollectiveState& cs, double now) const { return cs.inside() ? 0.0 : now - outside_since; }

  /// This rank's pick to send right, given its left neighbour's.
  Standing pick(const CollectiveState& cs, const Standing& from_left, double now) const {
    return pass_on(outside_for(cs, now), rank, from_left, size);
  }

  /// The tick's check. true: the main thread has waited in one call (not
  /// one that gives up by itself) past the limit; `behind` is then the
  /// trusted pick of the rank the others wait for (rank -1: none).
  bool stuck(const CollectiveState& cs, const Standing& from_left, double left_silent_s, bool beats, double now,
             Standing& behind) {
    if (now - last_tick > gap_s) {  // this process was stopped (the whole job suspended): not counted
      outside_since += now - last_tick;
      held_since = now;
    }
    last_tick = now;
    if (!cs.inside() || cs.seq != seen_seq) waiting.heard(now);
    if (cs.seq != seen_seq) outside_since = now;
    seen_seq = cs.seq;
    const Standing p = pick(cs, from_left, now);
    if (p.rank != held.rank) held = p, held_since = now;
    if (!waiting.gone(now) || timeout_s <= 0 || !cs.inside() || cs.self_timed) return false;
    const bool trusted = beats && now - held_since >= (size + 2) * tick_s && left_silent_s <= 4 * tick_s;
    behind = trusted ? p : Standing{};
    return true;
  }
  double waited(double now) const { return waiting.silent_for(now); }
};

}  // namespace distclust
