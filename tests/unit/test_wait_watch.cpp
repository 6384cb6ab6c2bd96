// WaitWatch (comm/wait_watch.h): when the heartbeat thread ends the job for
// a collective call that waits too long, and whom it names, with made-up
// times and main-thread states, one check a tick (0.5 s).
#include <gtest/gtest.h>

#include "comm/wait_watch.h"

using distclust::CollectiveState;
using distclust::Standing;
using distclust::WaitWatch;

namespace {
constexpr double kTick = 0.5;
CollectiveState outside(uint64_t calls) { return {2 * calls, 0, nullptr, false}; }
CollectiveState inside(uint64_t call, bool self_timed = false) {
  return {2 * call - 1, 1, "MPI allreduce (sum)", self_timed};
}
/// Ticks from t0 (exclusive) to t1 with the main thread in state cs; the
/// time of the first tick that finds it stuck, or -1.
double first_stuck(WaitWatch& w, const CollectiveState& cs, double t0, double t1, Standing left = {},
                   Standing* behind = nullptr) {
  Standing b;
  for (double t = t0 + kTick; t <= t1 + 1e-9; t += kTick)
    if (w.stuck(cs, left, 0, true, t, b)) {
      if (behind) *behind = b;
      return t;
    }
  return -1;
}
}  // namespace

TEST(WaitWatch, OneCallWaitingPastTheLimitIsStuck) {
  WaitWatch w(10, 2, kTick, 0, 4, 0);
  EXPECT_EQ(first_stuck(w, outside(3), 0, 5), -1);
  // Enters call 4 just before the tick at 5.5: first seen then.
  EXPECT_DOUBLE_EQ(first_stuck(w, inside(4), 5, 30), 16);  // the first tick past 10 s
  EXPECT_DOUBLE_EQ(w.waited(16), 10.5);
}

TEST(WaitWatch, ManyShortCallsAndLongWorkOutsideAreNotWaiting) {
  WaitWatch w(10, 2, kTick, 0, 4, 0);
  Standing b;
  for (int i = 1; i < 200; ++i)  // a new call every tick, 100 s in all
    ASSERT_FALSE(w.stuck(inside(uint64_t(i)), {}, 0, true, i * kTick, b)) << "call " << i;
  EXPECT_EQ(first_stuck(w, outside(199), 100, 400), -1);  // 300 s of its own work
}

TEST(WaitWatch, ACallThatGivesUpByItselfIsLeftToIt) {
  WaitWatch w(10, 2, kTick, 0, 4, 0);
  EXPECT_EQ(first_stuck(w, inside(1, /*self_timed=*/true), 0, 100), -1);
}

TEST(WaitWatch, TheProcessStoppedInsideACallDoesNotCountTheStop) {
  WaitWatch w(10, 2, kTick, 0, 4, 0);
  Standing b;
  EXPECT_FALSE(w.stuck(inside(1), {}, 0, true, 5, b));
  EXPECT_FALSE(w.stuck(inside(1), {}, 0, true, 305, b)) << "300 s suspended counted as waiting";
  EXPECT_DOUBLE_EQ(first_stuck(w, inside(1), 305, 400), 315.5);
  // Outside the calls the stop does not count as its own work either.
  WaitWatch o(10, 2, kTick, 0, 4, 0);
  EXPECT_EQ(first_stuck(o, outside(0), 0, 5), -1);  // outside since 0, ticking
  EXPECT_FALSE(o.stuck(outside(0), {}, 0, true, 305, b));
  EXPECT_DOUBLE_EQ(o.outside_for(outside(0), 306), 6);
}

TEST(WaitWatch, NamesTheRingsPickOnlyOnceItHeldForARoundAndBeatsArrive) {
  // 4 ranks: (4 + 2) ticks = 3 s of the same pick.
  const Standing rank2{40, 2, 1};
  {
    WaitWatch w(10, 2, kTick, 0, 4, 0);
    Standing b;
    EXPECT_GT(first_stuck(w, inside(7), 0, 30, rank2, &b), 0);
    EXPECT_EQ(b.rank, 2);
    EXPECT_EQ(b.busy_s, 40);
  }
  {  // the pick changed 1 s before the limit: not trusted yet
    WaitWatch w(10, 2, kTick, 0, 4, 0);
    Standing b;
    ASSERT_EQ(first_stuck(w, inside(7), 0, 9.5, Standing{30, 3, 0}), -1);
    EXPECT_GT(first_stuck(w, inside(7), 9.5, 30, rank2, &b), 0);
    EXPECT_EQ(b.rank, -1);
  }
  {  // no beat from the left for 5 s: what it passed on is old
    WaitWatch w(10, 2, kTick, 0, 4, 0);
    Standing b{1, 1, 1};
    bool stuck = false;
    for (double t = kTick; t <= 30 && !stuck; t += kTick) stuck = w.stuck(inside(7), rank2, 5, true, t, b);
    ASSERT_TRUE(stuck);
    EXPECT_EQ(b.rank, -1);
  }
}
