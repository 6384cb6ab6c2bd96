// `distclust report`: gathers the report model on rank 0 and writes the page.
#include "report/report.h"

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
#include "report/clustering.h"
#include "report/html.h"
#include "io/out_dir.h"
#include "report/picks.h"
#include "report/report_curves.h"
#include "report/report_duplicates.h"
#include "report/report_model.h"
#include "comm/root.h"
#include "report/thumbnails.h"

namespace fs = std::filesystem;

namespace distclust {

void ReportParams::validate() const {
  require(!features.empty(), "report.features: no features file given (--features features.h5)");
  require(!pred.empty(), "report.pred: no predictions file given (--pred scan.h5 or kmeans.h5)");
  require(!out.empty(), "report.out: no output folder given (--out report)");
  require(prototypes >= 0 && prototypes <= 1000, "report.prototypes is ", prototypes, " (expected 0..1000)");
  require(members >= 0 && members <= 1000, "report.members is ", members, " (expected 0..1000)");
  require(thumb >= 8 && thumb <= 1024, "report.thumb is ", thumb, " (expected 8..1024 pixels)");
  require(max_thumbs >= 0, "report.max_thumbs is ", max_thumbs, " (expected >= 0)");
  require(open_clusters >= 0, "report.open_clusters is ", open_clusters, " (expected >= 0)");
  require(confusion_cells >= 1, "report.confusion_cells is ", confusion_cells, " (expected >= 1)");
}

namespace report {
namespace {

std::string now_text() {
  std::time_t t = std::time(nullptr);
  char b[64];
  std::strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return std::string(b) + " by distclust " DISTCLUST_VERSION;
}

std::string kind_name(PredKind k) {
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

// Shrinks prototypes/members per cluster so that the galleries stay within
// the thumbnail budget; returns a note when it had to.
std::string fit_budget(int64_t clusters, int64_t budget, int& p, int& m) {
  int64_t want = clusters * (p + m);
  if (want <= budget || want == 0) return "";
  double f = double(budget) / double(want);
  int p0 = p, m0 = m;
  p = p0 > 0 ? std::max(1, int(p0 * f)) : 0;
  m = int(m0 * f);
  if (p + m == 0) m = 1;
  return fmt("Galleries reduced to ", p, " prototypes and ", m, " members per cluster (from ", p0, " and ", m0,
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
  m.confusion = confusion_matrix(cl.assign, cl.labels, p.confusion_cells);
  m.confusion_cells = p.confusion_cells;
  for (int64_t c : m.confusion.classes) m.class_headers.push_back(cl.class_name(c));
  return majority_per_cluster(cl.assign, cl.labels, cl.k);
}

// The rows each cluster's gallery shows, within the thumbnail budget:
// fewer per cluster first, then galleries for the largest clusters only.
// omitted[c] = 1 for a cluster left without a gallery by the budget.
std::vector<ClusterPicks> choose_gallery_rows(ReportModel& m, const ReportParams& p, const Clustering& cl,
                                              const std::vector<int64_t>& size, std::vector<char>& omitted) {
  int64_t nonempty = 0;
  for (int64_t c = 0; c < cl.k; ++c) nonempty += size[c] > 0;
  int np = p.prototypes, nm = p.members;
  m.gallery_note = fit_budget(nonempty, p.max_thumbs, np, nm);
  PrototypeSource src;
  if (!cl.prototypes.empty()) {
    src.given = &cl.prototypes;
    src.given_per = cl.prototypes_per;
  } else if (!cl.confidence.empty()) {
    src.confidence = &cl.confidence;
  }
  if (!src.given && !src.confidence) nm += np, np = 0;  // no confidence: no prototypes, more members
  std::vector<ClusterPicks> picks = pick_rows(cl.assign, cl.k, np, nm, static_cast<uint64_t>(p.seed), src);
  std::vector<int64_t> by_size;
  for (int64_t c = 0; c < cl.k; ++c)
    if (size[c] > 0) by_size.push_back(c);
  std::stable_sort(by_size.begin(), by_size.end(), [&](int64_t a, int64_t b) { return size[a] > size[b]; });
  int64_t spent = 0, n_omitted = 0;
  omitted.assign(static_cast<size_t>(cl.k), 0);
  for (int64_t c : by_size) {
    int64_t cost = int64_t(picks[c].prototypes.size() + picks[c].members.size());
    if (spent + cost <= p.max_thumbs) {
      spent += cost;
    } else {
      picks[c] = ClusterPicks{};
      omitted[c] = 1;
      ++n_omitted;
    }
  }
  if (n_omitted)
    m.gallery_note += fmt(m.gallery_note.empty() ? "" : " ", n_omitted,
                          " small clusters have no gallery: the thumbnail budget (--max-thumbs ", p.max_thumbs,
                          ") was spent on larger ones.");
  return picks;
}

// Thumbnails of exactly the rows shown, and their tiles by row.
// image_dirs gets the folders of the images shown (inputs --force must not delete).
std::unordered_map<int64_t, Tile> make_tiles(ReportModel& m, const ReportParams& p, const Clustering& cl,
                                             const std::vector<ClusterPicks>& picks, const std::string& dir,
                                             std::set<std::string>& image_dirs) {
  std::vector<int64_t> shown;
  for (const auto& pk : picks) {
    shown.insert(shown.end(), pk.prototypes.begin(), pk.prototypes.end());
    shown.insert(shown.end(), pk.members.begin(), pk.members.end());
  }
  std::vector<std::string> ids =
      cl.has_paths ? image_paths(cl.features, shown) : std::vector<std::string>(shown.size());
  // Files to read: none for a row without a path or with an array-row id.
  std::vector<std::string> files(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    if (!ids[i].empty() && !is_array_row_id(ids[i])) {
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
    if (thumbs[i].ok) {
      t.img = thumbs[i].file;
      t.width = thumbs[i].width;
      t.height = thumbs[i].height;
      ++m.thumbs_written;
    } else if (!files[i].empty()) {
      t.problem = thumbs[i].reason;
      ++m.thumbs_failed;
      if (m.failures.size() < 20) m.failures.push_back(fmt("row ", row, ": ", ids[i], ": ", t.problem));
    }
    tiles.emplace(row, std::move(t));
  }
  return tiles;
}

std::string write_report(const ReportParams& p, const Clustering& cl, const std::string& hash) {
  auto t0 = std::chrono::steady_clock::now();
  StagedDir dir(p.out, /*force=*/true);  // replace_rule.h decided already
  ReportModel m;
  m.title = p.title;
  m.features = p.features;
  m.pred = p.pred;
  m.pred_kind = kind_name(cl.kind);
  m.generated = now_text();
  m.n = cl.n;
  m.invalid = cl.invalid;
  m.k = cl.k;
  m.confidence_def = cl.confidence_def;
  m.has_paths = cl.has_paths;
  m.thumb = p.thumb;
  m.open_clusters = p.open_clusters;
  m.seed = p.seed;

  Sizes sz = cluster_sizes(cl);
  const bool has_conf = !cl.confidence.empty();
  if (has_conf && cl.n > cl.invalid) m.mean_confidence = sz.all_conf / double(cl.n - cl.invalid);
  std::vector<Majority> majority = add_label_views(m, p, cl);
  std::vector<char> omitted;
  std::vector<ClusterPicks> picks = choose_gallery_rows(m, p, cl, sz.size, omitted);
  std::set<std::string> image_dirs;
  std::unordered_map<int64_t, Tile> tiles = make_tiles(m, p, cl, picks, dir.path(), image_dirs);
  for (int64_t c = 0; c < cl.k; ++c) {
    if (sz.size[c] == 0) continue;  // sections only for non-empty clusters
    ClusterView v;
    v.id = c;
    v.size = sz.size[c];
    if (has_conf) v.mean_confidence = sz.conf_sum[c] / double(sz.size[c]);
    if (!majority.empty()) {
      v.majority = majority[c];
      if (v.majority.cls >= 0) v.majority_name = cl.class_name(v.majority.cls);
    }
    v.gallery = !omitted[c];
    for (int64_t r : picks[c].prototypes) v.prototypes.push_back(tiles.at(r));
    for (int64_t r : picks[c].members) v.members.push_back(tiles.at(r));
    m.clusters.push_back(std::move(v));
  }

  std::string scan = !p.scan.empty() ? p.scan : (cl.kind == PredKind::scan ? p.pred : "");
  std::string kmeans = !p.kmeans.empty() ? p.kmeans : (cl.kind == PredKind::kmeans ? p.pred : "");
  if (!scan.empty()) add_loss_curve(m, scan);
  if (!kmeans.empty()) add_inertia_curve(m, kmeans);
  add_duplicates(m, duplicates_csv_file(p.duplicates_csv), cl, p.image_root, dir.path(), image_dirs);

  std::string index = (fs::path(dir.path()) / "index.html").string();
  {
    std::ofstream f(index, std::ios::binary);
    require(static_cast<bool>(f), "report: cannot write ", index);
    f << render_report(m);
    require(static_cast<bool>(f.flush()), "report: writing ", index, " failed (disk full?)");
  }
  std::vector<std::string> inputs{p.features, p.pred, p.kmeans, p.scan, p.duplicates_csv};
  inputs.insert(inputs.end(), image_dirs.begin(), image_dirs.end());
  require_apart(dir.out(), inputs);
  dir.commit(hash);
  if (m.thumbs_failed)
    log::warn("report: ", m.thumbs_failed, " of ", m.thumbs_written + m.thumbs_failed,
              " images could not be read (placeholders shown), e.g. ", m.failures.front());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string out_index = (fs::path(dir.out()) / "index.html").string();
  log::info("report: wrote ", out_index, ": ", m.clusters.size(), " clusters, ", m.thumbs_written, " thumbnails, ",
            m.thumbs_failed, " unreadable, ", secs, " s");
  return out_index;
}

}  // namespace
}  // namespace report

std::string run_report(const ReportParams& p, Communicator& comm, const std::string& hash) {
  p.validate();
  // Refuse an output that is not ours before the expensive part (io/replace_rule.h).
  require_replaceable("report", p.out, p.force, comm);
  run_on_root(comm, "report", [&] {
    require_apart(p.out, {p.features, p.pred, p.kmeans, p.scan, p.duplicates_csv});
    for (const auto& f : {p.kmeans, p.scan})
      if (!f.empty()) check_input_file(f, "curve file");
    report::duplicates_csv_file(p.duplicates_csv);  // a path given must exist
  });
  report::Clustering cl = report::load_clustering(p.features, p.pred, comm);
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
      {"features", "pred", "out", "kmeans", "scan", "duplicates_csv", "force"},
      [](ReportParams& p, const RunLayout& w) {
        p.features = w.features();
        p.pred = w.predictions();
        p.out = w.file("report");
        p.force = true;  // a run replaces its own report
        if (w.has("kmeans")) p.kmeans = w.output_of("kmeans");
        if (w.has("scan")) p.scan = w.output_of("scan");
        // Export's duplicates.csv, when this run's export comes first (a
        // later one would leave an old folder's file here).
        if (p.duplicates_csv.empty() && !w.output_of("export").empty()) p.duplicates_csv = w.output_of("export");
      },
      [](const ReportParams& p) { return p.out; },
      [](const ReportParams& p) {
        return std::vector<std::string>{p.features, p.pred, p.kmeans, p.scan, p.duplicates_csv};
      },
      nullptr,
      nullptr,
      [](const ReportParams& p, Communicator& comm, const StageConfig& cfg) {
        run_report(p, comm, cfg.hash);
        return StageOutcome{};
      }};
  return def;
}

}  // namespace distclust
