// The one place distclust talks to OpenBLAS: single-threaded sgemm for the
// tiled kernels, what the loaded library is, and a numerical self-check.
//
// Why single-threaded: distclust's kernels split work over their own OpenMP
// threads in fixed tiles (gemm.h, search.h). OpenBLAS threading inside a call
// would split a tile in a way that depends on its own thread count and on
// the kernel it selected at load (OPENBLAS_CORETYPE), and the result of an
// element could then depend on how many threads ran.
#pragma once

#include <cstdint>
#include <string>

namespace distclust::blas {

/// Makes OpenBLAS run each call on the calling thread (cheap after the first
/// call; kernels call it on entry).
void single_thread();

/// C [m x n] = alpha op(A) op(B) + beta C, row-major, one single-threaded
/// OpenBLAS call. ta: A is [k x m] (else [m x k]); tb: B is [n x k] (else [k x n]).
void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// What is loaded: e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64, core Zen,
/// library /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0".
std::string describe();
/// The core type OpenBLAS selected (openblas_get_corename), e.g. "Zen", "SkylakeX".
std::string core_name();

/// Result of check_sgemm().
struct Check {
  bool ok = false;
  double max_error = 0;  ///< largest |C - C_ref| / (sum_t |a_it b_tj|) over the checked shapes
  std::string detail;    ///< the shape and element of the largest error
};
/// A small sgemm (a few shapes and transposes, odd sizes, ~1 ms) against a
/// double-precision reference: whether the loaded kernels compute correctly.
/// `perturb` (tests only) adds 1 to one element of the result first.
Check check_sgemm(bool perturb = false);

}  // namespace distclust::blas
