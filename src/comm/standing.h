// Which rank the others wait for, learnt through the heartbeat ring
// (comm/heartbeat.h) so that the collective watch (comm/collective_watch.h)
// can name a stuck rank. The one everyone waits for has usually called no
// collective for as long as they have waited: it is in its own work (a read
// that never returns, a deadlock, or far behind). Each beat carries the
// sender's pick: the longest such time it knows of, its own or one passed
// on from its left. (Which calls a rank has entered does not tell: a rank
// stopped inside MPI may have passed calls whose sends then never
// progress, so the others wait in calls it is ahead of.) Kept free of MPI
// for unit tests (tests/unit/test_standing.cpp).
#pragma once

#include <cstdint>

namespace distclust {

/// How long one rank has called no collective, as passed on.
struct Standing {
  /// Seconds its main thread had been outside any collective call when its
  /// heartbeat thread last looked (0 while inside one; -1: none known).
  double busy_s = -1;
  int32_t rank = -1;  ///< whose it is
  int32_t hops = 0;   ///< ranks it has been passed through since its own
};

/// The pick rank `me` sends right: the longer of its own fresh time outside
/// the collectives and the left neighbour's pick one hop on. A pick goes at
/// most size - 1 hops (once round the ring), and a rank's own coming back
/// round is ignored: both keep old values from circulating for ever. Ties
/// keep the own.
inline Standing pass_on(double my_busy_s, int me, const Standing& from_left, int size) {
  Standing mine{my_busy_s, me, 0};
  if (from_left.rank < 0 || from_left.rank == me || from_left.hops + 1 > size - 1) return mine;
  if (from_left.busy_s <= my_busy_s) return mine;
  Standing on = from_left;
  ++on.hops;
  return on;
}

}  // namespace distclust
