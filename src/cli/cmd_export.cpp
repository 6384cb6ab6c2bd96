// `distclust export`: features.h5 + scan.h5|kmeans.h5 -> assignments.csv and
// per-cluster folders of links (or copies) to the images.
#include "cli/commands.h"
#include "cli/context.h"
#include "export/export.h"

namespace distclust::cli {

void add_export_command(CLI::App& app) {
  static CommandLine cl;
  static ExportParams defaults;
  auto* cmd = app.add_subcommand(
      "export", "assignments.csv (row,path,cluster,confidence,label) and clusters/cluster_XXXX/ folders of links");
  add_common(cmd, cl);
  cl.flags.add(cmd, "export", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "export", {"runtime", "export"});
    ExportParams p;
    resolve(ctx, cl, "export", p);
    run_export(p, *ctx.comm);
  });
}

}  // namespace distclust::cli
