#include "core/fault.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "distclust/error.h"

namespace distclust {

void fault_point(const char* var, int64_t count, Communicator* comm) {
  const char* env = std::getenv(var);
  if (!env || std::atoll(env) != count) return;
  // DISTCLUST_FAULT_RANK=R: only rank R dies, at once, as one rank's node
  // failure or OOM kill; mpirun then stops the others with SIGTERM.
  if (const char* r = std::getenv("DISTCLUST_FAULT_RANK"); r && comm) {
    if (std::atoi(r) != comm->rank()) return;
    comm = nullptr;
  }
  if (comm) comm->barrier();
  std::fprintf(stderr, "distclust: %s=%lld: killing %s\n", var, static_cast<long long>(count),
               comm ? "the job" : where().c_str());
  std::fflush(stderr);
  std::raise(SIGKILL);
}

void fault_signal_point(const char* var, const char* point) {
  const char* env = std::getenv(var);
  if (env && std::string(env) == point) std::raise(SIGTERM);
}

}  // namespace distclust
