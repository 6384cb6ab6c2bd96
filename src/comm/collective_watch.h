// A rank alive but stuck. The heartbeat (comm/heartbeat.h) catches a rank
// that is not scheduled at all; one whose main thread never returns from a
// read (a hung file system: the process in D state) or is caught in a
// deadlock keeps beating, and every other rank would wait for it in its next
// collective until the job's time limit. So each rank marks the collective
// calls its main thread waits in (MPI's, and HDF5's collective file and
// dataset operations) and the heartbeat thread ends the job when one call
// lasts longer than DISTCLUST_COLLECTIVE_TIMEOUT seconds (default 1800),
// naming the call. The blocking calls themselves stay as they are: MPI's
// non-blocking collectives run other algorithms, and Open MPI's
// MPI_Iallreduce of 40 MB took 2.8x MPI_Allreduce's time on 2 ranks here
// (bench/mpi_iallreduce.c, bench/RESULTS.md).
// The job ends with MPI_Abort from the watching thread (as a silent rank
// does), so no buffer of the abandoned call is freed under MPI.
#pragma once

#include <cstdint>

namespace distclust {

/// For its lifetime, the calling thread waits in the collective call named
/// `what` (a string literal: the watcher may read it at any time). Scopes
/// nest: the outermost names the wait. Collectives are called from the
/// main thread, and from the kNN ring's pass-on thread beside it: the rank
/// waits while any thread is inside one. `self_timed`: the call gives up by
/// itself at the same limit (NCCL's waits: comm/watched_wait.h, which also
/// abort the NCCL communicator); the watcher then only counts it as a
/// collective, for naming a stuck rank.
class CollectiveScope {
 public:
  explicit CollectiveScope(const char* what, bool self_timed = false) noexcept;
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;
};

/// What the rank's threads wait in, as the watcher reads it.
struct CollectiveState {
  /// Changes at every outermost entry and exit, of any thread.
  uint64_t seq = 0;
  /// Threads inside a collective call now.
  int threads = 0;
  /// The call's name while inside (else nullptr).
  const char* what = nullptr;
  /// Every call waited in gives up by itself (CollectiveScope's self_timed).
  bool self_timed = false;
  bool inside() const { return threads > 0; }
};

/// The state now (any thread may call it).
CollectiveState collective_state() noexcept;

/// Seconds one collective call may wait: DISTCLUST_COLLECTIVE_TIMEOUT
/// (DISTCLUST_NCCL_TIMEOUT, its older name, when it is unset), default 1800
/// (a rank may wait while another writes a checkpoint or finishes a larger
/// shard); 0 = no limit. Any other value that is not a number of seconds
/// >= 1 is an Error naming the variable and its value.
double collective_timeout_seconds();

/// The environment variable collective_timeout_seconds() read.
const char* collective_timeout_variable();

}  // namespace distclust
