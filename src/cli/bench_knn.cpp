// `distclust bench knn`: the exact kNN graph's search time, as GFLOP/s of the
// full join (2*N*N*D, FAISS's work) and of the products executed, against
// the machine's sgemm rate at the kernel's tile shape, measured in the same run.
#include <algorithm>
#include <cstdio>

#include "cli/bench_output.h"
#include "cli/bench_runs.h"
#include "core/json.h"
#include "distclust/log.h"
#include "kernels/compute_env.h"
#include "kernels/compute_target.h"
#include "kernels/sgemm_rate.h"
#include "knn/knn.h"
#include "synth/synth_features.h"

namespace distclust::cli {
namespace {

/// What one run measured (rates are the job's: summed over ranks).
struct Figures {
  int64_t n = 0, d = 0;
  int k = 0, ranks = 1, threads = 1;
  std::string metric;
  double seconds = 0;             ///< the search (the graph's build less I/O)
  double flops = 0, gf = 0;       ///< 2*N*N*D and its rate
  double done = 0, gf_done = 0;   ///< products executed and their rate
  double limit = 0, multi = 0, tiled = 0;  ///< sgemm GFLOP/s (0 on a GPU: not measured)
  bool gpu = false;
  double over(double x) const { return limit > 0 ? x / limit : 0.0; }
};

FeatureBlock bench_input(const BenchKnnParams& p, Communicator& comm) {
  if (!p.features.empty()) {
    FeatureBlock b = read_features(p.features, comm);
    check_finite(b, p.features, comm, p.metric == "l2" ? "bench knn" : "");  // as the stage does
    return b;
  }
  SynthFeaturesParams sp;
  sp.n = p.n, sp.d = p.d, sp.k = 100, sp.noise = 1.0, sp.seed = p.seed, sp.out = "-";
  return synth_features(sp, comm.rank(), comm.size(), "bench_knn");
}

Figures measure(const BenchKnnParams& p, Communicator& comm) {
  FeatureBlock b = bench_input(p, comm);
  Figures f;
  f.n = b.n_total, f.d = b.d, f.k = p.k, f.ranks = comm.size(), f.threads = compute_threads(), f.metric = p.metric;
  KnnParams kp;
  kp.k = p.k, kp.metric = p.metric, kp.checkpoint = false;
  KnnGraph g = knn_exact(b, kp, comm);
  // Two rates: the full join's 2 N^2 D (what a search of every row against
  // every row costs, FAISS's work) and the products executed (the CPU
  // kernel multiplies each pair of rows once: D (N^2 + sum of tile^2)
  // on one rank; a kernel whose joins are two searches, every pair twice).
  f.seconds = g.seconds_search;
  f.flops = 2.0 * double(b.n_total) * double(b.n_total) * b.d;
  f.gf = f.flops / f.seconds / 1e9;
  f.done = comm.sum(knn_exact_flops(b.n_total, b.d, comm.size(), comm.rank(), kp.tile_rows, g.pairs_once));
  f.gf_done = f.done / f.seconds / 1e9;
  // The kernel's shape: this rank's queries x a block tile x D. On a GPU
  // the CPU's sgemm is not the limit: none is measured (0 in the JSON).
  f.gpu = compute_target().gpu();
  if (!f.gpu) {
    f.limit = measured_sgemm_gflops(std::min<int64_t>(b.local_rows(), 32768), kp.tile_cols, b.d, f.threads, 3,
                                    &f.multi, &f.tiled) * comm.size();
    f.multi *= comm.size(), f.tiled *= comm.size();
  }
  return f;
}

std::string json_of(const Figures& f) {
  return fmt(bench_json_head("knn"), ", \"n\": ", f.n, ", \"d\": ", f.d, ", \"k\": ", f.k, ", \"ranks\": ", f.ranks,
             ", \"threads\": ", f.threads, ", \"seconds\": ", f.seconds, ", \"gflops\": ", f.gf,
             ", \"sgemm_gflops\": ", f.limit, ", \"sgemm_limit_seconds\": ", f.over(f.flops / 1e9),
             ", \"ratio_to_sgemm\": ", f.over(f.gf), ", \"executed_gflops\": ", f.gf_done,
             ", \"executed_ratio_to_sgemm\": ", f.over(f.gf_done), ", \"env\": ", json::quote(compute_env::summary()),
             "}");
}

void print(const Figures& f) {
  std::printf("bench knn (exact): N=%lld D=%lld k=%d %s, %d rank(s) x %d threads\n", (long long)f.n, (long long)f.d,
              f.k, f.metric.c_str(), f.ranks, f.threads);
  std::printf("  %-26s %9.2f s  %8.1f GFLOP/s (2*N*N*D), %.1f GFLOP/s executed (%.3g of 2*N*N*D)\n",
              "distclust knn exact", f.seconds, f.gf, f.gf_done, f.done / f.flops);
  if (f.gpu) {
    std::printf("  computing on %s: the CPU's sgemm is not this run's limit (bench/gpu_limits.py measures the "
                "GPU's GEMM rates)\n", compute_target().device.c_str());
    return;
  }
  std::printf("  %-26s %9.2f s  %8.1f GFLOP/s (multi-threaded %.1f, per-thread tiles %.1f)\n",
              "sgemm limit (OpenBLAS)", f.flops / f.limit / 1e9, f.limit, f.multi, f.tiled);
  std::printf("  ratio to sgemm limit: %.3f (executed products: %.3f)\n", f.gf / f.limit, f.gf_done / f.limit);
}

}  // namespace

void run_bench_knn(const BenchKnnParams& p, Communicator& comm) {
  require_bench_json_path("knn", p.json, {p.features}, comm);
  const Figures f = measure(p, comm);
  if (comm.rank() != 0) return;
  const std::string json = json_of(f);
  print(f);
  print_bench_result(json, p.json);
}

}  // namespace distclust::cli
