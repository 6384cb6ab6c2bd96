#include "kernels/blas.h"

#include <cblas.h>
#include <dlfcn.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "distclust/error.h"
#include "distclust/runtime.h"

extern "C" {
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace distclust::blas {

void single_thread() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // no products: C = beta C (BLAS leaves this case to the implementation)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0 ? 0.f : beta * c[i * ldc + j];
    return;
  }
  require(m < INT32_MAX && n < INT32_MAX && k < INT32_MAX && lda < INT32_MAX && ldb < INT32_MAX && ldc < INT32_MAX,
          "sgemm: ", m, " x ", n, " x ", k, " exceeds the 32-bit sizes BLAS takes");
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

std::string core_name() {
  const char* c = openblas_get_corename();
  return c ? c : "unknown";
}

std::string describe() {
  std::string lib = "?";
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&cblas_sgemm), &info) && info.dli_fname) lib = info.dli_fname;
  const char* cfg = openblas_get_config();
  return fmt(cfg ? cfg : "OpenBLAS", ", core ", core_name(), ", library ", lib);
}

double map_buffers(int threads) {
  const double before = mapped_bytes();
  threads = std::max(1, threads);
  // 1024^3 (~30 ms a thread): past OpenBLAS's small-matrix path (which takes
  // no buffer) and long enough that the threads, released by one barrier,
  // hold their slots at the same time. 256^3 (0.3 ms) did not overlap
  // reliably: 1 run in 6 mapped one buffer of two, and a job that passed
  // the check stalled later. Again (up to 3 times) while short of a buffer
  // a thread and the other threads' heaps (64 MiB each; their stacks may
  // predate this): a second call maps only the slots still missing.
  constexpr int kSide = 1024;
  const double want = threads * kBufferBytes + (threads - 1) * double(64 << 20);
  for (int attempt = 0; attempt < 3 && mapped_bytes() - before < want; ++attempt) {
#pragma omp parallel num_threads(threads)
    {
      single_thread();
      std::vector<float> a(size_t(kSide) * kSide, 1.0f), c(size_t(kSide) * kSide);
#pragma omp barrier
      sgemm(false, true, kSide, kSide, kSide, 1.0f, a.data(), kSide, a.data(), kSide, 0.0f, c.data(), kSide);
    }
  }
  return mapped_bytes() - before;
}

Check check_sgemm(bool perturb) {
  // Shapes that reach the kernels' edge paths (odd sizes) and a full block,
  // in the transposes distclust uses (NT: search, NN/TN: SCAN heads).
  struct Shape { bool ta, tb; int m, n, k; };
  const Shape shapes[] = {{false, true, 67, 45, 33}, {false, false, 96, 96, 96}, {true, false, 40, 72, 129},
                          {false, true, 5, 300, 64}};
  Check out;
  out.ok = true;
  uint64_t s = 0x243F6A8885A308D3ull;
  auto next = [&s] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return float(int64_t(s >> 40) - (int64_t(1) << 23)) / float(1 << 23);  // [-1, 1)
  };
  bool perturbed = false;
  for (const Shape& sh : shapes) {
    std::vector<float> a(size_t(sh.m) * sh.k), b(size_t(sh.k) * sh.n), c(size_t(sh.m) * sh.n);
    for (auto& v : a) v = next();
    for (auto& v : b) v = next();
    const int lda = sh.ta ? sh.m : sh.k, ldb = sh.tb ? sh.k : sh.n;
    sgemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(), sh.n);
    if (perturb && !perturbed) c[0] += 1.f, perturbed = true;
    for (int i = 0; i < sh.m; ++i)
      for (int j = 0; j < sh.n; ++j) {
        double ref = 0, mag = 0;
        for (int t = 0; t < sh.k; ++t) {
          const double x = sh.ta ? a[size_t(t) * lda + i] : a[size_t(i) * lda + t];
          const double y = sh.tb ? b[size_t(j) * ldb + t] : b[size_t(t) * ldb + j];
          ref += x * y;
          mag += std::fabs(x * y);
        }
        const double err = std::fabs(double(c[size_t(i) * sh.n + j]) - ref) / std::max(mag, 1e-30);
        if (err > out.max_error) {
          out.max_error = err;
          out.detail = fmt(sh.ta ? "T" : "N", sh.tb ? "T" : "N", " ", sh.m, "x", sh.n, "x", sh.k, " element (", i,
                           ",", j, "): ", c[size_t(i) * sh.n + j], " vs ", ref);
        }
      }
  }
  // float32 products summed in any order: relative error ~k * 2^-24 of the
  // magnitude sum at worst (k <= 129 here: ~8e-6); a wrong kernel is off by O(1).
  out.ok = out.max_error < 1e-4;
  return out;
}

}  // namespace distclust::blas
