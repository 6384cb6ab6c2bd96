#include <chrono>
#include <cstdio>

#include "distclust/log.h"
#include "scan/scan.h"
#include "pipeline/stages.h"

namespace distclust {

void run_scan_stage(const ScanParams& p, Communicator& comm, const StageConfig& cfg) {
  require(!p.features.empty(), "scan: no input given (--features features.h5)");
  require(!p.knn.empty(), "scan: no neighbour graph given (--knn knn.h5, from `distclust knn`)");
  auto t0 = std::chrono::steady_clock::now();
  std::string ckpt = p.checkpoint ? p.out + ".ckpt" : "";
  ScanInputs inputs;
  ScanResult r = scan(p, comm, ckpt, cfg.hash, &inputs);
  write_scan(p.out, comm, r, p, inputs, cfg.yaml, cfg.hash);
  if (!ckpt.empty() && comm.rank() == 0) std::remove(ckpt.c_str());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log::info("scan: wrote ", p.out, ": head ", r.kept_head, " of ", p.heads, ", ", r.clusters, " clusters, self-label: ",
            r.self_label_note, r.collapse ? fmt(", COLLAPSED (", r.collapse_note, ")") : std::string(), ", ", secs,
            " s");
}

}  // namespace distclust
