// `distclust knn`: features.h5 -> knn.h5 (global kNN graph).
#include "cli/commands.h"
#include "cli/context.h"
#include "pipeline/stages.h"

namespace distclust::cli {

void add_knn_command(CLI::App& app) {
  static CommandLine cl;
  static KnnParams defaults;
  auto* cmd = app.add_subcommand("knn", "Global k-nearest-neighbour graph across ranks -> knn.h5");
  add_common(cmd, cl);
  cl.flags.add(cmd, "knn", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "knn", {"runtime", "knn"});
    KnnParams p;
    resolve(ctx, cl, "knn", p);
    run_knn_stage(p, *ctx.comm, {ctx.resolved.yaml(), ctx.resolved.hash("knn")});
  });
}

}  // namespace distclust::cli
