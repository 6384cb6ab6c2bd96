#include "cli/bench_output.h"

#include <cstdio>
#include <filesystem>

#include "comm/root.h"
#include "distclust/error.h"
#include "io/replace_rule.h"
#include "io/text_file.h"
#include "kernels/compute_env.h"

namespace fs = std::filesystem;

namespace distclust::cli {

std::string bench_json_head(const std::string& bench) { return "{\"bench\": \"" + bench + "\""; }

void require_bench_json_path(const std::string& bench, const std::string& path,
                             const std::vector<std::string>& inputs, Communicator& comm) {
  if (path.empty()) return;
  run_on_root(comm, "bench " + bench + " --json check", [&] {
    const std::string what = "bench " + bench + ": --json " + path;
    std::error_code ec;
    const fs::path parent = fs::path(path).parent_path();
    require(parent.empty() || fs::is_directory(parent, ec), what, ": the folder ", parent.string(),
            " does not exist");
    // The same file by name (an output not yet written) or by identity (links).
    const fs::path self = fs::weakly_canonical(path, ec);
    for (const std::string& in : inputs) {
      if (in.empty()) continue;
      std::error_code e1, e2;
      // (A path that cannot be resolved is empty: it names nothing, and two
      // such must not compare equal.)
      const fs::path other = fs::weakly_canonical(in, e1);
      const bool same = (!self.empty() && other == self) || (fs::exists(in, e2) && fs::equivalent(in, path, e2));
      require(!same, what, " is also a file the benchmark reads or writes (", in, "): choose another name");
    }
    const fs::file_status st = fs::symlink_status(path, ec);
    if (!fs::exists(st)) return;
    require(!fs::is_directory(fs::status(path, ec)), what, " is a directory (expected a file name such as bench.json)");
    // Results of versions before the head: {"n": (kmeans, knn), {"images": (extract).
    const std::string old_head = bench == "extract" ? "{\"images\": " : "{\"n\": ";
    require(file_starts_with(path, bench_json_head(bench)) || file_starts_with(path, old_head), what, " exists and is not a bench ",
            bench, " result distclust wrote: remove it or choose another name");
  });
}

void print_bench_result(const std::string& json, const std::string& path) {
  std::printf("  %s\nRESULT %s\n", compute_env::summary().c_str(), json.c_str());
  std::fflush(stdout);
  if (!path.empty()) write_text_file(path, json + "\n");
}

}  // namespace distclust::cli
