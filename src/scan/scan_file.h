// scan.h5, the output of `distclust scan` (README "Outputs reference"):
// written here only.
#pragma once

#include <string>

#include "distclust/comm.h"
#include "scan/scan.h"

namespace distclust {

/// Writes scan.h5 (collective): /probabilities [N x C] float32, /assign [N]
/// int64, /confidence [N] float32, /loss, /consistency, /entropy [epochs x
/// heads] float64, /self_label_loss [E'] float64, /cluster_sizes [C],
/// /prototypes [C x P] int64, with self-labelling /assign_scan [N] int64 (the
/// assignment before it); attributes chosen_head, clusters, collapse, ...
void write_scan(const std::string& path, Communicator& comm, const ScanResult& r, const ScanParams& p,
                const ScanInputs& inputs, const std::string& params_yaml, const std::string& params_hash);

}  // namespace distclust
