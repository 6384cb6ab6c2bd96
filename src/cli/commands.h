// Subcommand registration: each adds itself to the top-level app.
#pragma once
#include <CLI/CLI.hpp>

namespace distclust::cli {

void add_synth_commands(CLI::App& app);
void add_kmeans_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_knn_command(CLI::App& app);
void add_bench_commands(CLI::App& app);
void add_scan_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_extract_command(CLI::App& app);
/// Adds `bench extract` under the `bench` subcommand (call after add_bench_commands).
void add_bench_extract_command(CLI::App& app);
void add_run_command(CLI::App& app);
/// `distclust config`: the config reference from the params structs.
void add_config_command(CLI::App& app);
/// `distclust env`: the BLAS/OpenMP environment as distclust runs it.
void add_env_command(CLI::App& app);

}  // namespace distclust::cli
