// `distclust scan`: features.h5 + knn.h5 -> scan.h5 (SCAN clustering heads).
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/context.h"
#include "distclust/log.h"
#include "scan/scan.h"

namespace distclust::cli {

void add_scan_command(CLI::App& app) {
  static CommandLine cl;
  static ScanParams defaults;
  auto* cmd = app.add_subcommand(
      "scan", "SCAN clustering heads on frozen features and their kNN graph (+ self-labelling) -> scan.h5");
  add_common(cmd, cl);
  cl.flags.add(cmd, "scan", defaults);
  cmd->callback([] {
    Context ctx = make_context(cl, "scan", {"runtime", "scan"});
    ScanParams p;
    resolve(ctx, cl, "scan", p);
    require(!p.features.empty(), "scan: no input given (--features features.h5)");
    require(!p.knn.empty(), "scan: no neighbour graph given (--knn knn.h5, from `distclust knn`)");
    auto t0 = std::chrono::steady_clock::now();
    Communicator& comm = *ctx.comm;
    std::string ckpt = p.checkpoint ? p.out + ".ckpt" : "";
    ScanInputs inputs;
    ScanResult r = scan(p, comm, ckpt, ctx.resolved.hash("scan"), &inputs);
    write_scan(p.out, comm, r, p, inputs, ctx.resolved.yaml(), ctx.resolved.hash("scan"));
    if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    log::info("scan: wrote ", p.out, ": head ", r.kept_head, " of ", p.heads, ", ", r.clusters, " clusters, self-label: ",
              r.self_label_note, r.collapse ? fmt(", COLLAPSED (", r.collapse_note, ")") : std::string(), ", ", secs,
              " s");
  });
}

}  // namespace distclust::cli
