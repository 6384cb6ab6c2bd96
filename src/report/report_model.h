// Internal to src/report: everything the HTML page shows, gathered first
// (report.cpp) and rendered after (report_page.cpp), so the page code does
// no I/O and can be read on its own.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "report/confusion.h"
#include "report/report_map.h"
#include "report/svg_plot.h"

namespace distclust::report {

/// One gallery tile.
struct Tile {
  int64_t row = -1;
  float confidence = NAN;     ///< NaN when the predictions carry none
  std::string label;          ///< class name, "" when unknown
  std::string path;           ///< image path, "" when /ids holds no paths
  std::string img;            ///< thumbnail file relative to the report, "" when none
  std::string href;           ///< link to the image file (file:// URL), "" when there is no file
  int width = 0, height = 0;  ///< of the thumbnail file
  std::string problem;        ///< why an image with a path has no thumbnail (placeholder shown)
};

/// One non-empty cluster.
struct ClusterView {
  int64_t id = 0;
  int64_t size = 0;
  double mean_confidence = NAN;
  Majority majority;  ///< cls -1 when there are no labels
  std::string majority_name;
  bool gallery = true;  ///< false when the thumbnail budget ran out
  std::vector<Tile> prototypes, members;
  std::vector<Tile> least;       ///< least confident members
  std::vector<Tile> mismatched;  ///< members whose label is not the majority class
  int64_t mismatched_total = 0;  ///< labelled members whose label is not the majority class
  std::string folder;            ///< href of the cluster's export folder, "" when there is none
};

/// Where the export (assignments.csv, clusters/) is, as the page links it.
struct ExportLinks {
  std::string csv;       ///< href of assignments.csv, "" when it is not there
  std::string clusters;  ///< href of clusters/, "" when there are no folders
  std::string missing;   ///< when csv is "": how to produce the export
};

/// One plot of training curves.
struct Curve {
  std::string title, xlabel, ylabel, source;
  std::vector<Series> series;
  std::string note;  ///< shown under the plot (e.g. which head was chosen)
};

/// A K sweep of kmeans.h5 (kmeans_sweep.h): silhouette and inertia by K.
struct KSweepPlot {
  std::string source;
  std::vector<int64_t> k;
  std::vector<double> inertia, silhouette;
  int64_t suggested_k = 0;
  std::string rows;  ///< what the silhouettes were computed on (kmeans_sweep.h's sweep_rows_text)
};

/// One near-duplicate group as the page shows it (report_duplicates.h).
struct DuplicateGroupView {
  int64_t id = 0, size = 0;
  std::vector<Tile> tiles;        ///< the group's first rows
  std::vector<int64_t> clusters;  ///< [tiles] each tile's cluster (-1: invalid row)
};

/// The near-duplicates section: present only when a duplicates.csv was given or found.
struct DuplicatesView {
  bool present = false;
  std::string source;  ///< the duplicates.csv read
  std::string rule;    ///< "cosine similarity >= 0.95" from duplicates.json ("" without it)
  std::string knn;     ///< the graph they came from ("" without duplicates.json)
  int64_t groups = 0, rows = 0;
  std::vector<DuplicateGroupView> shown;  ///< the largest groups
};

/// One clustering of --compare, scored against the same labels.
struct MethodScores {
  std::string name, file;
  Scores scores;
  std::string problem;  ///< why it has no scores ("" when scored)
};

struct ReportModel {
  std::string title, features, pred, pred_kind, generated;
  KSweepPlot k_sweep;  ///< empty k: no sweep
  int64_t n = 0, invalid = 0, k = 0;
  std::string confidence_def;
  double mean_confidence = NAN;
  bool has_paths = false;
  bool has_labels = false;
  Scores scores;
  std::vector<MethodScores> methods;       ///< --compare, side by side (with has_labels)
  std::vector<std::string> warnings;       ///< SCAN health warnings (scan.h5 `warnings`), shown at the top
  std::string warnings_source;             ///< the scan.h5 they came from
  Confusion confusion;                     ///< with has_labels
  std::vector<std::string> class_headers;  ///< [confusion.classes] names of the columns
  int64_t confusion_cells = 4000;          ///< the limit the matrix was built under
  std::vector<ClusterView> clusters;       ///< non-empty clusters, by id
  std::vector<Curve> curves;
  int thumb = 64;
  int open_clusters = 32;
  bool has_confidence = false;
  std::string picks_note;      ///< what each cluster shows and the caps
  std::string prototypes_def;  ///< where prototypes come from ("highest confidence", "from scan.h5")
  ExportLinks exported;
  bool lazy = false;  ///< many thumbnails: let the browser load them on scroll
  int64_t thumbs_written = 0, thumbs_failed = 0;
  int64_t thumbs_relative_missing = 0;  ///< of thumbs_failed: a relative id with no file under --image-root
  int64_t thumbs_records = 0;  ///< shown rows that are records in an HDF5 array / CIFAR batch (FILE:INDEX): no file
  std::vector<std::string> failures;  ///< a few "row R: PATH: reason" lines
  std::string gallery_note;           ///< e.g. that the thumbnail budget reduced galleries
  int64_t seed = 1;
  DuplicatesView duplicates;
  MapView map;
};

/// The whole index.html.
std::string render_report(const ReportModel& m);

}  // namespace distclust::report
