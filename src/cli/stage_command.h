// The subcommand of a stage, made from its StageDef (core/stage.h): flags
// from its params struct, --config/--set, and a callback that resolves the
// params, computes the stage's config hash and runs it, exactly as
// `distclust run` does.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "core/stage.h"
#include "pipeline/stage_config.h"

namespace distclust::cli {

/// The subcommand at path `names` under app, made if missing.
CLI::App* subcommand_path(CLI::App& app, const std::vector<std::string>& names, const std::string& help);

template <class P>
void add_stage_command(CLI::App& app, const StageDef<P>& def) {
  // One command line per stage (P differs between stages).
  static CommandLine cl;
  static P defaults;
  CLI::App* cmd = subcommand_path(app, def.command, def.help);
  add_common(cmd, cl);
  cl.flags.add(cmd, def.name, defaults);
  cmd->callback([&def] {
    Context ctx = make_context(cl, def.name, def.uses_blas);
    P p;
    resolve(ctx, cl, def.name, p);
    run_stage(def, p, *ctx.comm, stage_config(def, p, *ctx.comm));
  });
}

}  // namespace distclust::cli
