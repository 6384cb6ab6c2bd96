// `distclust report`: gathers the report model on rank 0 and writes the page.
#include "report/report.h"

#include "io/rows_identity.h"
#include "io/replace_rule.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>
#include <fstream>
#include <unordered_map>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "distclust/log.h"
#include "eval/metrics.h"
#include "export/export_inputs.h"
#include "report/clustering.h"
#include "report/html.h"
#include "io/out_dir.h"
#include "io/text_file.h"
#include "report/picks.h"
#include "report/report_curves.h"
#include "report/report_duplicates.h"
#include "report/report_model.h"
#include "comm/root.h"
#include "report/thumbnails.h"
#include "eval/eval.h"
#include "scan/scan_file.h"

namespace fs = std::filesystem;

namespace distclust {

void ReportParams::validate() const {
  require(!features.empty(), "report.features: no features file given (--features features.h5)");
  require(!pred.empty(), "report.pred: no predictions file given (--pred scan.h5 or kmeans.h5)");
  require(!out.empty(), "report.out: no output folder given (--out report)");
  require(prototypes >= 0 && prototypes <= 1000, "report.prototypes is ", prototypes, " (expected 0..1000)");
  require(members >= 0 && members <= 1000, "report.members is ", members, " (expected 0..1000)");
  require(least_confident >= 0 && least_confident <= 1000, "report.least_confident is ", least_confident,
          " (expected 0..1000)");
  require(mismatched >= 0 && mismatched <= 1000, "report.mismatched is ", mismatched, " (expected 0..1000)");
  require(thumb >= 8 && thumb <= 1024, "report.thumb is ", thumb, " (expected 8..1024 pixels)");
  require(max_thumbs >= 0, "report.max_thumbs is ", max_thumbs, " (expected >= 0)");
  require(open_clusters >= 0, "report.open_clusters is ", open_clusters, " (expected >= 0)");
  require(confusion_cells >= 1, "report.confusion_cells is ", confusion_cells, " (expected >= 1)");
  parse_methods(compare, "report.compare");
  require(map_sample >= 1 && map_sample <= 1000000, "report.map_sample is ", map_sample, " (expected 1..1000000)");
}

namespace report {
namespace {

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return std::string(b) + " by distclust " DISTCLUST_VERSION;
}

/// The `stage` attribute of a predictions file ("" when it has none).
std::string pred_stage(const std::string& pred) {
  LocalCommunicator self;
  H5Reader r(pred, self);
  return r.has_attr("stage") ? r.attr_string("stage") : std::string();
}

/// What made the predictions, for the summary. gmm.h5 and assign.h5 hold
/// /confidence as scan.h5 does (and were called "SCAN"): their stage says.
std::string kind_name(PredKind k, const std::string& pred) {
  const std::string stage = pred_stage(pred);
  if (stage == "gmm") return "Gaussian mixture";
  if (stage == "assign") return "assign (new rows)";
  switch (k) {
    case PredKind::scan:
      return "SCAN";
    case PredKind::kmeans:
      return "k-means";
    case PredKind::probs:
      return "probabilities";
    default:
      return "assignments only";
  }
}

// Thumbnails per cluster of each strip: prototypes, least confident,
// mismatched, random members.
struct Counts {
  int p = 0, l = 0, d = 0, m = 0;
  int64_t sum() const { return int64_t(p) + l + d + m; }
};

// Shrinks every strip in proportion so that the galleries stay within the
// thumbnail budget (a prototype stays while there were any); returns a note
// when it had to.
std::string fit_budget(int64_t clusters, int64_t budget, Counts& c) {
  int64_t want = clusters * c.sum();
  if (want <= budget || want == 0) return "";
  double f = double(budget) / double(want);
  Counts c0 = c;
  c.p = c0.p > 0 ? std::max(1, int(c0.p * f)) : 0;
  c.l = int(c0.l * f);
  c.d = int(c0.d * f);
  c.m = int(c0.m * f);
  if (c.sum() == 0) c.m = 1;
  return fmt("Strips reduced to ", c.p, " prototypes, ", c.l, " least confident, ", c.d, " mismatched and ", c.m,
             " random members per cluster (from ", c0.p, ", ", c0.l, ", ", c0.d, " and ", c0.m,
             ") to stay within --max-thumbs ", budget, ".");
}

// Sizes and mean confidence of every cluster id.
struct Sizes {
  std::vector<int64_t> size;
  std::vector<double> conf_sum;
  double all_conf = 0;
};

Sizes cluster_sizes(const Clustering& cl) {
  Sizes s{std::vector<int64_t>(cl.k, 0), std::vector<double>(cl.k, 0), 0};
  const bool has_conf = !cl.confidence.empty();
  for (int64_t i = 0; i < cl.n; ++i) {
    int64_t c = cl.assign[i];
    if (c < 0) continue;
    ++s.size[c];
    if (has_conf) s.conf_sum[c] += cl.confidence[i], s.all_conf += cl.confidence[i];
  }
  return s;
}

// Every --compare clustering scored against the same labels (the one in
// --pred reuses its scores); a file that cannot be read is named, not fatal.
void add_method_scores(ReportModel& m, const ReportParams& p, const Clustering& cl) {
  for (const auto& [name, file] : parse_methods(p.compare, "report.compare")) {
    MethodScores ms{name, file, m.scores, ""};
    if (file != p.pred) {
      try {
        LocalCommunicator self;
        H5Reader r(file, self);
        std::vector<int64_t> a = r.read_all<int64_t>("/assign");
        require(int64_t(a.size()) == cl.n, file, ": /assign has ", a.size(), " rows, ", p.pred, " ", cl.n);
        require_codes(a, file + ": /assign", kClusterRule);
        require_same_rows(file, p.features, "report.compare");
        ms.scores = score(cl.labels, a);
      } catch (const Error& e) {
        ms.problem = e.what();
        log::warn("report: no scores for ", name, ": ", e.what());
      }
    }
    m.methods.push_back(std::move(ms));
  }
}

// Scores, confusion matrix and majority classes, when there are labels.
std::vector<Majority> add_label_views(ReportModel& m, const ReportParams& p, const Clustering& cl) {
  if (cl.labels.empty()) return {};
  try {
    m.scores = score(cl.labels, cl.assign);
    m.has_labels = true;
  } catch (const Error& e) {  // labels only on invalid rows: nothing to score
    log::warn("report: no scores: ", e.what());
    return {};
  }
  add_method_scores(m, p, cl);
  m.confusion = confusion_matrix(cl.assign, cl.labels, p.confusion_cells);
  m.confusion_cells = p.confusion_cells;
  for (int64_t c : m.confusion.classes) m.class_headers.push_back(cl.class_name(c));
  return majority_per_cluster(cl.assign, cl.labels, cl.k);
}

// The rows each cluster's strips show.
struct Shown {
  std::vector<ClusterPicks> picks;
  std::vector<ClusterDoubts> doubts;
  std::vector<char> omitted;  ///< [k] 1 for a cluster left without strips by the budget
};

// The rows each cluster's strips show, within the thumbnail budget: fewer
// per cluster first, then strips for the largest clusters only.
Shown choose_gallery_rows(ReportModel& m, const ReportParams& p, const Clustering& cl, const std::vector<int64_t>& size,
                          const std::vector<Majority>& majority) {
  int64_t nonempty = 0;
  for (int64_t c = 0; c < cl.k; ++c) nonempty += size[c] > 0;
  const bool has_conf = !cl.confidence.empty(), has_labels = !majority.empty();
  Counts want{p.prototypes, has_conf ? p.least_confident : 0, has_labels ? p.mismatched : 0, p.members};
  Counts got = want;
  m.gallery_note = fit_budget(nonempty, p.max_thumbs, got);
  int np = got.p, nm = got.m;
  PrototypeSource src;
  if (!cl.prototypes.empty()) {
    src.given = &cl.prototypes;
    src.given_per = cl.prototypes_per;
  } else if (!cl.confidence.empty()) {
    src.confidence = &cl.confidence;
  }
  if (!src.given && !src.confidence) nm += np, np = 0;  // no confidence: no prototypes, more members
  Shown out;
  std::vector<ClusterPicks>& picks = out.picks;
  picks = pick_rows(cl.assign, cl.k, np, nm, static_cast<uint64_t>(p.seed), src);
  std::vector<int64_t> major(static_cast<size_t>(majority.size()));
  for (size_t c = 0; c < majority.size(); ++c) major[c] = majority[c].cls;
  out.doubts = pick_doubts(cl.assign, cl.k, got.l, got.d, static_cast<uint64_t>(p.seed), cl.confidence,
                           has_labels ? cl.labels : std::vector<int64_t>{}, major, picks);
  m.prototypes_def = src.given ? "from " + fs::path(cl.pred).filename().string() : "highest confidence";
  m.picks_note = fmt("Each cluster shows up to ",
                     np ? fmt(np, " prototypes (", m.prototypes_def, "), ") : std::string(),
                     has_conf ? fmt(got.l, " least confident members, ") : std::string(),
                     has_labels ? fmt(got.d, " members whose label is not the majority class (",
                                      has_conf ? "most confident first" : "a random draw", "), ")
                                : std::string(),
                     np || has_conf || has_labels ? "and " : "", nm,
                     " random members: set with --prototypes, --least-confident, --mismatched and --members, "
                     "all within --max-thumbs ", p.max_thumbs, ".",
                     cl.has_paths ? " A thumbnail opens its image file; hover for its path." : "");
  std::vector<int64_t> by_size;
  for (int64_t c = 0; c < cl.k; ++c)
    if (size[c] > 0) by_size.push_back(c);
  std::stable_sort(by_size.begin(), by_size.end(), [&](int64_t a, int64_t b) { return size[a] > size[b]; });
  int64_t spent = 0, n_omitted = 0;
  out.omitted.assign(static_cast<size_t>(cl.k), 0);
  for (int64_t c : by_size) {
    const ClusterDoubts& d = out.doubts[c];
    int64_t cost = int64_t(picks[c].prototypes.size() + picks[c].members.size() + d.least.size() + d.mismatched.size());
    if (spent + cost <= p.max_thumbs) {
      spent += cost;
    } else {
      picks[c] = ClusterPicks{};
      out.doubts[c] = ClusterDoubts{};
      out.omitted[c] = 1;
      ++n_omitted;
    }
  }
  if (n_omitted)
    m.gallery_note += fmt(m.gallery_note.empty() ? "" : " ", n_omitted,
                          " small clusters have no gallery: the thumbnail budget (--max-thumbs ", p.max_thumbs,
                          ") was spent on larger ones.");
  return out;
}

// Thumbnails of exactly the rows shown, and their tiles by row.
// image_dirs gets the folders of the images shown (inputs --force must not delete).
std::unordered_map<int64_t, Tile> make_tiles(ReportModel& m, const ReportParams& p, const Clustering& cl,
                                             const Shown& sh, const std::string& dir,
                                             std::set<std::string>& image_dirs) {
  // Each row once (a row can be least confident and mismatched): one thumbnail file per row.
  std::vector<int64_t> shown;
  std::set<int64_t> seen;
  auto add = [&](const std::vector<int64_t>& rows) {
    for (int64_t r : rows)
      if (seen.insert(r).second) shown.push_back(r);
  };
  for (size_t c = 0; c < sh.picks.size(); ++c) {
    add(sh.picks[c].prototypes);
    add(sh.doubts[c].least);
    add(sh.doubts[c].mismatched);
    add(sh.picks[c].members);
  }
  std::vector<std::string> ids =
      cl.has_paths ? image_paths(cl.features, shown) : std::vector<std::string>(shown.size());
  // Files to read: none for a row without a path or with an array-row id.
  std::vector<std::string> files(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    if (is_array_row_id(ids[i])) {
      ++m.thumbs_records;
    } else if (!ids[i].empty()) {
      files[i] = resolve_image_path(ids[i], p.image_root);
      image_dirs.insert(fs::path(files[i]).parent_path().string());
    }
  std::vector<Thumb> thumbs = make_thumbnails(shown, files, dir, p.thumb);
  m.lazy = shown.size() > 400;
  std::unordered_map<int64_t, Tile> tiles;
  for (size_t i = 0; i < shown.size(); ++i) {
    Tile t;
    int64_t row = shown[i];
    t.row = row;
    if (!cl.confidence.empty()) t.confidence = cl.confidence[row];
    if (!cl.labels.empty() && cl.labels[row] >= 0) t.label = cl.class_name(cl.labels[row]);
    t.path = ids[i];
    std::error_code ec;
    if (!files[i].empty() && fs::exists(files[i], ec)) t.href = file_url(fs::absolute(files[i]).lexically_normal().string());
    if (thumbs[i].ok) {
      t.img = thumbs[i].file;
      t.width = thumbs[i].width;
      t.height = thumbs[i].height;
      ++m.thumbs_written;
    } else if (!files[i].empty()) {
      t.problem = thumbs[i].reason;
      ++m.thumbs_failed;
      if (fs::path(ids[i]).is_relative() && !fs::exists(files[i], ec)) ++m.thumbs_relative_missing;
      if (m.failures.size() < 20) m.failures.push_back(fmt("row ", row, ": ", ids[i], ": ", t.problem));
    }
    tiles.emplace(row, std::move(t));
  }
  return tiles;
}

// href from the report folder to `target`: relative when both lie under
// one root (a run's report/ and export/ move together), else a file:// URL.
std::string href_from(const std::string& report_out, const std::string& target) {
  fs::path from = fs::absolute(report_out).lexically_normal(), to = fs::absolute(target).lexically_normal();
  if (to.filename().empty()) to = to.parent_path();  // "export/": no "export//assignments.csv"
  fs::path rel = to.lexically_relative(from);
  return rel.empty() ? file_url(to.string()) : url_path_escape(rel.generic_string());
}

// What of the export the page can link, or how to make it.
ExportLinks export_links(const ReportParams& p, const std::string& report_out) {
  ExportLinks e;
  const std::string how = fmt("distclust export --features ", p.features, " --pred ", p.pred, " --out ",
                              p.export_dir.empty() ? std::string("export") : p.export_dir);
  std::error_code ec;
  if (p.export_dir.empty()) {
    e.missing = fmt("No export linked. `", how,
                    "` writes assignments.csv (row, path, cluster, confidence, label, class name) and one folder of "
                    "links per cluster; run this report again with --export-dir export to link them (`distclust run` "
                    "links its own export/).");
  } else if (!fs::is_regular_file(fs::path(p.export_dir) / "assignments.csv", ec)) {
    e.missing = fmt("Not exported yet: ", p.export_dir, "/assignments.csv does not exist. `", how,
                    "` writes it and one folder of links per cluster (in `distclust run`: list export before report "
                    "in run.stages); then run this report again to link them.");
  } else if (const std::string differ = export_inputs_differ(p.export_dir, p.features, p.pred); !differ.empty()) {
    // Another clustering's folders under this one's cluster numbers would
    // mislead on every link: not linked, and said on the page and the log.
    e.missing = fmt("Not linked: ", differ, ". `", how, "` exports this clustering; then run this report again.");
    log::warn("report: --export-dir not linked: ", differ);
  } else {
    const std::string base = href_from(report_out, p.export_dir);
    e.csv = base + "/assignments.csv";
    if (fs::is_directory(fs::path(p.export_dir) / "clusters", ec)) e.clusters = base + "/clusters/";
  }
  return e;
}

// One view per non-empty cluster: its numbers, strips and export folder.
std::vector<ClusterView> cluster_views(const ReportModel& m, const ReportParams& p, const Clustering& cl,
                                       const Sizes& sz, const std::vector<Majority>& majority, const Shown& sh,
                                       const std::unordered_map<int64_t, Tile>& tiles) {
  std::vector<ClusterView> out;
  for (int64_t c = 0; c < cl.k; ++c) {
    if (sz.size[c] == 0) continue;  // sections only for non-empty clusters
    ClusterView v;
    v.id = c;
    v.size = sz.size[c];
    if (!cl.confidence.empty()) v.mean_confidence = sz.conf_sum[c] / double(sz.size[c]);
    if (!majority.empty()) {
      v.majority = majority[c];
      if (v.majority.cls >= 0) v.majority_name = cl.class_name(v.majority.cls);
      v.mismatched_total = v.majority.labelled - v.majority.count;
    }
    v.gallery = !sh.omitted[c];
    for (int64_t r : sh.picks[c].prototypes) v.prototypes.push_back(tiles.at(r));
    for (int64_t r : sh.doubts[c].least) v.least.push_back(tiles.at(r));
    for (int64_t r : sh.doubts[c].mismatched) v.mismatched.push_back(tiles.at(r));
    for (int64_t r : sh.picks[c].members) v.members.push_back(tiles.at(r));
    if (!m.exported.clusters.empty()) {
      std::error_code ec;
      const std::string name = cluster_folder_name(c);
      if (fs::is_directory(fs::path(p.export_dir) / "clusters" / name, ec))
        v.folder = m.exported.clusters + url_path_escape(name) + "/";
    }
    out.push_back(std::move(v));
  }
  return out;
}

/// The 2-D map: from --map, or none.
void add_map(ReportModel& m, const ReportParams& p, const Clustering& cl) {
  if (p.map == "none") {
    m.map.note = "no map (report.map = none)";
    return;
  }
  const std::vector<int64_t> rows = map_sample_rows(cl, p.map_sample, p.seed);
  if (!p.map.empty()) {
    map_from_file(m, cl, p.map, rows);
    return;
  }
  if (!p.embed.empty()) {  // the run's embedding, when it is a map already
    LocalCommunicator self;
    const DatasetInfo fi = H5Reader(p.embed, self).info("/features");
    if (fi.shape.size() == 2 && fi.shape[0] == cl.n && fi.shape[1] == 2) {
      map_from_file(m, cl, p.embed, rows);
      return;
    }
  }
  if (rows.size() < 3) {
    m.map.note = "no map: fewer than 3 valid rows";
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<float> xy = compute_map_xy(cl.features, rows, p.seed);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  map_from_points(m, cl, xy, rows,
                  fmt("a UMAP-style layout (distclust embed) of these rows' cosine 15-NN graph, computed by the report "
                      "in ", fixed(secs, 1), " s"));
  log::info("report: map of ", rows.size(), " rows computed in ", secs, " s");
}

/// The report's header fields from p and cl.
ReportModel base_model(const ReportParams& p, const Clustering& cl) {
  ReportModel m;
  m.title = p.title;
  m.features = p.features;
  m.pred = p.pred;
  m.pred_kind = kind_name(cl.kind, p.pred);
  m.generated = now_text();
  m.n = cl.n;
  m.invalid = cl.invalid;
  m.k = cl.k;
  m.confidence_def = cl.confidence_def;
  m.has_paths = cl.has_paths;
  m.thumb = p.thumb;
  m.open_clusters = p.open_clusters;
  m.seed = p.seed;
  return m;
}

/// The training curves the inputs hold: GMM's likelihood, SCAN's loss (and
/// its warnings), k-means' inertia.
void add_curves(ReportModel& m, const ReportParams& p, const Clustering& cl) {
  const bool gmm = cl.kind == PredKind::scan && is_gmm_file(p.pred);  // gmm.h5 has /confidence too
  // assign.h5 holds SCAN's /confidence but no training, so no loss curve.
  const bool trained_here = !gmm && pred_stage(p.pred) != "assign";
  std::string scan = !p.scan.empty() ? p.scan : (cl.kind == PredKind::scan && trained_here ? p.pred : "");
  std::string kmeans = !p.kmeans.empty() ? p.kmeans : (cl.kind == PredKind::kmeans ? p.pred : "");
  if (gmm) add_likelihood_curve(m, p.pred);
  if (!scan.empty()) {
    add_loss_curve(m, scan);
    m.warnings = read_scan_warnings(scan);
    m.warnings_source = scan;
  }
  if (!kmeans.empty()) add_inertia_curve(m, kmeans);
}

std::string write_report(const ReportParams& p, const Clustering& cl, const std::string& hash) {
  auto t0 = std::chrono::steady_clock::now();
  StagedDir dir(p.out, /*force=*/true);  // replace_rule.h decided already
  ReportModel m = base_model(p, cl);
  Sizes sz = cluster_sizes(cl);
  const bool has_conf = !cl.confidence.empty();
  if (has_conf && cl.n > cl.invalid) m.mean_confidence = sz.all_conf / double(cl.n - cl.invalid);
  std::vector<Majority> majority = add_label_views(m, p, cl);
  m.has_confidence = !cl.confidence.empty();
  Shown sh = choose_gallery_rows(m, p, cl, sz.size, majority);
  std::set<std::string> image_dirs;
  std::unordered_map<int64_t, Tile> tiles = make_tiles(m, p, cl, sh, dir.path(), image_dirs);
  m.exported = export_links(p, dir.out());
  m.clusters = cluster_views(m, p, cl, sz, majority, sh, tiles);
  add_curves(m, p, cl);
  add_duplicates(m, duplicates_csv_file(p.duplicates_csv, p.duplicates_csv_optional), cl, p.image_root, dir.path(),
                 image_dirs);
  add_map(m, p, cl);

  std::string index = (fs::path(dir.path()) / "index.html").string();
  write_text_file(index, render_report(m));  // checked to the close, the system's reason named
  std::vector<std::string> inputs{p.features, p.pred, p.kmeans, p.scan, p.export_dir, p.duplicates_csv};
  inputs.insert(inputs.end(), image_dirs.begin(), image_dirs.end());
  require_apart(dir.out(), inputs);
  dir.commit(hash, "report");
  if (m.thumbs_failed)
    log::warn("report: ", m.thumbs_failed, " of ", m.thumbs_written + m.thumbs_failed,
              " images could not be read (placeholders shown), e.g. ", m.failures.front(),
              // export refuses these with this advice; the report is still worth having
              m.thumbs_relative_missing
                  ? fmt("; ", m.thumbs_relative_missing, " are relative paths not found under ",
                        p.image_root.empty() ? std::string("the current folder") : p.image_root,
                        ": pass --image-root, the folder extract ran in")
                  : std::string());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string out_index = (fs::path(dir.out()) / "index.html").string();
  log::info("report: wrote ", out_index, ": ", m.clusters.size(), " clusters, ", m.thumbs_written, " thumbnails, ",
            m.thumbs_failed, " unreadable, ", secs, " s",
            m.thumbs_records ? fmt("; ", m.thumbs_records,
                                   " rows shown are records in an HDF5 array or CIFAR batch (ids FILE:INDEX), not "
                                   "image files: no thumbnails for them")
                             : std::string());
  return out_index;
}

}  // namespace
}  // namespace report

void require_report_apart(const ReportParams& p, Communicator& comm) {
  run_on_root(comm, "report", [&] {
    require_apart(p.out, {p.features, p.pred, p.kmeans, p.scan, p.export_dir, p.duplicates_csv, p.map,
                          report::image_folder_of(p.features)});
  });
}

std::string run_report(const ReportParams& p, Communicator& comm, const std::string& hash) {
  p.validate();
  // An input first (--force cannot help there: it was once advised, and the
  // refusal came after all the work), then an output that is not ours,
  // both before the expensive part (io/replace_rule.h).
  require_report_apart(p, comm);
  require_replaceable("report", p.out, p.force, comm);
  run_on_root(comm, "report", [&] {
    for (const auto& f : {p.kmeans, p.scan})
      if (!f.empty()) check_input_file(f, "curve file");
    if (!p.map.empty() && p.map != "none") check_input_file(p.map, "map file");
    report::duplicates_csv_file(p.duplicates_csv, p.duplicates_csv_optional);  // a path given must exist
  });
  report::Clustering cl = report::load_clustering(p.features, p.pred, comm, "report");
  std::string index;
  run_on_root(comm, "report", [&] { index = report::write_report(p, cl, hash); });
  return index;
}

const StageDef<ReportParams>& report_stage() {
  static const StageDef<ReportParams> def{
      "report",
      {"report"},
      "Static HTML report (galleries, sizes, metrics, confusion matrix, curves) that opens offline",
      "report",
      // Not "map": besides a file (whose identity is an input) it takes the
      // words '' (computed) and none, which change the page.
      {"features", "pred", "out", "kmeans", "scan", "export_dir", "duplicates_csv", "compare", "force"},
      [](ReportParams& p, const RunLayout& w) {
        p.features = w.features();
        p.pred = w.predictions();
        p.out = w.file("report");
        p.force = true;  // a run replaces its own report
        if (w.has("kmeans")) p.kmeans = w.output_of("kmeans");
        if (w.has("scan")) p.scan = w.output_of("scan");
        p.compare = w.clusterings();
        p.export_dir = w.output_or("export", "export");  // linked when it exists (export before report)
        p.embed = w.output_of("embed");                  // the map, when 2-D
        // Export's duplicates.csv, when this run's export comes first (a
        // later one would leave an old folder's file here).
        if (p.duplicates_csv.empty() && !w.output_of("export").empty()) {
          p.duplicates_csv = w.output_of("export");
          p.duplicates_csv_optional = true;  // an export without --duplicates writes none
        }
      },
      [](const ReportParams& p) { return p.out; },
      // The export counts as an input: a report made before it is made again once it exists.
      [](const ReportParams& p) {
        std::vector<std::string> in{p.features, p.pred, p.kmeans, p.scan, p.export_dir, p.duplicates_csv};
        for (const auto& m : parse_methods(p.compare, "report.compare")) in.push_back(m.second);
        if (!p.map.empty() && p.map != "none") in.push_back(p.map);
        if (!p.embed.empty()) in.push_back(p.embed);
        return in;
      },
      nullptr,
      nullptr,
      [](const ReportParams& p, Communicator& comm, const StageConfig& cfg) {
        run_report(p, comm, cfg.hash);
        return StageOutcome{};
      },
      require_report_apart,
      // Its confidences and computed map go through the search kernel.
      /*compute_hashed=*/true,
      /*out_optional=*/false,
      // The export folder is linked when it exists (export before report).
      [](const ReportParams& p) { return std::vector<std::string>{p.export_dir}; }};
  return def;
}

}  // namespace distclust
