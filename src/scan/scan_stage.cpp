#include <chrono>
#include <cmath>
#include <cstdio>

#include "distclust/log.h"
#include "scan/scan_file.h"
#include "scan/scan_stage.h"

namespace distclust {
namespace {

StageOutcome run_scan_stage(const ScanParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "scan: no input given (--features features.h5)");
  require(!p.knn.empty(), "scan: no neighbour graph given (--knn knn.h5, from `distclust knn`)");
  auto t0 = std::chrono::steady_clock::now();
  std::string ckpt = p.checkpoint ? checkpoint_path(p.out) : "";
  ScanInputs inputs;
  ScanResult r = scan(p, comm, ckpt, cfg.hash, &inputs);
  write_scan(p.out, comm, r, p, inputs, cfg.yaml, cfg.hash);
  if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("scan: wrote ", p.out, ": head ", r.kept_head, " of ", p.heads, ", ", r.clusters, " clusters, self-label: ",
            r.self_label_note, r.collapse ? fmt(", COLLAPSED (", r.collapse_note, ")") : std::string(), ", ", secs,
            " s", r.warnings.empty() ? std::string() : fmt(", ", r.warnings.size(), " warnings"));
  // The warnings themselves: the run's summary reads them from scan.h5, so
  // that an up-to-date scan.h5 shows them too.
  return StageOutcome{{fmt("scan: ", r.steps, " optimiser steps (", r.epochs_run, " epochs x ", r.steps_per_epoch,
                           r.epochs_run > p.epochs ? fmt("; --epochs ", p.epochs, " extended for --min-steps ", p.min_steps)
                                                   : std::string(),
                           "), mean confidence ", std::to_string(std::lround(r.mean_confidence * 1000) / 1000.0).substr(0, 5))}};
}

}  // namespace

const StageDef<ScanParams>& scan_stage() {
  static const StageDef<ScanParams> def{
      "scan",
      {"scan"},
      "SCAN clustering heads on frozen features and their kNN graph (+ self-labelling) -> scan.h5",
      "scan.h5",
      // neighbour_features and memory_budget choose how rows travel, not
      // what is computed (replicate and exchange are bit-identical).
      {"features", "knn", "out", "checkpoint", "neighbour_features", "memory_budget", "force"},
      [](ScanParams& p, const RunLayout& w) {
        p.features = w.cluster_features();
        p.knn = w.output_or("knn", "knn.h5");
        p.out = w.file("scan.h5");
      },
      [](const ScanParams& p) { return p.out; },
      [](const ScanParams& p) { return std::vector<std::string>{p.features, p.knn}; },
      nullptr,
      nullptr,
      [](const ScanParams& p, Communicator& comm, const StageConfig& cfg) {
        return run_scan_stage(p, comm, cfg);
      },
      /*precheck=*/nullptr,
      /*compute_hashed=*/true,
      /*out_optional=*/false,
      /*optional_inputs=*/nullptr,
      /*checkpoints=*/[](const std::string& out) { return std::vector<std::string>{checkpoint_path(out)}; }};
  return def;
}

}  // namespace distclust
