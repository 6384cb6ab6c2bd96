// `distclust report`: features.h5 + scan.h5|kmeans.h5 -> an HTML report folder.
#include "cli/commands.h"
#include "cli/context.h"
#include "report/report.h"

namespace distclust::cli {

void add_report_command(CLI::App& app) {
  static CommandLine cl;
  static ReportParams defaults;
  auto* cmd = app.add_subcommand(
      "report", "Static HTML report (galleries, sizes, metrics, confusion matrix, curves) that opens offline");
  add_common(cmd, cl);
  cl.flags.add(cmd, "report", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "report", {"runtime", "report"});
    ReportParams p;
    resolve(ctx, cl, "report", p);
    run_report(p, *ctx.comm);
  });
}

}  // namespace distclust::cli
