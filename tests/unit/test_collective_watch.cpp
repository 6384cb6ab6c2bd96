// comm/collective_watch.h: what the watching thread reads of the main
// thread's collective calls, and the timeout's variable. The watch ending a
// job with a stuck rank is shown end to end (tests/e2e/rank_stuck.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "comm/collective_watch.h"
#include "common/test_common.h"

using namespace distclust;
using test::error_of;

TEST(CollectiveWatch, AScopeMarksItsCallAndNestedScopesKeepTheOutermost) {
  const CollectiveState before = collective_state();
  ASSERT_FALSE(before.inside());
  EXPECT_EQ(before.what, nullptr);
  uint64_t outer_seq = 0;
  {
    CollectiveScope outer("MPI broadcast");
    const CollectiveState in = collective_state();
    ASSERT_TRUE(in.inside());
    EXPECT_STREQ(in.what, "MPI broadcast");
    outer_seq = in.seq;
    {
      CollectiveScope inner("MPI allreduce (sum)");  // broadcast(V&) is two broadcasts
      EXPECT_EQ(collective_state().seq, outer_seq) << "a nested call counted as a new wait";
      EXPECT_STREQ(collective_state().what, "MPI broadcast");
    }
    EXPECT_TRUE(collective_state().inside());
  }
  const CollectiveState after = collective_state();
  EXPECT_FALSE(after.inside());
  EXPECT_EQ(after.what, nullptr);
  // A second call is a new wait: the watcher restarts its count.
  CollectiveScope again("MPI barrier");
  EXPECT_TRUE(collective_state().inside());
  EXPECT_GT(collective_state().seq, outer_seq);
}

TEST(CollectiveWatch, ACallThatGivesUpByItselfIsMarkedSo) {
  {
    CollectiveScope nccl("allreduce (sum)", /*self_timed=*/true);
    EXPECT_TRUE(collective_state().inside());
    EXPECT_TRUE(collective_state().self_timed);
    CollectiveScope inner("MPI barrier");  // nested: still the outer call's
    EXPECT_TRUE(collective_state().self_timed);
  }
  EXPECT_FALSE(collective_state().self_timed);
  CollectiveScope mpi("MPI barrier");
  EXPECT_FALSE(collective_state().self_timed);
}

TEST(CollectiveWatch, OtherThreadsReadTheMainThreadsState) {
  CollectiveScope scope("HDF5 file close");
  CollectiveState seen;
  std::thread([&] { seen = collective_state(); }).join();
  EXPECT_TRUE(seen.inside());
  EXPECT_STREQ(seen.what, "HDF5 file close");
}

// The kNN ring's pass-on thread sends while the main thread's visit may
// be in a collective too. With one odd/even counter, two threads inside
// read as "outside": a rank stuck there was never timed out.
TEST(CollectiveWatch, TwoThreadsInsideAtOnceReadAsInside) {
  ASSERT_FALSE(collective_state().inside());
  {
    CollectiveScope main_call("MPI sendrecv");
    std::atomic<int> step{0};
    std::thread pass_on([&] {
      CollectiveScope other("MPI sendrecv");
      step = 1;
      while (step != 2) std::this_thread::yield();
    });
    while (step != 1) std::this_thread::yield();
    const CollectiveState both = collective_state();
    EXPECT_TRUE(both.inside()) << "two threads inside read as outside";
    EXPECT_EQ(both.threads, 2);
    step = 2;
    pass_on.join();
    const CollectiveState one = collective_state();
    EXPECT_TRUE(one.inside()) << "the main thread is still inside";
    EXPECT_NE(one.seq, both.seq) << "an exit is a change the watcher sees";
  }
  EXPECT_FALSE(collective_state().inside());
  EXPECT_EQ(collective_state().what, nullptr);
}

// NCCL's waits give up by themselves; MPI's do not. With an NCCL send on
// one thread beside an MPI wait on another, the rank is the watcher's to
// time; and when the NCCL call has left, its "self-timed" must go with it
// (one flag kept the last entrant's value: the MPI wait was never timed).
TEST(CollectiveWatch, SelfTimedOnlyWhileEveryThreadInsideIs) {
  CollectiveScope mpi("MPI sendrecv");
  std::atomic<int> step{0};
  std::thread nccl([&] {
    CollectiveScope send("NCCL send", /*self_timed=*/true);
    step = 1;
    while (step != 2) std::this_thread::yield();
  });
  while (step != 1) std::this_thread::yield();
  EXPECT_FALSE(collective_state().self_timed) << "an MPI wait beside an NCCL one taken for self-timed";
  step = 2;
  nccl.join();
  EXPECT_TRUE(collective_state().inside());
  EXPECT_FALSE(collective_state().self_timed) << "the NCCL call left, its flag stayed";
}

TEST(CollectiveWatch, TimeoutFromTheEnvironment) {
  unsetenv("DISTCLUST_COLLECTIVE_TIMEOUT");
  unsetenv("DISTCLUST_NCCL_TIMEOUT");
  EXPECT_EQ(collective_timeout_seconds(), 1800);
  setenv("DISTCLUST_COLLECTIVE_TIMEOUT", "0", 1);
  EXPECT_EQ(collective_timeout_seconds(), 0);
  setenv("DISTCLUST_COLLECTIVE_TIMEOUT", "2.5", 1);
  EXPECT_EQ(collective_timeout_seconds(), 2.5);
  // The older name counts when the new one is unset, and only then.
  setenv("DISTCLUST_NCCL_TIMEOUT", "30", 1);
  EXPECT_EQ(collective_timeout_seconds(), 2.5);
  unsetenv("DISTCLUST_COLLECTIVE_TIMEOUT");
  EXPECT_EQ(collective_timeout_seconds(), 30);
  EXPECT_STREQ(collective_timeout_variable(), "DISTCLUST_NCCL_TIMEOUT");
  setenv("DISTCLUST_NCCL_TIMEOUT", "abc", 1);
  EXPECT_NE(error_of([] { collective_timeout_seconds(); }).find("DISTCLUST_NCCL_TIMEOUT='abc'"), std::string::npos);
  unsetenv("DISTCLUST_NCCL_TIMEOUT");
  // Below 1 s the watcher's ticks could not keep it.
  for (const char* bad : {"10m", "-1", "inf", "nan", "0.5"}) {
    setenv("DISTCLUST_COLLECTIVE_TIMEOUT", bad, 1);
    EXPECT_NE(error_of([] { collective_timeout_seconds(); })
                  .find(std::string("DISTCLUST_COLLECTIVE_TIMEOUT='") + bad + "' is not a number of seconds >= 1"),
              std::string::npos)
        << bad;
  }
  unsetenv("DISTCLUST_COLLECTIVE_TIMEOUT");
}
