// `distclust kmeans`: features.h5 -> kmeans.h5.
#include "cli/commands.h"
#include "cli/context.h"
#include "pipeline/stages.h"

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
    run_kmeans_stage(p, *ctx.comm, {ctx.resolved.yaml(), ctx.resolved.hash("kmeans")});
  });
}

}  // namespace distclust::cli
