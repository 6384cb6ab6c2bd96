#include <algorithm>
#include <cstdlib>
#include <set>

#include "comm/local_comm.h"
#include "comm/mpi_comm.h"
#include "distclust/error.h"
#include "distclust/log.h"
#ifdef DISTCLUST_HAVE_NCCL
#include "comm/nccl_comm.h"
#endif

namespace distclust {

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

void init_mpi() {
  int inited = 0;
  MPI_Initialized(&inited);
  if (inited) return;
  int provided = 0;
  DC_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
}

bool nccl_built() {
#ifdef DISTCLUST_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

bool one_gpu_per_rank(const std::vector<std::string>& keys) {
  std::set<std::string> seen;
  for (const std::string& k : keys)
    if (k.empty() || !seen.insert(k).second) return false;
  return true;
}

std::vector<std::string> gather_gpu_keys(Communicator& comm, int device) {
  std::string mine;
  if (device >= 0) {
    try {
      mine = gpu_key(device);
    } catch (const std::exception&) {
      mine.clear();  // no CUDA runtime answer: the names below
    }
    if (mine.empty()) {
      const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
      const std::string w = where();
      mine = fmt(w.substr(w.find(" on ") + 4), "|visible ", vis ? vis : "all", "|cuda:", device);
    }
  }
  std::vector<char> key(256, 0);
  std::snprintf(key.data(), key.size(), "%s", mine.c_str());
  const std::vector<char> all = comm.allgather(key);
  std::vector<std::string> keys;
  for (int r = 0; r < comm.size(); ++r) keys.emplace_back(all.data() + size_t(r) * key.size());
  return keys;
}

int ranks_on_same_gpu(const std::vector<std::string>& keys, int rank) {
  const std::string& mine = keys.at(size_t(rank));
  return mine.empty() ? 1 : int(std::count(keys.begin(), keys.end(), mine));
}

#ifndef DISTCLUST_HAVE_NCCL
std::string gpu_key(int) { return ""; }
#endif

std::unique_ptr<Communicator> make_communicator(const CommParams& p) {
  p.validate();
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited && (p.comm == "auto" || p.comm == "local")) return std::make_unique<LocalCommunicator>();
  init_mpi();
  int world = 1;
  DC_MPI(MPI_Comm_size(MPI_COMM_WORLD, &world));
  std::string kind = p.comm;
  if (kind == "auto") kind = world > 1 ? "mpi" : "local";
  if (kind == "local") {
    require(world == 1, "comm=local but the job has ", world, " ranks: use comm=mpi (or auto)");
    return std::make_unique<LocalCommunicator>();
  }
  if (kind == "mpi") return std::make_unique<MpiCommunicator>();
#ifdef DISTCLUST_HAVE_NCCL
  return std::make_unique<NcclCommunicator>(p.device);
#else
  throw Error("comm=nccl: this distclust was built without CUDA/NCCL (rebuild where CMake finds both)");
#endif
}

}  // namespace distclust
