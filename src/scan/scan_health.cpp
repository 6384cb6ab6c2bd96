// The health checks of a finished SCAN run (scan_health.h) and their loud
// warning in the log (the style of the collapse warning, scan_finish.cpp).
#include "scan/scan_health.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "distclust/error.h"
#include "distclust/log.h"
#include "scan/scan_run.h"

namespace distclust {

/// The advice in the warnings: by key, which both `scan` (--min-steps) and
/// `run` (--set scan.min_steps=N, where --min-steps is unknown) take.
constexpr const char* kTrainLonger =
    "train longer (scan.min_steps or scan.epochs: --min-steps N to scan, --set scan.min_steps=N to run)";

namespace {

std::string num(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / double(to - from);
}

}  // namespace

ScanHealth scan_health(const std::vector<double>& loss, double mean_confidence, const std::vector<int64_t>& sizes,
                       const std::string& collapse_note, const ScanHealthLimits& lim) {
  ScanHealth h;
  h.mean_confidence = mean_confidence;
  if (!collapse_note.empty()) h.warnings.push_back("collapse: " + collapse_note);
  const size_t E = loss.size(), w = std::max<size_t>(1, E / 10);
  h.late_epochs = int64_t(w);
  h.late_fall = NAN;
  if (E >= 2) {
    const double last = mean(loss, E - w, E), before = mean(loss, E - 2 * w, E - w);
    const double whole = loss.front() - last;
    h.late_fall = whole > 0 ? (before - last) / whole : 0;
    if (h.late_fall > lim.late_fall)
      h.warnings.push_back(fmt("loss still falling: the last ", w, " of ", E,
                               " epochs lowered the kept head's loss by ", num(100 * h.late_fall, 1),
                               "% of its whole fall (limit ", num(100 * lim.late_fall, 0),
                               "%): ", kTrainLonger));
  }
  if (mean_confidence < lim.min_confidence)
    h.warnings.push_back(fmt("low confidence: mean top probability ", num(mean_confidence, 3), " < ",
                             num(lim.min_confidence, 2), " (", sizes.size(), " clusters: uniform would be ",
                             num(1.0 / double(std::max<size_t>(1, sizes.size())), 3),
                             "): most rows lie between clusters; ", kTrainLonger, ", or ask for fewer clusters (scan.clusters)"));
  if (!sizes.empty()) {
    h.smallest = *std::min_element(sizes.begin(), sizes.end());
    h.largest = *std::max_element(sizes.begin(), sizes.end());
    if (double(h.largest) > lim.size_ratio * double(h.smallest))
      h.warnings.push_back(fmt("unbalanced clusters: sizes ", h.smallest, "..", h.largest,
                               ", the largest more than ", num(lim.size_ratio, 0),
                               " times the smallest: ", kTrainLonger, ", raise scan.entropy_weight, or "
                               "the data is that unbalanced"));
  }
  return h;
}

void check_health(ScanRun& r) {
  ScanResult& res = r.res;
  const int H = r.p.heads;
  std::vector<double> kept;
  for (size_t e = 0; e < r.st.loss.size() / size_t(H); ++e) kept.push_back(r.st.loss[e * H + res.kept_head]);
  const ScanHealth h = scan_health(kept, res.mean_confidence, res.cluster_sizes, res.collapse_note);
  res.warnings = h.warnings;
  log::detail("scan: health: the last ", h.late_epochs, " epochs lowered the loss by ",
            std::isnan(h.late_fall) ? std::string("(too few epochs to tell)") : num(100 * h.late_fall, 2) + "%",
            " of its fall; mean confidence ", num(h.mean_confidence, 3), "; cluster sizes ", h.smallest, "..",
            h.largest, "; ", res.steps, " steps");
  // The collapse warning has said its part already (scan_finish.cpp).
  const size_t first = res.collapse ? 1 : 0;
  if (h.warnings.size() <= first || r.comm.rank() != 0) return;
  const std::string bar(72, '!');
  log::warn("scan: ", bar);
  log::warn("scan: WARNING: the SCAN training did not end well (", res.steps, " optimiser steps, ", res.epochs_run,
            " epochs); the clustering is written but may not be usable:");
  for (size_t i = first; i < h.warnings.size(); ++i) log::warn("scan:   - ", h.warnings[i]);
  log::warn("scan: ", bar);
}

}  // namespace distclust
