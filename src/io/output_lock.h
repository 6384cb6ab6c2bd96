// One writer per output. Before a stage touches its output or its checkpoint,
// rank 0 takes an exclusive lock on OUT.lock (flock: the kernel releases it
// when the process ends, however it ends) and writes its host and pid into
// it; a second job writing the same output is refused with a message naming
// the holder. (Without it, a second `extract` truncated the first's OUT.tmp,
// and the first then committed a corrupt file.) The lock file is removed
// at an abnormal end too (io/abort_cleanup.h).
#pragma once

#include <string>

#include "distclust/comm.h"

namespace distclust {

class OutputLock {
 public:
  /// Collective: rank 0 locks `lock_path`; every rank throws when another
  /// process holds it. what: the thing locked, for the message ("output
  /// kmeans.h5", "run workdir w/").
  OutputLock(const std::string& lock_path, const std::string& what, Communicator& comm);
  /// The lock of an output file or folder: OUT.lock beside it.
  static std::string path_for(const std::string& out);
  /// Collective: throws when `out` lies in a run workdir whose
  /// .distclust.lock another process holds (a `distclust run` going on
  /// there), naming it. A stage command replaced that run's outputs, and
  /// the run then scored and reported them as its own. The run's own
  /// stages pass (this process holds the lock).
  static void require_no_run_in(const std::string& out, Communicator& comm);
  /// Whether a process holds the lock at lock_path now (a file left by a
  /// killed job is not held). Not collective.
  static bool held(const std::string& lock_path);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace distclust
