/* MPI_Allreduce against MPI_Iallreduce polled with MPI_Test, the same
 * buffers: why the collective watch (src/comm/collective_watch.h) keeps
 * distclust's collectives blocking and watches them from the heartbeat
 * thread instead of polling non-blocking ones. Open MPI runs its
 * non-blocking collectives with other algorithms (libnbc).
 *
 *   mpicc -O2 bench/mpi_iallreduce.c -o /tmp/mpi_iallreduce
 *   mpiexec -n 2 /tmp/mpi_iallreduce      (and -n 3 --oversubscribe)
 *
 * Prints the mean time per call for 1 to 5,242,880 doubles (40 MB). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const size_t sizes[] = {1, 1024, 16384, 524288, 5242880};
  for (int s = 0; s < 5; ++s) {
    const size_t n = sizes[s];
    double* b = calloc(n, sizeof(double));
    const int reps = n > 100000 ? 20 : 2000;
    for (int mode = 0; mode < 2; ++mode)
      for (int rep = 0; rep < 2; ++rep) { /* the first round warms up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        for (int i = 0; i < reps; ++i) {
          if (mode == 0) {
            MPI_Allreduce(MPI_IN_PLACE, b, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
          } else {
            MPI_Request r;
            int done = 0;
            MPI_Iallreduce(MPI_IN_PLACE, b, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r);
            while (!done) MPI_Test(&r, &done, MPI_STATUS_IGNORE);
          }
        }
        t = (MPI_Wtime() - t) / reps;
        if (rank == 0 && rep == 1)
          printf("%8zu doubles  %s  %9.1f us\n", n, mode ? "MPI_Iallreduce + MPI_Test" : "MPI_Allreduce            ",
                 t * 1e6);
      }
    free(b);
  }
  MPI_Finalize();
  return 0;
}
