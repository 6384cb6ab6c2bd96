// `distclust bench kmeans` and `bench knn`: the commands (their bodies are
// in bench_kmeans.cpp and bench_knn.cpp; `bench extract` in
// cmd_bench_extract.cpp).
#include "cli/bench_runs.h"
#include "cli/commands.h"
#include "cli/context.h"

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
    Context ctx = make_context(cl, "bench_kmeans", /*uses_blas=*/true);
    BenchKMeansParams p;
    resolve(ctx, cl, "bench_kmeans", p);
    run_bench_kmeans(p, *ctx.comm);
  });

  static CommandLine kcl;
  static BenchKnnParams kdefaults;
  auto* kn = bench->add_subcommand("knn", "Time the exact kNN graph; compare with the sgemm rate at the kernel's shape");
  add_common(kn, kcl);
  kcl.flags.add(kn, "bench_knn", kdefaults);
  kn->callback([] {
    Context ctx = make_context(kcl, "bench_knn", /*uses_blas=*/true);
    BenchKnnParams p;
    resolve(ctx, kcl, "bench_knn", p);
    run_bench_knn(p, *ctx.comm);
  });
}

}  // namespace cli
}  // namespace distclust
