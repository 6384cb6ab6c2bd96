// Process-level runtime: thread counts and the settings every subcommand
// shares (`runtime:` section). The BLAS/OpenMP environment: kernels/compute_env.h.
#pragma once

#include <string>

namespace distclust {

/// Settings shared by all stages (YAML section `runtime`).
struct RuntimeParams {
  std::string comm = "auto";  ///< communicator: auto|local|mpi|nccl
  int threads = 0;            ///< compute threads per rank; 0 = cores this rank may use / ranks sharing them
  std::string log_dir = "";   ///< if set, every rank also logs to LOG_DIR/rank-R.log
  template <class V> void visit(V& v) {
    v("comm", comm, "communicator: auto|local|mpi|nccl");
    v("threads", threads, "compute threads per rank (0 = auto from the cores this rank may use)");
    v("log_dir", log_dir, "folder for per-rank log files (empty = none)");
  }
  void validate() const;
};

/// Cores this process may run on (sched_getaffinity).
int available_cores();

/// Physical memory of this machine in bytes.
double physical_memory_bytes();
/// Throws, naming `what`, the bytes it needs and the machine's memory, when
/// `bytes` exceeds half of the physical memory: checked before allocating,
/// so a hostile parameter is an error, not an out-of-memory kill.
void require_memory(double bytes, const std::string& what);

/// Sets OpenMP threads to `threads` (0 = auto: DISTCLUST_THREADS if set, else
/// available cores / local ranks, at least 1) and OpenBLAS to one thread per
/// call (the kernels split work over their own threads: kernels/gemm.h).
/// Returns the thread count chosen.
int configure_threads(int threads, int local_size);

/// Threads chosen by configure_threads.
int compute_threads();

}  // namespace distclust
