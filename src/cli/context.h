// What every subcommand shares: --config, --set, the runtime section, and the
// communicator built from it.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "cli/param_flags.h"
#include "distclust/comm.h"
#include "distclust/config.h"
#include "distclust/runtime.h"

namespace distclust::cli {

/// Command-line state of one subcommand.
struct CommandLine {
  std::string config_path;
  std::vector<std::string> sets;
  RuntimeParams runtime;
  ParamFlags flags;
  /// `distclust env`: a malformed thread variable is reported, not refused
  /// (configure_threads' report_bad_env). false: every other command.
  bool report_bad_env = false;
};

/// Adds --config, --set and the runtime flags (--comm, --threads, --log-dir).
void add_common(CLI::App* app, CommandLine& cl);

/// Everything a subcommand runs with.
struct Context {
  Config config;
  RuntimeParams runtime;
  std::unique_ptr<Communicator> comm;
  ResolvedConfig resolved;
};

/// Loads the config (any known section may be in it: one config file
/// serves every command), applies runtime settings, builds the
/// communicator, sets threads, logs the environment. default_section: where
/// bare --set keys go. uses_blas: the command calls OpenBLAS (under ulimit -v
/// its buffers are mapped now, or refused by name; StageDef::uses_blas).
Context make_context(CommandLine& cl, const std::string& default_section, bool uses_blas);

/// YAML + flags + --set applied to params, validated, recorded in resolved.
template <class P>
void resolve(Context& ctx, CommandLine& cl, const std::string& section, P& params) {
  ctx.config.apply_yaml(section, params);
  cl.flags.apply(section, params);
  ctx.config.apply_overrides(section, params);
  params.validate();
  ctx.resolved.add(section, params);
}

/// All section names any subcommand knows: runtime, run, the stage table's
/// stages, and the sections of the commands that are not stages.
const std::vector<std::string>& all_sections();

}  // namespace distclust::cli
