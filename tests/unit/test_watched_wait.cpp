// watched_wait (comm/watched_wait.h): the rules by which a device
// collective gives up instead of hanging, with the CUDA/NCCL queries
// replaced by counters.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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
  EXPECT_NE(e.find("DISTCLUST_COLLECTIVE_TIMEOUT sets the limit"), std::string::npos) << e;
  EXPECT_EQ(f.aborted, 1);
  EXPECT_GE(s, 0.3);  // not before the limit
}

namespace {
/// Forks a child that stops this process (SIGSTOP) 0.1 s from now and
/// resumes it (SIGCONT) 1.2 s later, as `scontrol suspend`/`resume` do to
/// a whole job. Returns the child's pid.
pid_t stop_me_soon() {
  const pid_t child = fork();
  if (child == 0) {
    const pid_t parent = getppid();
    usleep(100000);
    kill(parent, SIGSTOP);
    usleep(1200000);
    kill(parent, SIGCONT);
    _exit(0);
  }
  return child;
}

/// The message of a 1 s-limit wait for work done 1.6 s after the call,
/// while this process is stopped for 1.2 s of them; stopped_s as given.
std::string wait_through_a_stop(double stopped_s) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const pid_t child = stop_me_soon();
  if (child < 0) return "fork failed";
  WatchedWork w{[&] { return std::chrono::duration<double>(clock::now() - start).count() > 1.6; },
                [] { return std::string(); }, [] {}};
  const std::string e = error_of([&] { watched_wait("comm=nccl: allreduce", w, 1.0, 60, stopped_s); });
  int status = 0;
  waitpid(child, &status, 0);
  return e;
}
}  // namespace

TEST(WatchedWait, AProcessStoppedAndResumedDoesNotCountItsStopAsWaiting) {
  // The job suspended as a whole: 1.2 s stopped against a 1 s limit, the
  // work done after ~0.4 s of running time. (Were the process not stopped,
  // the 1.6 s would exceed the limit: no error needs both the stop and its
  // allowance.)
  EXPECT_EQ(wait_through_a_stop(0.5), "(no error)") << "a stop of the whole process counted as waiting";
  // Without the allowance the same stop ends the wait: what a job resumed
  // after more than the collective timeout saw before.
  const std::string e = wait_through_a_stop(1e9);
  EXPECT_NE(e.find("did not finish in 1 s"), std::string::npos) << e;
}
