// Every rank fails, and each then leaves at once with _Exit (as main does
// when an HDF5 file is still open). The one line rank 0 prints for all must
// still reach the terminal: a rank that left first made mpirun kill rank 0
// before it printed (the job ended with rc 137 and no cause at all).
// DC_SLOW_ROOT_MS delays rank 0's arrival, so the others are there first.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "comm/error_agreement.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  distclust::init_error_agreement();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char* slow = std::getenv("DC_SLOW_ROOT_MS");
  if (rank == 0 && slow != nullptr) std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(slow)));
  if (!distclust::all_ranks_failed("every rank failed on purpose", 10.0)) {
    std::fprintf(stderr, "rank %d: the ranks did not agree that all failed\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(1);
}
