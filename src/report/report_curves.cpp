#include "report/report_curves.h"

#include "kmeans/kmeans_file.h"

#include <cmath>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "distclust/log.h"
#include "report/html.h"

namespace distclust::report {

// SCAN loss curves: /loss [epochs] or [epochs x heads], the chosen head drawn thicker.
void add_loss_curve(ReportModel& m, const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  if (!r.has("/loss")) {
    log::warn("report: ", path, " has no /loss dataset: no loss curve");
    return;
  }
  DatasetInfo di = r.info("/loss");
  std::vector<double> v = r.read_all<double>("/loss");
  int64_t epochs = di.shape.empty() ? 0 : di.shape[0];
  int64_t heads = di.shape.size() == 2 ? di.shape[1] : 1;
  int64_t chosen = -1;
  for (const char* a : {"chosen_head", "kept_head", "head", "best_head"}) {
    if (!r.has_attr(a)) continue;
    try {
      chosen = static_cast<int64_t>(std::llround(r.attr_double(a)));
      break;
    } catch (const Error&) {  // a string attribute: not a head index
    }
  }
  Curve c{"SCAN loss", "epoch", "loss", path, {}, ""};
  for (int64_t h = 0; h < heads; ++h) {
    Series s{heads == 1 ? "loss" : "head " + std::to_string(h), {}, h == chosen};
    for (int64_t e = 0; e < epochs; ++e) s.y.push_back(v[e * heads + h]);
    c.series.push_back(std::move(s));
  }
  if (chosen >= 0 && heads > 1) c.note = "chosen head: " + std::to_string(chosen) + " (thick line)";
  if (r.has_attr("collapse")) {
    try {
      if (r.attr_double("collapse") != 0)
        c.note += std::string(c.note.empty() ? "" : "; ") +
                  "warning: the kept head collapsed (one cluster holds most rows, or one is empty)";
    } catch (const Error&) {
    }
  }
  m.curves.push_back(std::move(c));
  if (r.has("/self_label_loss")) {
    Curve s{"Self-labelling loss", "epoch", "cross-entropy", path, {}, ""};
    s.series.push_back({"self-labelling", r.read_all<double>("/self_label_loss"), false});
    if (!s.series[0].y.empty()) m.curves.push_back(std::move(s));
  }
}

void add_inertia_curve(ReportModel& m, const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  if (!r.has("/inertia")) {
    log::warn("report: ", path, " has no /inertia dataset: no inertia curve");
    return;
  }
  Curve c{"k-means inertia (sum of squared distances)", "iteration", "inertia", path, {}, ""};
  c.series.push_back({"inertia", r.read_all<double>("/inertia"), false});
  if (r.has_attr("final_inertia")) c.note = "final inertia " + num(r.attr_double("final_inertia"), 6);
  m.curves.push_back(std::move(c));
  const KMeansSweep sw = read_kmeans_sweep(path);
  if (!sw.k.empty())
    m.k_sweep = KSweepPlot{path, sw.k, sw.inertia, sw.silhouette, sw.suggested_k,
                           sweep_rows_text(sw.sample, sw.valid_rows)};
}

void add_likelihood_curve(ReportModel& m, const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  Curve c{"Gaussian mixture: mean log-likelihood per row", "EM iteration", "log-likelihood", path, {}, ""};
  c.series.push_back({"log-likelihood", r.read_all<double>("/log_likelihood"), false});
  if (r.has_attr("final_log_likelihood") && r.has_attr("bic"))
    c.note = "final " + num(r.attr_double("final_log_likelihood"), 6) + ", BIC " + num(r.attr_double("bic"), 8);
  m.curves.push_back(std::move(c));
}

bool is_gmm_file(const std::string& path) {
  LocalCommunicator self;
  H5Reader r(path, self);
  return r.has("/log_likelihood");
}

}  // namespace distclust::report
