// watched_wait (comm/watched_wait.h): the rules by which a device
// collective gives up instead of hanging, with the CUDA/NCCL queries
// replaced by counters.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>

#include "comm/watched_wait.h"
#include "common/test_common.h"

using namespace distclust;
using test::error_of;

namespace {
struct Fake {
  int polls_until_done = -1;  // -1: never done
  int polls_until_error = -1;
  int polls = 0, aborted = 0;
  WatchedWork work() {
    return {[this] { return polls_until_done >= 0 && ++polls > polls_until_done; },
            [this]() -> std::string { return polls_until_error >= 0 && polls++ >= polls_until_error ? "remote process exited" : ""; },
            [this] { ++aborted; }};
  }
};
}  // namespace

TEST(WatchedWait, ReturnsWhenDoneWithoutGivingUp) {
  Fake f;
  f.polls_until_done = 10000;  // past the spinning polls: the sleeping ones return too
  watched_wait("allreduce", f.work(), 5);
  EXPECT_EQ(f.aborted, 0);
}

TEST(WatchedWait, AnAsynchronousErrorAbortsAndNamesIt) {
  Fake f;
  f.polls_until_error = 3;
  const std::string e = error_of([&] { watched_wait("comm=nccl: allreduce", f.work(), 0); });
  EXPECT_NE(e.find("comm=nccl: allreduce failed: remote process exited"), std::string::npos) << e;
  EXPECT_EQ(f.aborted, 1);
}

TEST(WatchedWait, APeerThatNeverJoinsEndsInTheTimeout) {
  Fake f;  // never done, no error: what a dead peer looks like
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of([&] { watched_wait("comm=nccl: sendrecv", f.work(), 0.3, 0.1); });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(e.find("comm=nccl: sendrecv did not finish in 0.3 s"), std::string::npos) << e;
  EXPECT_NE(e.find("DISTCLUST_NCCL_TIMEOUT"), std::string::npos) << e;
  EXPECT_EQ(f.aborted, 1);
  EXPECT_GE(s, 0.3);  // not before the limit
}

TEST(WatchedWait, TimeoutFromTheEnvironment) {
  unsetenv("DISTCLUST_NCCL_TIMEOUT");
  EXPECT_EQ(collective_timeout_seconds(), 1800);
  setenv("DISTCLUST_NCCL_TIMEOUT", "0", 1);
  EXPECT_EQ(collective_timeout_seconds(), 0);
  setenv("DISTCLUST_NCCL_TIMEOUT", "2.5", 1);
  EXPECT_EQ(collective_timeout_seconds(), 2.5);
  for (const char* bad : {"10m", "-1", "inf", "nan"}) {
    setenv("DISTCLUST_NCCL_TIMEOUT", bad, 1);
    EXPECT_NE(error_of([] { collective_timeout_seconds(); }).find(std::string("DISTCLUST_NCCL_TIMEOUT='") + bad),
              std::string::npos)
        << bad;
  }
  unsetenv("DISTCLUST_NCCL_TIMEOUT");
}
