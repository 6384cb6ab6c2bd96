// `distclust bench kmeans`: seconds per Lloyd iteration, GFLOP/s (2*N*K*D per
// iteration) and the ratio to the machine's sgemm rate measured at the same
// shape in the same run; peak memory against the bytes of features+centroids.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/bench_output.h"
#include "cli/bench_runs.h"
#include "core/json.h"
#include "distclust/log.h"
#include "kernels/compute_env.h"
#include "kernels/compute_target.h"
#include "kernels/rows.h"
#include "kernels/sgemm_rate.h"
#include "kmeans/kmeans.h"
#include "synth/synth_features.h"

namespace distclust::cli {
namespace {

/// What one run measured (sums over ranks where the rate is the job's).
struct Figures {
  int64_t n = 0, d = 0;
  int k = 0, ranks = 1, threads = 1;
  double med = 0, best = 0;         ///< seconds per Lloyd iteration
  double flops = 0, gf = 0;         ///< 2*N*K*D per iteration, and its rate
  double limit = 0, multi = 0, tiled = 0;  ///< sgemm GFLOP/s (0: not measured)
  double init_s = 0;                ///< k-means++ seeding alone (0: not timed)
  int64_t rss = 0;                  ///< peak RSS of the k-means run, the most of any rank
  double data_bytes = 0;            ///< features + centroids, all ranks
  bool gpu = false;
};

FeatureBlock bench_input(const BenchKMeansParams& p, Communicator& comm) {
  if (!p.features.empty()) {
    FeatureBlock b = read_features(p.features, comm);
    check_finite(b, p.features, comm, p.spherical ? "" : "bench kmeans");  // as the stage does: a NaN row has no nearest anything
    return b;
  }
  SynthFeaturesParams sp;
  sp.n = p.n, sp.d = p.d, sp.k = std::min(p.k, 100), sp.noise = 0.5, sp.seed = p.seed, sp.out = "-";
  return synth_features(sp, comm.rank(), comm.size(), "bench_kmeans");
}

/// The default initialisation (k-means++ on a keyed sample), timed alone:
/// against a Lloyd iteration it says what seeding costs.
double time_kmeanspp(const FeatureBlock& b, KMeansParams kp, int64_t seed, Communicator& comm, SearchKernel& kernel) {
  kp.init = "kmeans++";
  std::vector<float> norms(b.local_rows());
  row_norms(b.x.data(), b.local_rows(), b.d, norms.data());
  comm.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  kmeans_init(b, norms, kp, uint64_t(seed), comm, kernel);
  return comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

Figures measure(const BenchKMeansParams& p, Communicator& comm) {
  FeatureBlock b = bench_input(p, comm);
  Figures f;
  f.n = b.n_total, f.d = b.d, f.k = p.k, f.ranks = comm.size(), f.threads = compute_threads();
  KMeansParams kp;
  kp.k = p.k, kp.iters = p.iters, kp.tol = 0, kp.init = "random", kp.seed = p.seed, kp.spherical = p.spherical;
  kp.checkpoint = false;
  kp.tile_rows = p.tile_rows, kp.tile_k = p.tile_k;
  auto kernel = make_search({kp.tile_rows, kp.tile_k});
  KMeansResult r = kmeans(b, kp, comm, *kernel);
  if (p.init_seconds) f.init_s = time_kmeanspp(b, kp, p.seed, comm, *kernel);
  std::vector<double> t = r.iter_seconds;
  std::sort(t.begin(), t.end());
  f.med = t[t.size() / 2], f.best = t.front();
  f.flops = 2.0 * double(b.n_total) * p.k * b.d;
  f.gf = f.flops / f.med / 1e9;
  // Peak memory of the k-means run itself, before the sgemm probe allocates.
  f.rss = comm.max(peak_rss_bytes());
  // On a GPU the CPU's sgemm is not the limit (bench/gpu_limits.py
  // measures the GPU's): not measured there.
  f.gpu = compute_target().gpu();
  if (p.sgemm && !f.gpu) {
    // Same shape per rank: this rank's rows (capped for memory) x K x D.
    const int64_t m = std::min<int64_t>(b.local_rows(), 65536);
    f.limit = measured_sgemm_gflops(m, p.k, b.d, f.threads, 3, &f.multi, &f.tiled) * comm.size();
    f.multi *= comm.size(), f.tiled *= comm.size();
  }
  f.data_bytes = 4.0 * (double(b.n_total) * b.d + double(p.k) * b.d);
  return f;
}

std::string json_of(const Figures& f) {
  return fmt(bench_json_head("kmeans"), ", \"n\": ", f.n, ", \"d\": ", f.d, ", \"k\": ", f.k, ", \"ranks\": ", f.ranks,
             ", \"threads\": ", f.threads, ", \"sec_per_iter_median\": ", f.med, ", \"sec_per_iter_best\": ", f.best,
             ", \"gflops\": ", f.gf, ", \"sgemm_gflops\": ", f.limit, ", \"sgemm_multi_gflops\": ", f.multi,
             ", \"sgemm_tiled_gflops\": ", f.tiled, ", \"ratio_to_sgemm\": ", f.limit > 0 ? f.gf / f.limit : 0.0,
             ", \"peak_rss_bytes\": ", f.rss, ", \"rss_over_data\": ", f.rss / f.data_bytes * f.ranks,
             ", \"kmeanspp_init_seconds\": ", f.init_s, ", \"init_over_iteration\": ", f.init_s / f.med,
             ", \"env\": ", json::quote(compute_env::summary()), "}");
}

void print(const Figures& f, bool init_timed) {
  std::printf("bench kmeans: N=%lld D=%lld K=%d, %d rank(s) x %d threads\n", (long long)f.n, (long long)f.d, f.k,
              f.ranks, f.threads);
  std::printf("  %-28s %10.4f s/iter (best %.4f)  %8.1f GFLOP/s\n", "distclust Lloyd iteration", f.med, f.best, f.gf);
  if (f.limit > 0) {
    std::printf("  %-28s %10.4f s/iter            %8.1f GFLOP/s (multi-threaded %.1f, per-thread tiles %.1f)\n",
                "sgemm limit, same K x D", f.flops / f.limit / 1e9, f.limit, f.multi, f.tiled);
    std::printf("  ratio to sgemm limit: %.3f\n", f.gf / f.limit);
  } else if (f.gpu) {
    std::printf("  computing on %s: the CPU's sgemm is not this run's limit (bench/gpu_limits.py measures the "
                "GPU's GEMM rates)\n", compute_target().device.c_str());
  }
  if (init_timed)
    std::printf("  k-means++ initialisation     %10.4f s = %.2f Lloyd iterations\n", f.init_s, f.init_s / f.med);
  std::printf("  peak RSS %.1f MiB per rank (features+centroids %.1f MiB in all)\n", f.rss / 1048576.0,
              f.data_bytes / 1048576.0);
}

}  // namespace

void run_bench_kmeans(const BenchKMeansParams& p, Communicator& comm) {
  require_bench_json_path("kmeans", p.json, {p.features}, comm);
  const Figures f = measure(p, comm);
  if (comm.rank() != 0) return;
  const std::string json = json_of(f);
  print(f, p.init_seconds);
  print_bench_result(json, p.json);
}

}  // namespace distclust::cli
