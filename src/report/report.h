// `distclust report`: a static HTML report of a clustering that opens
// offline (no scripts, fonts or styles from the network; plots are inline
// SVG). Written to OUT/ (index.html + thumbs/), built in OUT.tmp and moved
// into place whole (see export.h for the --force rule, shared by both).
//
// The page holds: a warning box at the top when the SCAN file's health
// checks found problems (scan.h5 `warnings`, scan_health.h); a summary of
// the inputs; the metrics table, with every --compare clustering side by side, (ACC, NMI, ARI
// from metrics.h score()) and a clusters x classes confusion matrix when the
// features file has labels; a cluster-size chart; SCAN loss curves and the
// k-means inertia curve when those files are given; an overview table of all
// clusters; near-duplicate groups when a duplicates.csv of `export
// --duplicates` is given (report_duplicates.h); and one <section class="cluster"> per non-empty cluster with its
// size, mean confidence, a link to its export folder and strips of small
// thumbnails, always shown whatever the number of clusters (a contact
// sheet): the top-confidence prototypes, the least confident members, the
// members whose label is not the cluster's majority class (with labels),
// and random members drawn by a keyed RNG (seed, cluster, row), so one seed
// shows the same rows for any number of ranks; only the random members fold
// away when there are more than --open-clusters clusters. Every thumbnail
// links to its image file (the path on hover). The page links to the
// export's assignments.csv and cluster folders when --export-dir holds
// them (a run links its own export/), and says how to make them otherwise.
//
// Thumbnails are small files in OUT/thumbs/ (PNG for images no larger than
// --thumb, JPEG otherwise), loaded lazily, so index.html stays small when
// there are thousands of clusters. Only the rows shown are decoded. A row
// whose image cannot be read gets a placeholder tile and is counted; a
// features file with integer /ids (no image paths) gives text tiles.
//
// Confidence (also used by export): scan.h5's /confidence; for kmeans.h5
// the margin 1 - sqrt(d1 / d2), where d1 is the squared distance of the row
// to its assigned centroid and d2 to the nearest other centroid (kmeans/kmeans_confidence.h).
//
// Under mpirun the k-means margin is computed by all ranks on their row
// blocks; everything else runs on rank 0 while the other ranks wait.
#pragma once

#include <cstdint>
#include <string>

#include "core/stage.h"
#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust report` (YAML section `report`).
struct ReportParams {
  std::string features = "";               ///< features.h5 (/ids paths for thumbnails, /labels for metrics)
  std::string pred = "";                   ///< predictions: scan.h5 or kmeans.h5 (/assign)
  std::string out = "report";              ///< output folder (index.html, thumbs/)
  std::string kmeans = "";                 ///< kmeans.h5 for the inertia curve (default: --pred when it is one)
  std::string scan = "";                   ///< scan.h5 for the loss curves (default: --pred when it is one)
  std::string duplicates_csv = "";         ///< duplicates.csv of `export --duplicates`, or its export folder ("" = none)
  /// Clusterings scored side by side in the metrics section, "NAME=FILE,..."
  /// (eval.h parse_methods); a run lists every clustering it makes.
  std::string compare = "";
  int prototypes = 8;                      ///< top-confidence rows shown per cluster
  int members = 8;                         ///< random member rows shown per cluster
  int least_confident = 6;                 ///< lowest-confidence rows shown per cluster
  int mismatched = 6;                      ///< rows whose label is not the cluster's majority, shown per cluster
  int thumb = 64;                          ///< thumbnail size in pixels (longest side)
  int64_t seed = 1;                        ///< seed of the random member draw
  std::string title = "distclust report";  ///< page title
  int64_t max_thumbs = 20000;              ///< thumbnail budget (fewer per cluster, then fewer galleries)
  int open_clusters = 32;                  ///< random members start expanded when there are at most this many clusters
  int64_t confusion_cells = 4000;          ///< largest confusion matrix drawn (clusters x classes cells)
  std::string image_root = "";             ///< folder relative /ids paths are relative to (default: current folder)
  std::string export_dir = "";             ///< `distclust export` folder to link (assignments.csv, clusters/); "" = none
  std::string map = "";                    ///< 2-D map: an embed.h5 [N x 2]; '' = auto (`embed` when 2-D, else computed on a sample); none = no map
  std::string embed = "";                  ///< the run's embed.h5: the map when it is 2-D ('' = none)
  int64_t map_sample = 100000;             ///< rows the map shows (a keyed sample when N is larger)
  bool force = false;                      ///< replace an existing OUT that distclust did not write (io/replace_rule.h)
  /// Set by a run, not a key: duplicates_csv is the run's export folder,
  /// which holds a duplicates.csv only with export.duplicates, so a folder
  /// without one means no section. A folder the user names must hold one.
  bool duplicates_csv_optional = false;

  template <class V>
  void visit(V& v) {
    v("features", features, "features.h5 (image paths in /ids, labels in /labels)");
    v("pred", pred, "predictions file with /assign: scan.h5 or kmeans.h5");
    v("out", out, "output folder (index.html and thumbs/)");
    v("kmeans", kmeans, "kmeans.h5 for the inertia curve (default: --pred if it is a k-means file)");
    v("scan", scan, "scan.h5 for the loss curves (default: --pred if it is a SCAN file)");
    v("duplicates_csv", duplicates_csv,
      "near-duplicates section from the duplicates.csv of `export --duplicates`, or the export folder holding it "
      "(a run: its export, when export runs before report)");
    v("compare", compare, "clusterings scored side by side, NAME=FILE,... (a run: each clustering it makes)");
    v("prototypes", prototypes, "top-confidence rows shown per cluster");
    v("members", members, "random member rows shown per cluster");
    v("least_confident", least_confident, "lowest-confidence rows shown per cluster");
    v("mismatched", mismatched, "rows whose label is not the cluster's majority class, shown per cluster");
    v("thumb", thumb, "thumbnail size in pixels");
    v("seed", seed, "seed of the random member draw");
    v("title", title, "page title");
    v("max_thumbs", max_thumbs, "thumbnail budget for the whole report");
    v("open_clusters", open_clusters, "random members start expanded when there are at most this many clusters");
    v("confusion_cells", confusion_cells, "largest confusion matrix drawn, in cells (clusters x classes)");
    v("image_root", image_root, "folder relative image paths are relative to (default: current folder)");
    v("export_dir", export_dir, "export folder to link (assignments.csv, clusters/); a run links its own");
    v("map", map, "2-D map: an embed.h5 with [N x 2] /features ('' = auto: a run's 2-D embed, else computed on a sample; none = no map)");
    v("embed", embed, "an embed.h5 of these rows, the map when it is 2-D (a run: its embed)");
    v("map_sample", map_sample, "rows the map shows (a keyed sample of the valid rows when there are more)");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  /// Throws Error naming the bad value.
  void validate() const;
};

/// Throws when --out is, holds or lies in one of report's inputs or the
/// images folder (before the overwrite rule: --force cannot lift it). Collective.
void require_report_apart(const ReportParams& p, Communicator& comm);

/// Writes the report (collective: every rank calls it). Returns the path of
/// index.html on rank 0, "" elsewhere. hash: the run's config hash.
std::string run_report(const ReportParams& p, Communicator& comm, const std::string& hash = "");

/// The report stage (core/stage.h).
const StageDef<ReportParams>& report_stage();

}  // namespace distclust
