// Subcommand registration: each adds itself to the top-level app.
#pragma once
#include <CLI/CLI.hpp>

namespace distclust::cli {

void add_synth_commands(CLI::App& app);
void add_kmeans_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_knn_command(CLI::App& app);
void add_bench_commands(CLI::App& app);

}  // namespace distclust::cli
