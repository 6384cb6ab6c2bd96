// assign's outputs: OUT (assign.h5, the schema in assign.h) and its CSV.
#include "assign/assign_parts.h"

#include <cstdio>
#include <optional>

#include "comm/root.h"
#include "distclust/error.h"
#include "export/csv.h"
#include "io/rows_identity.h"
#include "io/h5_strings.h"
#include "io/h5store.h"
#include "io/input_watch.h"
#include "io/text_file.h"

namespace distclust::assign {
namespace {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.6g", v);
  return b;
}

/// OUT's CSV on rank 0, one line per row of the new features, in row order.
/// The whole text is built in memory (~100 bytes a row), then staged as
/// NAME.tmp and committed with OUT, so a CSV that exists is whole.
std::string csv_text(const Inputs& in, int64_t n, const std::vector<int64_t>& assign, const std::vector<float>& conf,
               const std::vector<int64_t>& km_assign, const std::vector<float>& km_conf,
               const std::vector<int64_t>& gm_assign, const std::vector<float>& gm_conf,
               const std::vector<int64_t>& labels) {
  H5Strings ids(in.new_features);
  const bool paths = ids.row_strings("/ids", n);
  std::string text = std::string(kCsvHeader) + "\n";
  const int64_t block = 65536;
  for (int64_t b0 = 0; b0 < n; b0 += block) {
    const RowRange r{b0, std::min(n, b0 + block)};
    const std::vector<std::string> p = paths ? ids.read_range("/ids", r) : std::vector<std::string>(size_t(r.size()));
    for (int64_t i = r.begin; i < r.end; ++i) {
      const bool ok = assign[i] >= 0;
      text += csv_line({std::to_string(i), spreadsheet_safe(p[size_t(i - r.begin)]), std::to_string(assign[i]),
                        ok ? num(conf[i]) : "", km_assign.empty() ? "" : std::to_string(km_assign[i]),
                        km_assign.empty() || km_assign[i] < 0 ? "" : num(km_conf[i]),
                        gm_assign.empty() ? "" : std::to_string(gm_assign[i]),
                        gm_assign.empty() || gm_assign[i] < 0 ? "" : num(gm_conf[i]),
                        labels[i] >= 0 ? std::to_string(labels[i]) : ""});
    }
  }
  return text;
}

/// This rank's rows of every per-row dataset of OUT (collective, as w).
void write_row_datasets(H5Writer& w, const FeatureBlock& b, const KMeansOut* km, const ScanOut* sc, const GMMOut* gm,
                        const std::vector<int64_t>& assign, const std::vector<float>& confidence) {
  const int64_t N = b.n_total;
  const RowRange r = b.rows;
  w.create<int64_t>("/assign", {N});
  w.write_rows("/assign", r, assign.data());
  w.create<float>("/confidence", {N});
  w.write_rows("/confidence", r, confidence.data());
  if (sc) {
    w.create<float>("/probabilities", {N, sc->c});
    w.write_rows("/probabilities", r, sc->prob.data());
    w.attr("gate_proposed", sc->gate_proposed);
    w.attr("gate_kept", sc->gate_kept);
  }
  if (gm) {
    w.create<int64_t>("/gmm_assign", {N});
    w.write_rows("/gmm_assign", r, gm->assign.data());
    w.create<float>("/gmm_confidence", {N});
    w.write_rows("/gmm_confidence", r, gm->confidence.data());
    w.create<float>("/gmm_probabilities", {N, gm->k});
    w.write_rows("/gmm_probabilities", r, gm->prob.data());
    if (!sc) {  // the chosen clustering's probabilities, as scan.h5 and gmm.h5 hold them
      w.create<float>("/probabilities", {N, gm->k});
      w.write_rows("/probabilities", r, gm->prob.data());
    }
  }
  if (km) {
    w.create<int64_t>("/kmeans_assign", {N});
    w.write_rows("/kmeans_assign", r, km->assign.data());
    w.create<float>("/kmeans_distance", {N});
    w.write_rows("/kmeans_distance", r, km->distance.data());
    w.create<float>("/kmeans_confidence", {N});
    w.write_rows("/kmeans_confidence", r, km->confidence.data());
  }
}

}  // namespace

void write_outputs(const AssignParams& p, const Inputs& in, const FeatureBlock& b, const KMeansOut* km,
                   const ScanOut* sc, const GMMOut* gm, const std::vector<int64_t>& assign, const std::vector<float>& confidence,
                   const StageConfig& cfg, Communicator& comm) {
  const int64_t N = b.n_total;
  H5Writer w(p.out, comm);
  write_row_datasets(w, b, km, sc, gm, assign, confidence);
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  w.attr("stage", std::string("assign"));
  w.attr("features", in.new_features);
  write_rows_identity(w, rows_identity(in.new_features, comm));  // collective, as the writer
  w.attr("reference", in.reference);
  w.attr("kmeans", in.kmeans);
  w.attr("scan", in.scan);
  w.attr("gmm", in.gmm);
  w.attr("params", cfg.yaml);
  w.attr("config_hash", cfg.hash);
  // The CSV in place first, OUT last: OUT is what a run checks as up to
  // date, so nothing may leave OUT without its CSV (renamed after OUT, a
  // stop in between left OUT alone, and the run skipped assign from then
  // on). When OUT's commit fails the new CSV is removed (it stayed); a stop
  // between the two leaves a CSV without OUT, which the rerun replaces.
  const std::vector<int64_t> all_assign = gather_rows_to_root(comm, assign, N);
  const std::vector<float> all_conf = gather_rows_to_root(comm, confidence, N);
  const std::vector<int64_t> all_km = km ? gather_rows_to_root(comm, km->assign, N) : std::vector<int64_t>();
  const std::vector<float> all_km_conf = km ? gather_rows_to_root(comm, km->confidence, N) : std::vector<float>();
  const std::vector<int64_t> all_gm = gm ? gather_rows_to_root(comm, gm->assign, N) : std::vector<int64_t>();
  const std::vector<float> all_gm_conf = gm ? gather_rows_to_root(comm, gm->confidence, N) : std::vector<float>();
  const std::vector<int64_t> labels = gather_rows_to_root(comm, b.labels, N);
  std::optional<StagedText> csv;
  run_on_root(comm, "writing " + in.csv, [&] {
    csv.emplace(in.csv, csv_text(in, N, all_assign, all_conf, all_km, all_km_conf, all_gm, all_gm_conf, labels));
  });
  // The CSV is committed before OUT, whose commit checks the inputs: check
  // them here first, or a refused OUT left a CSV of the old inputs' results.
  if (const std::string changed = changed_inputs(comm); !changed.empty())
    throw Error(fmt(changed, "; ", p.out, " and ", in.csv, " were not written (run assign again)"));
  run_on_root(comm, "committing " + in.csv, [&] { csv->commit(); });
  try {
    w.commit();
  } catch (...) {
    if (comm.rank() == 0) std::remove(in.csv.c_str());
    throw;
  }
}

}  // namespace distclust::assign
