#include "kernels/sgemm_rate.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "distclust/rng.h"

extern "C" void openblas_set_num_threads(int);

namespace distclust {

double measured_sgemm_gflops(int64_t m, int64_t n, int64_t k, int threads, int reps, double* multi, double* tiled) {
  // The rate, not the caller's whole product: at most ~256 MiB of operands
  // (m = 65536 rows against K = 20000 centroids was 5.2 GB, a bad_alloc
  // after the benchmark itself had run). At least one 512-row tile.
  const int64_t budget = int64_t(64) << 20;  // floats
  m = std::max<int64_t>(std::min<int64_t>(m, 512), std::min<int64_t>(m, (budget - n * k) / std::max<int64_t>(1, k + n)));
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(n * k)), c(static_cast<size_t>(m * n));
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(unit_double(mix64(i)) - 0.5);
  for (size_t i = 0; i < b.size(); ++i) b[i] = float(unit_double(mix64(i + 77)) - 0.5);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  auto secs = [](auto t0) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  double best_multi = 0, best_tiled = 0;
  openblas_set_num_threads(threads);
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(n), int(k), 1.0f, a.data(), int(k), b.data(),
                int(k), 0.0f, c.data(), int(n));
    best_multi = std::max(best_multi, flops / secs(t0) / 1e9);
  }
  openblas_set_num_threads(1);
  const int64_t tr = 512;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t r0 = 0; r0 < m; r0 += tr) {
      int64_t rn = std::min(tr, m - r0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rn), int(n), int(k), 1.0f, a.data() + r0 * k, int(k),
                  b.data(), int(k), 0.0f, c.data() + r0 * n, int(n));
    }
    best_tiled = std::max(best_tiled, flops / secs(t0) / 1e9);
  }
  if (multi) *multi = best_multi;
  if (tiled) *tiled = best_tiled;
  return std::max(best_multi, best_tiled);
}

int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}

}  // namespace distclust
