// "Did you mean": a mistyped subcommand (kmean) or flag (--iter) answered
// with the nearest known name, instead of CLI11's "A subcommand is required"
// or "The following arguments were not expected".
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace distclust::cli {

/// Edit distance (insertions, deletions, substitutions, adjacent swaps).
int edit_distance(const std::string& a, const std::string& b);

/// The candidate nearest to `word` when it is close enough to be a typo
/// (distance <= max(2, |word| / 3), or word is a prefix of exactly one),
/// else "".
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

/// For argv that failed to parse: "unknown subcommand 'kmean'; did you mean
/// 'kmeans'?" or "unknown option '--iter' for 'kmeans'; did you mean
/// '--iters'?", naming the first unknown word; "" when none is found.
std::string unknown_argument_hint(CLI::App& app, int argc, char** argv);

}  // namespace distclust::cli
