// OpenBLAS as distclust drives it (kernels/blas.h): its work buffers mapped
// up front, for address-space limits (ulimit -v).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "kernels/blas.h"

using namespace distclust;

TEST(Blas, MapBuffersMapsOneBufferPerThread) {
  // A slot OpenBLAS maps later, under a limit the data have filled, is
  // retried for ever: the job stalls. With sgemms too short to overlap
  // (256^3, 0.3 ms) 4 threads on 2 cores mapped 2 or 3 buffers of 4, and a
  // job that had passed the start's check stalled later. In a fresh
  // process (a re-executed child: no slot mapped before the call).
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        const double mapped = blas::map_buffers(4);
        std::fprintf(stderr, "mapped %.0f MiB\n", mapped / (1 << 20));
        // 4 buffers and 3 more threads' heaps (64 MiB each); 3 buffers
        // and the heaps are 576 MiB.
        std::_Exit(mapped >= 4 * blas::kBufferBytes + 3 * double(64 << 20) ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "mapped");
}
