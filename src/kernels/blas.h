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

/// OpenBLAS's work buffer per concurrent call: BUFFER_SIZE on x86_64
/// (common_x86_64.h: 32 << 22 bytes), mapped when a call first takes a free
/// memory slot and kept for the life of the process (seen in gdb: mmap of
/// 134217728 bytes inside blas_memory_alloc).
constexpr double kBufferBytes = double(32 << 22);

/// Address space a compute thread besides the main one needs when it first
/// allocates: glibc's malloc arena, a 64 MiB heap that is mapped as 128 MiB
/// to align it before half is returned (its stack, 8 MiB, is mapped when
/// OpenMP starts the thread, which may be before the check). Measured:
/// map_buffers(2) mapped 328 MiB (2 x 128 + 72), and it stalled with 311
/// MiB left but not with 407 MiB.
constexpr double kThreadBytes = double(136 << 20);

/// The address space map_buffers(threads) needs left.
inline double buffers_need(int threads) { return threads * kBufferBytes + (threads - 1) * kThreadBytes; }

/// Makes OpenBLAS map the buffers of `threads` concurrent calls now: one
/// sgemm on each of `threads` OpenMP threads at once. Under an address-space
/// limit (ulimit -v) OpenBLAS retries a buffer that does not fit for ever,
/// a job that stalls; mapped at the start, before the data, they fit or the
/// caller's check has said they do not. Returns the bytes this mapped.
double map_buffers(int threads);

}  // namespace distclust::blas
