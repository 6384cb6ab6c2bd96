// duplicates.csv and duplicates.json (export/duplicates_csv.h).
#include "export/duplicates_csv.h"

#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "export/csv.h"
#include "report/clustering.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace distclust {
namespace {

void write_csv(const std::string& path, const NearDuplicates& d, const std::string& features,
               const std::vector<int64_t>* assign) {
  std::ofstream csv(path, std::ios::binary);
  require(static_cast<bool>(csv), "export: cannot write ", path);
  csv << "group,size,row,path,cluster\n";
  std::vector<int64_t> all;  // one read of /ids for every row in a group
  all.reserve(size_t(d.rows_in_groups()));
  for (const auto& g : d.groups) all.insert(all.end(), g.begin(), g.end());
  const std::vector<std::string> paths = report::image_paths(features, all);
  size_t at = 0;
  for (size_t g = 0; g < d.groups.size(); ++g) {
    const auto& rows = d.groups[g];
    for (size_t i = 0; i < rows.size(); ++i, ++at) {
      std::string cluster = assign ? std::to_string((*assign)[size_t(rows[i])]) : "";
      csv << csv_line({std::to_string(g), std::to_string(rows.size()), std::to_string(rows[i]),
                       spreadsheet_safe(paths[at]), cluster});
    }
  }
  close_checked(csv, path, "export");
}

void write_json(const std::string& path, const NearDuplicates& d) {
  std::ofstream f(path, std::ios::binary);
  require(static_cast<bool>(f), "export: cannot write ", path);
  f << "{\n  \"threshold\": " << to_text(d.rule.threshold) << ",\n  \"metric\": " << json::quote(d.rule.metric)
    << ",\n  \"rule\": " << json::quote(d.rule.describe()) << ",\n  \"knn\": " << json::quote(d.knn)
    << ",\n  \"k\": " << d.k << ",\n  \"rows\": " << d.n << ",\n  \"groups\": " << d.groups.size()
    << ",\n  \"rows_in_groups\": " << d.rows_in_groups()
    << ",\n  \"largest_group\": " << (d.groups.empty() ? 0 : d.groups.front().size()) << "\n}\n";
  close_checked(f, path, "export");
}

}  // namespace

void write_duplicates(const std::string& dir, const NearDuplicates& d, const std::string& features,
                      const std::vector<int64_t>* assign) {
  write_csv((fs::path(dir) / "duplicates.csv").string(), d, features, assign);
  write_json((fs::path(dir) / "duplicates.json").string(), d);
}

}  // namespace distclust
