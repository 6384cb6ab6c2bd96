// scan.h5, the output of `distclust scan` (README "Outputs reference"):
// written here only.
#pragma once

#include <string>

#include "distclust/comm.h"
#include "scan/scan.h"
#include "scan/scan_heads.h"

namespace distclust {

/// Writes scan.h5 (collective): /probabilities [N x C] float32, /assign [N]
/// int64, /confidence [N] float32, /loss, /consistency, /entropy [epochs x
/// heads] float64, /self_label_loss [E'] float64, /cluster_sizes [C],
/// /prototypes [C x P] int64, with self-labelling /assign_scan [N] int64 (the
/// assignment before it); /head [P] float32 the kept head's parameters
/// (scan_heads.h layout, H = 1) and, when self-labelling's neighbour gate
/// ran, /head_scan [P] the head before self-labelling; attributes head_d,
/// head_hidden, chosen_head, clusters, collapse, warnings (JSON list of the
/// health checks' sentences), epochs_run, steps_per_epoch, steps,
/// mean_confidence, ...
void write_scan(const std::string& path, Communicator& comm, const ScanResult& r, const ScanParams& p,
                const ScanInputs& inputs, const std::string& params_yaml, const std::string& params_hash);

/// The health warnings of a scan.h5 (attribute `warnings`, a JSON list of
/// sentences, scan_health.h), read on this process alone; empty when the
/// run was healthy or the file predates the checks.
std::vector<std::string> read_scan_warnings(const std::string& path);

/// What assigning new rows with a finished SCAN run needs.
struct ScanModel {
  std::string path;
  ScanParams params;             ///< the run's scan section (normalize, gate, knn, ...)
  HeadShape shape;               ///< one head: D -> C
  std::vector<float> head;       ///< the kept head
  std::vector<float> head_scan;  ///< before self-labelling (empty: no neighbour gate)
};

/// Reads the model of a scan.h5 on this process alone. Throws naming the file
/// when it has no /head (older files) or a head of the wrong size.
ScanModel read_scan_model(const std::string& path);

}  // namespace distclust
