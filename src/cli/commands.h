// Registration of the subcommands that are not stages (the stages' come
// from the stage table: cli/stage_command.h).
#pragma once
#include <CLI/CLI.hpp>

namespace distclust::cli {

void add_synth_commands(CLI::App& app);
void add_bench_commands(CLI::App& app);
/// Adds `bench extract` under the `bench` subcommand (call after add_bench_commands).
void add_bench_extract_command(CLI::App& app);
void add_run_command(CLI::App& app);
/// `distclust config`: the config reference from the params structs.
void add_config_command(CLI::App& app);
/// `distclust env`: the BLAS/OpenMP environment as distclust runs it.
void add_env_command(CLI::App& app);

}  // namespace distclust::cli
