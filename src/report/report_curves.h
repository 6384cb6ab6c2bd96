// Internal to src/report: training curves for the report from the stage
// files: SCAN's /loss [epochs x heads] (the kept head drawn thicker) and
// /self_label_loss, k-means' /inertia per iteration, a Gaussian mixture's
// /log_likelihood per EM iteration.
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

/// Appends a gmm.h5's mean log-likelihood per EM iteration.
void add_likelihood_curve(ReportModel& m, const std::string& path);

/// True when `path` is a gmm.h5 (has /log_likelihood): its /confidence is
/// read as scan.h5's, its curve is the log-likelihood, not a SCAN loss.
bool is_gmm_file(const std::string& path);

}  // namespace distclust::report
