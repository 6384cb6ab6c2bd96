#include "distclust/runtime.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "distclust/error.h"

extern "C" void openblas_set_num_threads(int);

namespace distclust {
namespace {
int g_threads = 1;
std::string g_env_summary = "compute env: unchanged";
}  // namespace

void RuntimeParams::validate() const {
  require(comm == "auto" || comm == "local" || comm == "mpi" || comm == "nccl",
          "runtime.comm: '", comm, "' is not one of auto|local|mpi|nccl");
  require(threads >= 0, "runtime.threads: ", threads, " must be >= 0 (0 = auto)");
}

void ensure_compute_env(int argc, char** argv) {
  (void)argc;
  const char* keep = std::getenv("DISTCLUST_KEEP_ENV");
  if (keep && std::strcmp(keep, "1") == 0) {
    g_env_summary = "compute env: kept as given (DISTCLUST_KEEP_ENV=1)";
    return;
  }
  if (std::getenv("DISTCLUST_ENV_APPLIED")) {
    const char* s = std::getenv("DISTCLUST_ENV_APPLIED");
    g_env_summary = std::string("compute env: ") + s;
    return;
  }
  std::string changes;
  bool reexec = false;
  const char* forced = std::getenv("DISTCLUST_OPENBLAS_CORETYPE");
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  if (forced) {
    if (!core || std::strcmp(core, forced) != 0) {
      setenv("OPENBLAS_CORETYPE", forced, 1);
      changes += std::string("OPENBLAS_CORETYPE=") + forced + " (forced); ";
      reexec = true;
    }
  } else if (core && __builtin_cpu_supports("avx512f")) {
    changes += std::string("OPENBLAS_CORETYPE=") + core + " removed (CPU has AVX-512); ";
    unsetenv("OPENBLAS_CORETYPE");
    reexec = true;
  }
  if (!std::getenv("OMP_WAIT_POLICY")) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changes += "OMP_WAIT_POLICY=PASSIVE; ";
    reexec = true;
  }
  if (!reexec) {
    g_env_summary = "compute env: already suitable";
    return;
  }
  setenv("DISTCLUST_ENV_APPLIED", changes.c_str(), 1);
  // Same pid, same argv: mpirun/srun still see the process they started.
  execv("/proc/self/exe", argv);
  // exec failed (no /proc?): carry on with the environment as it is.
  g_env_summary = "compute env: re-exec failed, kept as given";
}

std::string compute_env_summary() { return g_env_summary; }

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int configure_threads(int threads, int local_size) {
  const char* env = std::getenv("DISTCLUST_THREADS");  // set by launch/distclust-rank
  if (threads <= 0 && env && std::atoi(env) > 0) threads = std::atoi(env);
  if (threads <= 0) {
    int cores = available_cores();
    // Ranks bound to one core each see 1 core; unbound ranks on a node see all
    // of them and share them.
    int online = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    threads = cores >= online && local_size > 1 ? std::max(1, cores / local_size) : cores;
  }
  g_threads = threads;
  omp_set_num_threads(threads);
  openblas_set_num_threads(1);
  return threads;
}

int compute_threads() { return g_threads; }

void set_blas_threads(int n) { openblas_set_num_threads(n); }

}  // namespace distclust
