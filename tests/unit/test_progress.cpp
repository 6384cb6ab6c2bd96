// The progress line of long stages: its rate and ETA.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "distclust/progress.h"

using namespace distclust;

TEST(Progress, FastRatesAreWholeAndTheEtaFollowsThem) {
  EXPECT_EQ(progress_line("knn exact", "query rows", 1200, 10000, 3.87),
            "knn exact: 1200/10000 query rows (12%), 310 query rows/s, ETA 0:28");
}

TEST(Progress, SlowRatesKeepThreeSignificantDigits) {
  // One decimal printed 0.03 iterations/s as "0 iterations/s".
  EXPECT_EQ(progress_line("gmm", "iterations", 0.3, 3, 10.0), "gmm: 0.3/3 iterations (10%), 0.03 iterations/s, ETA 1:30");
  EXPECT_EQ(progress_line("scan", "steps", 2, 1000, 3.0), "scan: 2/1000 steps (0.2%), 0.667 steps/s, ETA ?");
}

TEST(Progress, NoEtaIsExtrapolatedFromUnderOnePercentOfTheWork) {
  // 18 s into a GMM of 3 iterations, 15 of them its k-means init, 0.0003
  // iterations done: the ETA read 182:39:46.
  EXPECT_EQ(progress_line("gmm", "iterations", 0.0003, 3, 18.0), "gmm: 0/3 iterations (0%), 1.67e-05 iterations/s, ETA ?");
  EXPECT_EQ(progress_line("gmm", "iterations", 0.03, 3, 1.0), "gmm: 0/3 iterations (1%), 0.03 iterations/s, ETA 1:39");
  EXPECT_EQ(progress_line("gmm", "iterations", 0, 3, 0.0), "gmm: 0/3 iterations (0%), 0 iterations/s, ETA ?");
}

TEST(Progress, TheClockRestartsForTheCountedWork) {
  // k-means and GMM restart it after their first initialisation.
  Progress p("x", "steps", 10, false, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  const double before = p.elapsed();
  p.restart_clock();
  EXPECT_GE(before, 0.03);
  EXPECT_LT(p.elapsed(), before);
}
