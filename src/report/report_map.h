// Internal to src/report: the report's 2-D map of the data. Points are rows
// placed by a 2-D embedding (embed.h5 of `distclust embed --dim 2`, or one
// the report computes on a sample, report_map.cpp), coloured by cluster; the
// page draws them on a canvas (100,000 points stay fast and small, where an
// SVG of circles would not), shows the image and its path on hover, and has
// a legend by cluster whose entries highlight their cluster.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace distclust::report {

struct ReportModel;
struct Clustering;

/// The map as the page shows it.
struct MapView {
  bool present = false;
  std::string source;               ///< where the coordinates come from (a file, or "computed ...")
  std::string note;                 ///< why there is no map, or how it was made
  int64_t rows_total = 0;           ///< rows of the data set
  std::vector<float> xy;            ///< [points x 2]
  std::vector<int64_t> rows;        ///< [points] global rows
  std::vector<int64_t> cluster;     ///< [points], -1 invalid
  std::vector<std::string> paths;   ///< [points] image paths ("" when none)
  std::vector<std::string> labels;  ///< [points] class names ("" when unknown)
};

/// The keyed sample of at most `max_rows` valid rows of cl (all when fewer),
/// ascending: the same rows for one seed whatever the rank count.
std::vector<int64_t> map_sample_rows(const Clustering& cl, int64_t max_rows, int64_t seed);

/// Fills m.map from a 2-D features file `coords` ([N x 2] /features, same N
/// as cl) at the rows `rows`. Throws naming the file when it is not [N x 2].
void map_from_file(ReportModel& m, const Clustering& cl, const std::string& coords, const std::vector<int64_t>& rows);

/// Fills m.map from coordinates xy [rows x 2] computed for `rows`.
void map_from_points(ReportModel& m, const Clustering& cl, const std::vector<float>& xy,
                     const std::vector<int64_t>& rows, const std::string& source);

/// A 2-D layout [rows x 2] of the given rows of a features file: the
/// embed stage's UMAP layout (embed/embed.h) of those rows' own exact cosine
/// kNN graph (k = 15), on this process alone.
std::vector<float> compute_map_xy(const std::string& features, const std::vector<int64_t>& rows, int64_t seed);

/// <section id="map"> (a note when there is none).
void render_map(std::ostringstream& o, const ReportModel& m);

}  // namespace distclust::report
