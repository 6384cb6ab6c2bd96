// Which features and predictions an export folder was made from: export
// writes OUT/.inputs, and a report that links the folder checks it, so a
// report of one clustering never links another's per-cluster folders (a
// k=12 report linked a k=3 export: "Cluster 1" led to 348 other images).
#pragma once

#include <string>

namespace distclust {

/// Writes DIR/.inputs: one line per input, "features<TAB>IDENTITY<TAB>path<TAB>PATH"
/// and the same for "pred" (io/output_identity.h file_identity; IDENTITY
/// and PATH empty when no pred was exported).
void write_export_inputs(const std::string& dir, const std::string& features, const std::string& pred);

/// "" when the export folder DIR was made from these features and pred (or
/// predates DIR/.inputs: nothing to check); else what differs, e.g.
/// "ex was exported from pred k3.h5 (a1b2...), not from k12.h5 (c3d4...)".
std::string export_inputs_differ(const std::string& dir, const std::string& features, const std::string& pred);

}  // namespace distclust
