// Files to remove when the process ends without its destructors: a stop
// signal's handler (mpirun's SIGTERM when another rank failed, scancel) and
// the full-disk watch's abort skip them, and OUT.lock or a staged CSV.tmp
// stayed behind. Holders register a path while they own it; the handler
// and the abort unlink what is registered.
#pragma once

#include <string>

namespace distclust {

/// Registers (on) or unregisters (!on) `path` for removal at an abnormal end.
/// Fixed storage for a few paths (a stage holds two or three); a path that
/// does not fit is simply not cleaned up. Thread-safe.
void remove_at_abnormal_end(const std::string& path, bool on);

/// Unlinks every registered path. Async-signal-safe (unlink(2) only): for a
/// signal handler or just before MPI_Abort.
void remove_registered_files() noexcept;

}  // namespace distclust
