// Process-level runtime: the BLAS/OpenMP environment, thread counts, and the
// settings every subcommand shares (`runtime:` section).
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

/// Call first in main(), before MPI_Init or any thread starts. OpenBLAS picks
/// its kernels and libgomp its wait policy when the libraries load, so the
/// right values must be in the environment before the process starts: when
/// they are not, the program re-executes itself once with them set:
///  - OPENBLAS_CORETYPE is removed when the CPU has AVX-512 (a preset
///    Haswell coretype halves sgemm); DISTCLUST_OPENBLAS_CORETYPE=X forces X.
///  - OMP_WAIT_POLICY=PASSIVE unless set (spinning OpenMP threads slow the
///    BLAS threads beside them).
/// DISTCLUST_KEEP_ENV=1 disables all of this.
void ensure_compute_env(int argc, char** argv);

/// One line describing what ensure_compute_env did (for the log).
std::string compute_env_summary();

/// Cores this process may run on (sched_getaffinity).
int available_cores();

/// Sets OpenMP threads to `threads` (0 = auto: DISTCLUST_THREADS if set, else
/// available cores / local ranks, at least 1) and OpenBLAS to 1 thread (our kernels call it per thread).
/// Returns the thread count chosen.
int configure_threads(int threads, int local_size);

/// Threads chosen by configure_threads.
int compute_threads();

/// Sets OpenBLAS' own thread count (for a plain multi-threaded sgemm).
void set_blas_threads(int n);

}  // namespace distclust
