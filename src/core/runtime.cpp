#include "distclust/runtime.h"

#include <omp.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "distclust/device_name.h"
#include "distclust/error.h"

extern "C" void openblas_set_num_threads(int);

namespace distclust {
namespace {
int g_threads = 1;
const char* g_threads_from = "auto";
std::string g_threads_problem;

/// A thread count from the environment: 0 when unset or empty. OMP_NUM_THREADS
/// may list one count per nesting level ("8,2"): the first is ours. A value
/// that is not a count is an error naming it (OpenMP itself would ignore it
/// with a warning, and the run would use every core).
int env_threads(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  std::string s = std::string(v).substr(0, std::string(v).find(','));
  s.erase(0, s.find_first_not_of(" \t"));  // OpenMP allows blanks around the count
  s.erase(s.find_last_not_of(" \t") + 1);
  char* end = nullptr;
  const long n = std::strtol(s.c_str(), &end, 10);
  require(!s.empty() && *end == '\0' && n >= 1 && n <= 1024, name, "='", v,
          "' is not a thread count in [1, 1024] (unset it for automatic threads)");
  return int(n);
}
}  // namespace

void RuntimeParams::validate() const {
  require(comm == "auto" || comm == "local" || comm == "mpi" || comm == "nccl",
          "runtime.comm: '", comm, "' is not one of auto|local|mpi|nccl");
  require(threads >= 0 && threads <= 1024, "runtime.threads: ", threads, " must be in [0, 1024] (0 = auto)");
  require(is_device_name(device), "runtime.device: '", device, "' is not one of auto|cpu|cuda|cuda:N (N of 1-4 digits)");
  require(kernels == "auto" || kernels == "cpu" || kernels == "torch", "runtime.kernels: '", kernels,
          "' is not one of auto|cpu|torch");
  require(precision == "fp32" || precision == "tf32" || precision == "bf16" || precision == "fp16",
          "runtime.precision: '", precision, "' is not one of fp32|tf32|bf16|fp16");
  require(storage == "fp32" || storage == "fp16" || storage == "bf16", "runtime.storage: '", storage,
          "' is not one of fp32|fp16|bf16");
}

double physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

double address_space_limit_bytes() {
  struct rlimit r {};
  if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return -1;
  return double(r.rlim_cur);
}

double mapped_bytes() {
  std::ifstream f("/proc/self/statm");
  double pages = 0;
  f >> pages;
  const long page = sysconf(_SC_PAGE_SIZE);
  return f && page > 0 ? pages * double(page) : 0.0;
}

void ensure_open_files() {
  struct rlimit r {};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  constexpr rlim_t kWant = 4096, kNeed = 64;
  if (r.rlim_cur < kWant && r.rlim_cur != RLIM_INFINITY) {
    struct rlimit raised = r;
    raised.rlim_cur = r.rlim_max == RLIM_INFINITY ? kWant : std::min(r.rlim_max, kWant);
    if (raised.rlim_cur > r.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0) r = raised;
  }
  require(r.rlim_cur == RLIM_INFINITY || r.rlim_cur >= kNeed, "this process may open only ", int64_t(r.rlim_cur),
          " files (ulimit -n; its hard limit is ", r.rlim_max == RLIM_INFINITY ? std::string("unlimited")
                                                                              : std::to_string(r.rlim_max),
          "): distclust needs at least ", int64_t(kNeed), " (MPI, parallel HDF5 and the image decoders open files ",
          "on every rank); raise it (ulimit -n 1024)");
}

void require_memory(double bytes, const std::string& what) {
  const double gib = double(1 << 30);
  char b[320];
  const double mem = physical_memory_bytes();
  if (mem > 0 && bytes > mem / 2) {
    std::snprintf(b, sizeof(b), " would need %.3g GiB, more than half of this machine's %.3g GiB", bytes / gib,
                  mem / gib);
    throw Error(what + b);
  }
  // Under ulimit -v an allocation past the limit fails, and OpenBLAS, whose
  // per-thread buffers then do not fit, retries for ever: a job that stalls
  // rather than fails (kmeans N=200,000 under 1 GB).
  const double limit = address_space_limit_bytes();
  if (limit > 0 && bytes > limit - mapped_bytes()) {
    std::snprintf(b, sizeof(b),
                  " would need %.3g GiB, more than the %.3g GiB of address space left under this process's limit "
                  "(ulimit -v: %.3g GiB)",
                  bytes / gib, std::max(0.0, limit - mapped_bytes()) / gib, limit / gib);
    throw Error(what + b + ": raise or lift it (the batch system's memory limit, Slurm --mem, holds the job anyway)");
  }
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int configure_threads(int threads, int local_size, bool report_bad_env) {
  // Automatic: the launcher's count (launch/distclust-rank), else the
  // user's OMP_NUM_THREADS (as any OpenMP program honours it), else cores.
  // (Read only when asked for: a set runtime.threads makes them irrelevant.)
  g_threads_from = "runtime.threads";
  g_threads_problem.clear();
  auto from_env = [&](const char* name) {
    if (threads > 0) return;
    try {
      if (const int n = env_threads(name); n > 0) threads = n, g_threads_from = name;
    } catch (const Error& e) {
      if (!report_bad_env) throw;
      if (g_threads_problem.empty()) g_threads_problem = e.what();
    }
  };
  from_env("DISTCLUST_THREADS");
  from_env("OMP_NUM_THREADS");
  if (threads <= 0) {
    g_threads_from = "cores";
    int cores = available_cores();
    // Ranks bound to one core each see 1 core; unbound ranks on a node see all
    // of them and share them.
    int online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    threads = cores >= online && local_size > 1 ? std::max(1, cores / local_size) : cores;
  }
  g_threads = threads;
  omp_set_num_threads(threads);
  // distclust's kernels run OpenBLAS on their own threads, one call each;
  // LibTorch's CPU convolutions reach OpenBLAS too and run on its own threads.
  openblas_set_num_threads(1);
  return threads;
}

int compute_threads() { return g_threads; }

const char* compute_threads_from() { return g_threads_from; }

const std::string& compute_threads_problem() { return g_threads_problem; }

}  // namespace distclust
