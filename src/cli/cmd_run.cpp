// `distclust run`: the whole job from one config (pipeline/run.h).
#include "cli/commands.h"
#include "cli/context.h"
#include "pipeline/run.h"

namespace distclust::cli {

void add_run_command(CLI::App& app) {
  static CommandLine cl;
  static RunParams defaults;
  auto* cmd = app.add_subcommand("run", "The whole job from one config: extract -> kmeans -> knn -> scan -> eval -> report -> export");
  add_common(cmd, cl);
  cl.flags.add(cmd, "run", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "run");
    RunParams rp;
    resolve(ctx, cl, "run", rp);
    run_pipeline(rp, ctx.config, ctx.runtime, *ctx.comm);
  });
}

}  // namespace distclust::cli
