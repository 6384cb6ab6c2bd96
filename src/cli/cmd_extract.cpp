// `distclust extract`: images -> features.h5 (TorchScript or pixels backbone).
#include "cli/commands.h"
#include "cli/context.h"
#include "extract/backbone.h"
#include "extract/extract.h"
#include "distclust/log.h"

namespace distclust::cli {

void add_extract_command(CLI::App& app) {
  static CommandLine cl;
  static ExtractParams defaults;
  auto* cmd = app.add_subcommand(
      "extract",
      "Images -> features.h5: a TorchScript backbone (+ JSON sidecar) or 'pixels' (+ optional PCA), sharded by rank");
  add_common(cmd, cl);
  cl.flags.add(cmd, "extract", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "extract", {"runtime", "extract"});
    ExtractParams p;
    resolve(ctx, cl, "extract", p);
    run_extract(p, *ctx.comm, load_torchscript_backbone, ctx.resolved.yaml());
  });
}

}  // namespace distclust::cli
