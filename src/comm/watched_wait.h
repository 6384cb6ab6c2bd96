// Waiting for a device collective without waiting forever. A stream
// synchronize on NCCL work never returns when a peer died without
// MPI_Abort (the OOM killer, a lost node under srun without
// --kill-on-bad-exit): the job would hold every GPU until its time limit.
// watched_wait polls instead, as PyTorch's NCCL watchdog does: it returns
// when the work is done, and gives up (aborting the communicator, then
// throwing) on an asynchronous error or after a timeout. Kept free of CUDA
// so that its rules are tested on CPUs (tests/unit/test_watched_wait.cpp).
#pragma once

#include <functional>
#include <string>

namespace distclust {

/// What a watched wait polls and how it gives up.
struct WatchedWork {
  /// true once the work is finished (cudaStreamQuery). Throws on a failure
  /// of the query itself.
  std::function<bool()> done;
  /// An asynchronous error of the communicator (ncclCommGetAsyncError):
  /// empty while there is none.
  std::function<std::string()> failure;
  /// Called once before throwing (ncclCommAbort: the work's kernels end).
  std::function<void()> give_up;
};

/// Waits for `work`: returns when done(); throws naming `what` on a failure
/// or after timeout_s seconds (0 = no limit); warns once after warn_s
/// seconds that the wait is long (a slow peer, or one that is gone). Spins
/// for the first few thousand polls (a collective usually ends within
/// microseconds), then sleeps between polls so a long wait costs no core.
/// A pause between polls longer than stopped_s (this process was stopped:
/// a job suspended as a whole, `scontrol suspend`) does not count as
/// waiting, so that the job goes on when it is resumed.
void watched_wait(const std::string& what, const WatchedWork& work, double timeout_s, double warn_s = 60,
                  double stopped_s = 10);

/// A number of seconds from environment variable `name`: `dflt` when unset
/// or empty; else a finite number that is 0 or at least `min_nonzero`, or an
/// Error naming the variable, its value and what 0 means (`zero_means`).
double seconds_from_env(const char* name, double dflt, double min_nonzero, const char* zero_means);

}  // namespace distclust
