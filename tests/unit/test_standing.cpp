// pass_on (comm/standing.h): how the heartbeat ring learns which rank has
// called no collective for longest, simulated tick by tick.
#include <gtest/gtest.h>

#include <vector>

#include "comm/standing.h"

using distclust::pass_on;
using distclust::Standing;

namespace {
/// One tick of a ring: every rank sends its pick right, all at once.
void tick(std::vector<Standing>& picks, const std::vector<double>& busy) {
  const int p = int(busy.size());
  std::vector<Standing> next(picks.size());
  for (int r = 0; r < p; ++r) next[size_t(r)] = pass_on(busy[size_t(r)], r, picks[size_t((r + p - 1) % p)], p);
  picks = next;
}
}  // namespace

TEST(Standing, TheRankOutsideTheCollectivesLongestIsKnownEverywhereWithinARound) {
  // Rank 5 of 8 has been in its own work for 40 s; the others wait in a call.
  std::vector<double> busy(8, 0.0);
  busy[5] = 40;
  std::vector<Standing> picks(8);
  for (int t = 0; t < 8; ++t) tick(picks, busy);  // the first sends its own: 1 + 7 hops
  for (int r = 0; r < 8; ++r) {
    EXPECT_EQ(picks[size_t(r)].rank, 5) << "rank " << r;
    EXPECT_EQ(picks[size_t(r)].busy_s, 40) << "rank " << r;
  }
}

TEST(Standing, ARankThatEnteredACallIsForgottenWithinARound) {
  std::vector<double> busy(4, 0.0);
  busy[2] = 30;
  std::vector<Standing> picks(4);
  for (int t = 0; t < 5; ++t) tick(picks, busy);
  EXPECT_EQ(picks[0].rank, 2);
  busy[2] = 0;  // it arrived: all wait in the same call
  for (int t = 0; t < 4; ++t) tick(picks, busy);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(picks[size_t(r)].busy_s, 0) << "rank " << r << " kept an old time";
}

TEST(Standing, ARanksOwnOldTimeComingBackRoundIsIgnored) {
  // Rank 1's 30 s went round the ring; meanwhile it entered a call.
  EXPECT_EQ(pass_on(0, 1, Standing{30, 1, 2}, 3).busy_s, 0);
  // Another's pick that has gone round once already is dropped too.
  EXPECT_EQ(pass_on(0, 1, Standing{30, 2, 2}, 3).rank, 1);
  EXPECT_EQ(pass_on(0, 1, Standing{30, 2, 1}, 3).rank, 2);
  // Nothing heard yet, and ties: the own.
  EXPECT_EQ(pass_on(5, 1, Standing{}, 3).rank, 1);
  EXPECT_EQ(pass_on(5, 1, Standing{5, 0, 0}, 3).rank, 1);
}
