// Benchmark helpers: the machine's measured GEMM rate and process memory.
#pragma once

#include <cstdint>

namespace distclust {

/// Best sgemm rate (GFLOP/s) for C[m x n] = A[m x k] B[n x k]^T at this
/// shape: OpenBLAS multi-threaded on one call, and one single-threaded call
/// per thread on row tiles (the layout the assignment kernel uses); best of
/// `reps` runs of each. multi/tiled receive the two rates. m is capped so
/// that the operands stay within ~256 MiB (at least 512 rows): a rate needs
/// no more.
double measured_sgemm_gflops(int64_t m, int64_t n, int64_t k, int threads, int reps, double* multi,
                             double* tiled);

/// Peak resident memory of this process (VmHWM), bytes.
int64_t peak_rss_bytes();

}  // namespace distclust
