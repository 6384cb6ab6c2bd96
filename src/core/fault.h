// The one test hook for crash recovery: a stage calls fault_point() after
// each unit of work whose checkpoint is on disk (a k-means iteration, a kNN
// ring step, a SCAN epoch, an extract batch); when the environment variable
// names that count, the process kills itself (SIGKILL, as an OOM killer or a
// node failure would), and the tests check that a rerun ends with the same
// outputs as an uninterrupted one. Unset (always, outside the tests): a
// getenv per call, nothing else.
#pragma once

#include <cstdint>

#include "distclust/comm.h"

namespace distclust {

/// Kills this process when getenv(var) == count. comm: every rank meets
/// first (the job dies with every rank's work of this step saved); null:
/// only this rank dies (mpirun then ends the others wherever they are), as
/// with comm when DISTCLUST_FAULT_RANK names a rank: that rank alone dies.
void fault_point(const char* var, int64_t count, Communicator* comm = nullptr);

/// Raises SIGTERM in this process when getenv(var) == point: a stop signal
/// at an exact place (StagedDir::commit's "replacing-old"), so the tests can
/// check what the stop message says there.
void fault_signal_point(const char* var, const char* point);

}  // namespace distclust
