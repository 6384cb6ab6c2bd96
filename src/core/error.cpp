#include "distclust/error.h"

#include <hdf5.h>
#include <mpi.h>
#include <unistd.h>

namespace distclust {

std::string where() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  int inited = 0, finalized = 0, rank = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return fmt("rank ", rank, " on ", host);
}

void throw_mpi_error(const char* call, int code, const char* file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  throw Error(fmt(call, " failed: ", msg, " (code ", code, ") at ", file, ":", line, ", ", where()));
}

namespace {
herr_t walk_cb(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (n == 0 && e->desc) *s = e->desc;  // innermost description is the useful one
  return 0;
}
}  // namespace

void throw_hdf5_error(const char* call, const char* file, int line) {
  std::string desc;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &desc);
  H5Eclear2(H5E_DEFAULT);
  throw Error(fmt(call, " failed", desc.empty() ? "" : ": ", desc, " at ", file, ":", line, ", ", where()));
}

}  // namespace distclust
