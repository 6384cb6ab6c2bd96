// Internal to src/report: the near-duplicates section, from the
// duplicates.csv (and duplicates.json beside it) that `distclust export
// --duplicates` writes (export/duplicates_csv.h). It is shown only when such
// a file is given (--duplicates-csv FILE, or the export folder holding it;
// a run passes its export folder when export runs before report): the group
// count, the rows in groups, and the largest groups as thumbnail strips.
#pragma once

#include <istream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "report/clustering.h"
#include "report/report_model.h"

namespace distclust::report {

/// Groups shown as strips, and rows shown per group (outside --max-thumbs:
/// at most 120 thumbnails more).
constexpr int kDuplicateGroupsShown = 12;
constexpr int kDuplicateTilesPerGroup = 10;

/// The duplicates.csv that `given` names: the file itself, or FOLDER/duplicates.csv;
/// "" when given is "". Throws when `given` does not exist, or is a folder
/// without one (`optional`, a run's own export folder: "" then).
std::string duplicates_csv_file(const std::string& given, bool optional);

/// One RFC 4180 record (quoted fields may hold commas, quotes, line breaks;
/// CRLF or LF ends a record) into fields; false at the end of the input.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields);

/// Fills m.duplicates from csv (rows checked against the clustering's
/// features: in range, paths equal to /ids) and writes the strips'
/// thumbnails into dir; image_dirs gets the folders of the images shown.
void add_duplicates(ReportModel& m, const std::string& csv, const Clustering& cl, const std::string& image_root,
                    const std::string& dir, std::set<std::string>& image_dirs);

/// <section id="duplicates">, when m.duplicates.present.
void render_duplicates(std::ostringstream& o, const ReportModel& m);

}  // namespace distclust::report
