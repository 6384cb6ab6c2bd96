// `distclust eval`: ACC / NMI / ARI of predictions against labels.
#include "cli/commands.h"
#include "cli/context.h"
#include "eval/eval.h"

namespace distclust::cli {

void add_eval_command(CLI::App& app) {
  static CommandLine cl;
  static EvalParams defaults;
  auto* cmd = app.add_subcommand("eval", "Score predictions (ACC by Hungarian matching, NMI, ARI) against labels");
  add_common(cmd, cl);
  cl.flags.add(cmd, "eval", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "eval", {"runtime", "eval"});
    EvalParams p;
    resolve(ctx, cl, "eval", p);
    run_eval(p, *ctx.comm);
  });
}

}  // namespace distclust::cli
