// GoogleTest main for distributed tests: every rank runs every test; only
// rank 0 prints; the exit code is the MPI_MAX of all ranks' results.
#include <gtest/gtest.h>
#include <mpi.h>

#include "distclust/log.h"
#include "distclust/runtime.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  distclust::log::set_identity(rank, size);
  // Threads per rank as distclust chooses them: the node's cores shared by
  // the ranks on it (3 ranks on 2 cores: 1 thread each).
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local_size = 1;
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  distclust::configure_threads(0, local_size);
  distclust::log::set_level(distclust::log::Level::warn);
  ::testing::InitGoogleTest(&argc, argv);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (rank != 0) delete listeners.Release(listeners.default_result_printer());
  int local = RUN_ALL_TESTS();
  int global = 0;
  MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0) std::printf("mpi_tests on %d rank(s): %s\n", size, global ? "FAILED" : "passed");
  MPI_Finalize();
  return global;
}
