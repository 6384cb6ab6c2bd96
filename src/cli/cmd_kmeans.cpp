// `distclust kmeans`: features.h5 -> kmeans.h5.
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/context.h"
#include "distclust/kmeans.h"
#include "distclust/log.h"

namespace distclust::cli {

void add_kmeans_command(CLI::App& app) {
  static CommandLine cl;
  static KMeansParams defaults;
  auto* cmd = app.add_subcommand("kmeans", "Distributed k-means on a features file -> kmeans.h5");
  add_common(cmd, cl);
  cl.flags.add(cmd, "kmeans", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "kmeans", {"runtime", "kmeans"});
    KMeansParams p;
    resolve(ctx, cl, "kmeans", p);
    require(!p.features.empty(), "kmeans: no input given (--features features.h5)");
    auto t0 = std::chrono::steady_clock::now();
    Communicator& comm = *ctx.comm;
    FeatureBlock b = read_features(p.features, comm);
    check_finite(b, p.features, comm);
    log::info("kmeans: ", p.features, ": ", b.n_total, " x ", b.d, ", k=", p.k, ", ", comm.size(), " ranks x ",
              compute_threads(), " threads");
    auto assigner = make_cpu_assigner({p.tile_rows, p.tile_k});
    std::string ckpt = p.checkpoint ? p.out + ".ckpt" : "";
    KMeansResult r = kmeans(b, p, comm, *assigner, ckpt, ctx.resolved.hash("kmeans"));
    write_kmeans(p.out, comm, b, r, ctx.resolved.yaml(), ctx.resolved.hash("kmeans"));
    if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
    std::vector<int64_t> sizes(p.k, 0);
    for (auto a : r.assign)
      if (a >= 0) ++sizes[a];
    comm.allreduce_sum(sizes.data(), sizes.size());
    auto [mn, mx] = std::minmax_element(sizes.begin(), sizes.end());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log::info("kmeans: wrote ", p.out, ": inertia ", r.final_inertia, " after ", r.iterations, " iterations (restart ",
              r.best_restart, "), cluster sizes ", *mn, "..", *mx, ", ", r.empty_splits, " empty-cluster splits, ",
              secs, " s");
  });
}

}  // namespace distclust::cli
