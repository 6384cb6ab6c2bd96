// Internal to src/report: training curves for the report from the stage
// files: SCAN's /loss [epochs x heads] (the kept head drawn thicker) and
// /self_label_loss, k-means' /inertia per iteration.
#pragma once

#include <string>

#include "report/report_model.h"

namespace distclust::report {

/// Appends SCAN's loss curves from `path` (a scan.h5) to m.curves; a file
/// without /loss gives a warning and no curve.
void add_loss_curve(ReportModel& m, const std::string& path);

/// Appends the k-means inertia curve from `path` (a kmeans.h5), and its K
/// sweep (m.k_sweep) when it holds one.
void add_inertia_curve(ReportModel& m, const std::string& path);

}  // namespace distclust::report
