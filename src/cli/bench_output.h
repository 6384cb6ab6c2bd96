// Where `distclust bench kmeans|knn|extract --json FILE` may write, and
// the RESULT line they end with. Checked
// before the benchmark runs: --json once replaced the bench's own features
// file (or its model) with 400 bytes of JSON after the whole run, and a
// missing folder was found only at the end.
#pragma once

#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust::cli {

/// The start of every bench JSON distclust writes: {"bench": "NAME", ...
/// (how the rule below knows a file as one of its results).
std::string bench_json_head(const std::string& bench);

/// Throws, naming `path`, when it is a directory, its folder does not exist,
/// it is one of `inputs` (the same file; "" ignored), or it exists and is not
/// a bench result distclust wrote (it does not start with bench_json_head).
/// Rank 0 checks; collective. "" passes (no --json).
void require_bench_json_path(const std::string& bench, const std::string& path,
                             const std::vector<std::string>& inputs, Communicator& comm);

/// Rank 0's last lines of every bench: the compute environment, then
/// `RESULT {json}` (what scripts grep), and the JSON to `path` when given.
void print_bench_result(const std::string& json, const std::string& path);

}  // namespace distclust::cli
