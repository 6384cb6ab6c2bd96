// Liveness (comm/liveness.h): when the heartbeat declares a rank stopped,
// with made-up times on the watcher's clock.
#include <gtest/gtest.h>

#include "comm/liveness.h"

using distclust::Liveness;

TEST(Liveness, BeatsKeepThePeerAlive) {
  Liveness l(10, 2, 0);
  for (double t = 0.5; t < 100; t += 0.5) {
    l.heard(t);
    ASSERT_FALSE(l.gone(t)) << "at " << t;
  }
}

TEST(Liveness, SilenceLongerThanTheTimeoutIsGone) {
  Liveness l(10, 2, 0);
  l.heard(3);
  double t = 3;
  while (!l.gone(t)) {
    t += 0.5;
    ASSERT_LT(t, 20) << "never declared gone";
  }
  EXPECT_DOUBLE_EQ(t, 13.5);  // the first tick past 10 s of silence
  EXPECT_DOUBLE_EQ(l.silent_for(t), 10.5);
}

TEST(Liveness, TheWatchersOwnStopRestartsTheCount) {
  // The whole job suspended for 300 s (`scontrol suspend`): on resume the
  // watcher's first tick comes 300 s after its last. Not gone, and gone only
  // after a full timeout of silence from then.
  Liveness l(10, 2, 0);
  l.heard(5);
  EXPECT_FALSE(l.gone(5.5));
  EXPECT_FALSE(l.gone(305.5));
  EXPECT_DOUBLE_EQ(l.silent_for(305.5), 0);
  double t = 305.5;
  while (!l.gone(t)) t += 0.5;
  EXPECT_DOUBLE_EQ(t, 316);
}

TEST(Liveness, TicksJustInsideTheGapDoNotRestartIt) {
  // Ticks 1.9 s apart (a loaded machine) are not a stop of the watcher: a
  // silent peer is still found.
  Liveness l(10, 2, 0);
  double t = 0;
  bool gone = false;
  while (!gone && t < 30) gone = l.gone(t += 1.9);
  EXPECT_TRUE(gone);
  EXPECT_NEAR(t, 11.4, 1e-9);
}

TEST(Liveness, ABeatHeardLateNeverMovesTheClockBack) {
  Liveness l(10, 2, 0);
  l.heard(8);
  l.heard(4);  // an older beat received after a newer one
  EXPECT_DOUBLE_EQ(l.silent_for(9), 1);
}
