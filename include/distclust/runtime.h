// Process-level runtime: thread counts and the settings every subcommand
// shares (`runtime:` section). The BLAS/OpenMP environment: kernels/compute_env.h.
#pragma once

#include <string>

namespace distclust {

/// Settings shared by all stages (YAML section `runtime`).
struct RuntimeParams {
  std::string comm = "auto";  ///< communicator: auto|local|mpi|nccl; auto = nccl when every rank computes on its own GPU (NCCL built), mpi with >1 ranks, else local
  int threads = 0;            ///< compute threads per rank; 0 = DISTCLUST_THREADS, else OMP_NUM_THREADS, else cores this rank may use / ranks sharing them
  std::string log_dir = "";   ///< if set, every rank also logs to LOG_DIR/rank-R.log
  std::string device = "auto";     ///< auto|cpu|cuda|cuda:N: where k-means, kNN and SCAN compute; auto = cuda:local_rank when LibTorch has CUDA and a GPU is visible, else cpu
  std::string kernels = "auto";    ///< auto|cpu|torch: cpu = OpenBLAS and the hand-written SCAN heads; torch = LibTorch on `device`; auto = torch on a GPU, cpu on the CPU
  std::string precision = "fp32";  ///< fp32|tf32|bf16|fp16: matrix products of the LibTorch kernels in this type; each query's best candidates re-scored in fp32
  /// fp32|fp16|bf16: the type of the feature rows the LibTorch kernels hold
  /// on the device (a k-means shard, kNN's own block, SCAN's rows). fp16 and
  /// bf16 halve that memory; the kernels then work on the rounded rows (so
  /// k-means centroids are means of rounded rows, and scores differ from the
  /// CPU's in the 3rd (fp16) or 2nd (bf16) significant digit).
  std::string storage = "fp32";
  template <class V> void visit(V& v) {
    v("comm", comm, "communicator: auto|local|mpi|nccl (auto: nccl when every rank has its own GPU, else mpi with >1 ranks)");
    v("threads", threads, "compute threads per rank (0 = auto: the launcher's DISTCLUST_THREADS, else OMP_NUM_THREADS's first count, else the cores this rank may use)");
    v("log_dir", log_dir, "folder for per-rank log files (empty = none)");
    v("device", device, "auto|cpu|cuda|cuda:N: where k-means, kNN and SCAN compute (auto = cuda:local_rank when LibTorch has CUDA and a GPU is visible)");
    v("kernels", kernels, "auto|cpu|torch: OpenBLAS + hand-written SCAN heads, or LibTorch on the device (auto = torch on a GPU)");
    v("precision", precision, "fp32|tf32|bf16|fp16: LibTorch matrix products in this type; the best candidates re-scored in fp32");
    v("storage", storage, "fp32|fp16|bf16: type of the feature rows LibTorch holds on the device (fp16/bf16: half the memory, rounded rows)");
  }
  void validate() const;
};

/// Cores this process may run on (sched_getaffinity).
int available_cores();

/// Physical memory of this machine in bytes.
double physical_memory_bytes();
/// Throws, naming `what`, the bytes it needs and the machine's memory, when
/// `bytes` exceeds half of the physical memory, or the address space left
/// under an address-space limit (ulimit -v): checked before allocating, so
/// a hostile parameter is an error, not an out-of-memory kill or a stall.
void require_memory(double bytes, const std::string& what);

/// The address-space limit of this process (RLIMIT_AS, `ulimit -v`) in
/// bytes; <= 0 when there is none.
double address_space_limit_bytes();

/// This process's mapped address space now (/proc/self/statm), 0 when
/// unknown: what counts against that limit.
double mapped_bytes();

/// Raises this process's soft limit on open files (ulimit -n) towards its
/// hard limit, up to 4096, and throws, naming the limit, when fewer than
/// 64 can be open: MPI, parallel HDF5 and the decoders need some each, and
/// a rank that ran out inside parallel HDF5's collective create left the
/// others waiting there (until the collective watch's 30 minutes).
void ensure_open_files();

/// Sets OpenMP threads to `threads` (0 = auto: DISTCLUST_THREADS if set,
/// else the first count in OMP_NUM_THREADS, else available cores / local
/// ranks, at least 1) and OpenBLAS to one thread per call (the kernels split
/// work over their own threads: kernels/gemm.h). Returns the count chosen.
/// A set but malformed DISTCLUST_THREADS/OMP_NUM_THREADS throws naming it,
/// unless `report_bad_env` (`distclust env`, where a user looks first): then
/// it is ignored as if unset and its error kept for compute_threads_problem().
int configure_threads(int threads, int local_size, bool report_bad_env = false);

/// Threads chosen by configure_threads.
int compute_threads();

/// Where that count came from: "runtime.threads", "DISTCLUST_THREADS",
/// "OMP_NUM_THREADS" or "cores".
const char* compute_threads_from();

/// The error of a malformed thread variable that configure_threads ignored
/// (report_bad_env); empty when there was none.
const std::string& compute_threads_problem();

}  // namespace distclust
