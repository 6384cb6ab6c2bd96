// `distclust bench kmeans`: seconds per Lloyd iteration, GFLOP/s (2*N*K*D per
// iteration) and the ratio to the machine's sgemm rate measured at the same
// shape in the same run; peak memory against the bytes of features+centroids.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "kernels/compute_target.h"
#include "cli/bench_output.h"
#include "core/json.h"
#include "cli/bench_params.h"
#include "io/text_file.h"
#include "cli/commands.h"
#include "cli/context.h"
#include "kernels/sgemm_rate.h"
#include "kernels/compute_env.h"
#include "kernels/rows.h"
#include "kmeans/kmeans.h"
#include "knn/knn.h"
#include "distclust/log.h"
#include "synth/synth_features.h"

namespace distclust {
namespace cli {

void add_bench_commands(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks against the machine's measured limits");
  bench->require_subcommand(1);
  static CommandLine cl;
  static BenchKMeansParams defaults;
  auto* km = bench->add_subcommand("kmeans", "Time k-means iterations; compare with the sgemm rate at the same shape");
  add_common(km, cl);
  cl.flags.add(km, "bench_kmeans", defaults);
  km->callback([] {
    Context ctx = make_context(cl, "bench_kmeans");
    BenchKMeansParams p;
    resolve(ctx, cl, "bench_kmeans", p);
    Communicator& comm = *ctx.comm;
    require_bench_json_path("kmeans", p.json, {p.features}, comm);
    FeatureBlock b;
    if (!p.features.empty()) {
      b = read_features(p.features, comm);
      check_finite(b, p.features, comm, p.spherical ? "" : "bench kmeans");  // as the stage does: a NaN row has no nearest anything
    } else {
      SynthFeaturesParams sp;
      sp.n = p.n, sp.d = p.d, sp.k = std::min(p.k, 100), sp.noise = 0.5, sp.seed = p.seed, sp.out = "-";
      b = synth_features(sp, comm.rank(), comm.size(), "bench_kmeans");
    }
    const int threads = compute_threads();
    KMeansParams kp;
    kp.k = p.k, kp.iters = p.iters, kp.tol = 0, kp.init = "random", kp.seed = p.seed, kp.spherical = p.spherical;
    kp.checkpoint = false;
    kp.tile_rows = p.tile_rows, kp.tile_k = p.tile_k;
    auto kernel = make_search({kp.tile_rows, kp.tile_k});
    KMeansResult r = kmeans(b, kp, comm, *kernel);
    // The default initialisation (k-means++ on a keyed sample), timed alone:
    // against a Lloyd iteration it says what seeding costs.
    double init_s = 0;
    if (p.init_seconds) {
      KMeansParams ip = kp;
      ip.init = "kmeans++";
      std::vector<float> norms(b.local_rows());
      row_norms(b.x.data(), b.local_rows(), b.d, norms.data());
      comm.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      kmeans_init(b, norms, ip, uint64_t(p.seed), comm, *kernel);
      init_s = comm.max(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> t = r.iter_seconds;
    std::sort(t.begin(), t.end());
    const double med = t[t.size() / 2], best = t.front();
    const double flops = 2.0 * double(b.n_total) * p.k * b.d;
    const double gf = flops / med / 1e9;
    // Peak memory of the k-means run itself, before the sgemm probe allocates.
    const int64_t rss = comm.max(peak_rss_bytes());
    double multi = 0, tiled = 0, limit = 0;
    // On a GPU the CPU's sgemm is not the limit (bench/gpu_limits.py
    // measures the GPU's): not measured there.
    const bool gpu = compute_target().gpu();
    if (p.sgemm && !gpu) {
      // Same shape per rank: this rank's rows (capped for memory) x K x D.
      int64_t m = std::min<int64_t>(b.local_rows(), 65536);
      limit = measured_sgemm_gflops(m, p.k, b.d, threads, 3, &multi, &tiled) * comm.size();
    }
    const double data_bytes = 4.0 * (double(b.n_total) * b.d + double(p.k) * b.d);
    std::string json = fmt(bench_json_head("kmeans"), ", \"n\": ", b.n_total, ", \"d\": ", b.d, ", \"k\": ", p.k,
                           ", \"ranks\": ", comm.size(), ", \"threads\": ", threads, ", \"sec_per_iter_median\": ", med,
                           ", \"sec_per_iter_best\": ", best, ", \"gflops\": ", gf,
                           ", \"sgemm_gflops\": ", limit, ", \"sgemm_multi_gflops\": ", multi * comm.size(),
                           ", \"sgemm_tiled_gflops\": ", tiled * comm.size(),
                           ", \"ratio_to_sgemm\": ", limit > 0 ? gf / limit : 0.0,
                           ", \"peak_rss_bytes\": ", rss, ", \"rss_over_data\": ", rss / data_bytes * comm.size(),
                           ", \"kmeanspp_init_seconds\": ", init_s, ", \"init_over_iteration\": ", init_s / med,
                           ", \"env\": ", json::quote(compute_env::summary()), "}");
    if (comm.rank() == 0) {
      std::printf("bench kmeans: N=%lld D=%lld K=%d, %d rank(s) x %d threads\n", (long long)b.n_total,
                  (long long)b.d, p.k, comm.size(), threads);
      std::printf("  %-28s %10.4f s/iter (best %.4f)  %8.1f GFLOP/s\n", "distclust Lloyd iteration", med, best, gf);
      if (limit > 0) {
        std::printf("  %-28s %10.4f s/iter            %8.1f GFLOP/s (multi-threaded %.1f, per-thread tiles %.1f)\n",
                    "sgemm limit, same K x D", flops / limit / 1e9, limit, multi * comm.size(), tiled * comm.size());
        std::printf("  ratio to sgemm limit: %.3f\n", gf / limit);
      } else if (gpu) {
        std::printf("  computing on %s: the CPU's sgemm is not this run's limit (bench/gpu_limits.py measures the "
                    "GPU's GEMM rates)\n", compute_target().device.c_str());
      }
      if (p.init_seconds)
        std::printf("  k-means++ initialisation     %10.4f s = %.2f Lloyd iterations\n", init_s, init_s / med);
      std::printf("  peak RSS %.1f MiB per rank (features+centroids %.1f MiB in all)\n", rss / 1048576.0,
                  data_bytes / 1048576.0);
      std::printf("  %s\nRESULT %s\n", compute_env::summary().c_str(), json.c_str());
      std::fflush(stdout);
      if (!p.json.empty()) write_text_file(p.json, json + "\n");
    }
  });

  static CommandLine kcl;
  static BenchKnnParams kdefaults;
  auto* kn = bench->add_subcommand("knn", "Time the exact kNN graph; compare with the sgemm rate at the kernel's shape");
  add_common(kn, kcl);
  kcl.flags.add(kn, "bench_knn", kdefaults);
  kn->callback([] {
    Context ctx = make_context(kcl, "bench_knn");
    BenchKnnParams p;
    resolve(ctx, kcl, "bench_knn", p);
    Communicator& comm = *ctx.comm;
    require_bench_json_path("knn", p.json, {p.features}, comm);
    FeatureBlock b;
    if (!p.features.empty()) {
      b = read_features(p.features, comm);
      check_finite(b, p.features, comm, p.metric == "l2" ? "bench knn" : "");  // as the stage does
    } else {
      SynthFeaturesParams sp;
      sp.n = p.n, sp.d = p.d, sp.k = 100, sp.noise = 1.0, sp.seed = p.seed, sp.out = "-";
      b = synth_features(sp, comm.rank(), comm.size(), "bench_knn");
    }
    KnnParams kp;
    kp.k = p.k, kp.metric = p.metric, kp.checkpoint = false;
    KnnGraph g = knn_exact(b, kp, comm);
    // Two rates: the full join's 2 N^2 D (what a search of every row against
    // every row costs, FAISS's work) and the products executed (the CPU
    // kernel multiplies each pair of rows once: D (N^2 + sum of tile^2)
    // on one rank; a kernel whose joins are two searches, every pair twice).
    const double flops = 2.0 * double(b.n_total) * double(b.n_total) * b.d;
    const double gf = flops / g.seconds_search / 1e9;
    const double done =
        comm.sum(knn_exact_flops(b.n_total, b.d, comm.size(), comm.rank(), kp.tile_rows, g.pairs_once));
    const double gf_done = done / g.seconds_search / 1e9;
    double multi = 0, tiled = 0;
    const int threads = compute_threads();
    // The kernel's shape: this rank's queries x a block tile x D. On a GPU
    // the CPU's sgemm is not the limit: none is measured (0 in the JSON).
    const bool gpu = compute_target().gpu();
    const double limit = gpu ? 0.0
                             : measured_sgemm_gflops(std::min<int64_t>(b.local_rows(), 32768), kp.tile_cols, b.d,
                                                     threads, 3, &multi, &tiled) * comm.size();
    const auto over = [&](double x) { return limit > 0 ? x / limit : 0.0; };
    std::string json = fmt(bench_json_head("knn"), ", \"n\": ", b.n_total, ", \"d\": ", b.d, ", \"k\": ", p.k,
                           ", \"ranks\": ", comm.size(), ", \"threads\": ", threads, ", \"seconds\": ", g.seconds_search, ", \"gflops\": ", gf,
                           ", \"sgemm_gflops\": ", limit, ", \"sgemm_limit_seconds\": ", over(flops / 1e9),
                           ", \"ratio_to_sgemm\": ", over(gf), ", \"executed_gflops\": ", gf_done,
                           ", \"executed_ratio_to_sgemm\": ", over(gf_done), ", \"env\": ", json::quote(compute_env::summary()), "}");
    if (comm.rank() == 0) {
      std::printf("bench knn (exact): N=%lld D=%lld k=%d %s, %d rank(s) x %d threads\n", (long long)b.n_total,
                  (long long)b.d, p.k, p.metric.c_str(), comm.size(), threads);
      std::printf("  %-26s %9.2f s  %8.1f GFLOP/s (2*N*N*D), %.1f GFLOP/s executed (%.3g of 2*N*N*D)\n",
                  "distclust knn exact", g.seconds_search, gf, gf_done, done / flops);
      if (gpu) {
        std::printf("  computing on %s: the CPU's sgemm is not this run's limit (bench/gpu_limits.py measures the "
                    "GPU's GEMM rates)\n", compute_target().device.c_str());
      } else {
        std::printf("  %-26s %9.2f s  %8.1f GFLOP/s (multi-threaded %.1f, per-thread tiles %.1f)\n",
                    "sgemm limit (OpenBLAS)", flops / limit / 1e9, limit, multi * comm.size(), tiled * comm.size());
        std::printf("  ratio to sgemm limit: %.3f (executed products: %.3f)\n", gf / limit, gf_done / limit);
      }
      std::printf("  %s\nRESULT %s\n", compute_env::summary().c_str(), json.c_str());
      std::fflush(stdout);
      if (!p.json.empty()) write_text_file(p.json, json + "\n");
    }
  });
}

}  // namespace cli
}  // namespace distclust
