// The report's near-duplicates section (report_duplicates.h).
#include "report/report_duplicates.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "distclust/config.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "report/html.h"
#include "report/thumbnails.h"

namespace fs = std::filesystem;

namespace distclust::report {

std::string duplicates_csv_file(const std::string& given, bool optional) {
  if (given.empty()) return "";
  std::error_code ec;
  require(fs::exists(given, ec), "report.duplicates_csv: ", given,
          " does not exist (give the duplicates.csv of `distclust export --duplicates`, or its export folder)");
  if (!fs::is_directory(given, ec)) return given;
  const std::string in = (fs::path(given) / "duplicates.csv").string();
  if (fs::exists(in, ec)) return in;
  // A folder the user named was ignored without a word (no section).
  require(optional, "report.duplicates_csv: the folder ", given, " holds no duplicates.csv (`distclust export` ",
          "writes one only with --duplicates; give that export folder or the file)");
  return "";
}

bool read_csv_record(std::istream& in, std::vector<std::string>& fields) {
  fields.clear();
  int c = in.get();
  if (c == EOF) return false;
  std::string f;
  bool quoted = false;
  for (;; c = in.get()) {
    if (c == EOF || (!quoted && c == '\n')) break;
    if (quoted) {
      if (c != '"') f += char(c);
      else if (in.peek() == '"') f += char(in.get());  // "" inside quotes: one quote
      else quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(f);
      f.clear();
    } else if (c != '\r' || in.peek() != '\n') {
      f += char(c);
    }
  }
  fields.push_back(f);
  return true;
}

namespace {

/// A row the strips show, with the path the CSV gives it.
struct Shown {
  int64_t group, row;
  std::string csv_path;
};

/// rule and knn from duplicates.json beside the CSV, when it is there.
void read_sidecar(DuplicatesView& v, const std::string& csv) {
  const std::string path = (fs::path(csv).parent_path() / "duplicates.json").string();
  std::ifstream f(path, std::ios::binary);
  if (!f) return;
  std::stringstream ss;
  ss << f.rdbuf();
  const json::Value j = json::parse(ss.str(), path);
  auto text = [&](const char* key) {
    auto it = j.obj.find(key);
    return it != j.obj.end() && it->second.type == json::Value::Type::string ? it->second.str : std::string();
  };
  v.rule = text("rule");
  v.knn = text("knn");
}

/// Counts groups and rows; returns the rows of the largest groups (the CSV
/// lists groups largest first). Checks what the page relies on.
std::vector<Shown> read_groups(DuplicatesView& v, const std::string& csv, int64_t n) {
  std::ifstream in(csv, std::ios::binary);
  require(static_cast<bool>(in), "report: cannot read ", csv);
  std::vector<std::string> f;
  require(read_csv_record(in, f) && f.size() >= 3 && f[0] == "group" && f[1] == "size" && f[2] == "row", csv,
          ": not a duplicates.csv of `distclust export --duplicates` (its header is group,size,row,path,cluster)");
  std::vector<Shown> shown;
  int64_t line = 1, last = -1, in_group = 0;
  while (read_csv_record(in, f)) {
    ++line;
    if (f.size() == 1 && f[0].empty()) continue;  // a trailing empty line
    require(f.size() >= 4, csv, ": line ", line, " has ", f.size(), " fields (expected group,size,row,path,cluster)");
    int64_t g = 0, size = 0, row = 0;
    const std::string where = fmt(csv, ": line ", line);
    parse_value(where, f[0], g);
    parse_value(where, f[1], size);
    parse_value(where, f[2], row);
    require(g == last || g == last + 1, where, ": group ", g, " after group ", last, " (groups are numbered 0, 1, ...)");
    require(row >= 0 && row < n, where, ": row ", row, " is outside the ", n,
            " rows of the features file: the CSV belongs to other features");
    in_group = g == last ? in_group + 1 : 1;
    last = g;
    ++v.rows;
    if (g < kDuplicateGroupsShown && in_group <= kDuplicateTilesPerGroup) shown.push_back(Shown{g, row, f[3]});
    if (g < kDuplicateGroupsShown && in_group == 1) v.shown.push_back(DuplicateGroupView{g, size, {}, {}});
  }
  v.groups = last + 1;
  return shown;
}

}  // namespace

void add_duplicates(ReportModel& m, const std::string& csv, const Clustering& cl, const std::string& image_root,
                    const std::string& dir, std::set<std::string>& image_dirs) {
  if (csv.empty()) return;
  DuplicatesView& v = m.duplicates;
  v.present = true;
  v.source = csv;
  read_sidecar(v, csv);
  std::vector<Shown> shown = read_groups(v, csv, cl.n);
  std::vector<int64_t> rows;
  for (const auto& s : shown) rows.push_back(s.row);
  const std::vector<std::string> ids =
      cl.has_paths ? image_paths(cl.features, rows) : std::vector<std::string>(rows.size());
  std::vector<std::string> files(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    // export writes a path starting with = + - @ as '=... (export/csv.h)
    require(!cl.has_paths || shown[i].csv_path == ids[i] || shown[i].csv_path == "'" + ids[i], csv, ": row ",
            rows[i], " has path '", shown[i].csv_path, "' but ", cl.features, " /ids holds '", ids[i],
            "': the CSV belongs to other features");
    if (ids[i].empty() || is_array_row_id(ids[i])) continue;
    files[i] = resolve_image_path(ids[i], image_root);
    image_dirs.insert(fs::path(files[i]).parent_path().string());
  }
  const std::vector<Thumb> thumbs = make_thumbnails(rows, files, dir, m.thumb);
  for (size_t i = 0; i < rows.size(); ++i) {
    Tile t;
    t.row = rows[i];
    t.path = ids[i];
    if (!cl.labels.empty() && cl.labels[rows[i]] >= 0) t.label = cl.class_name(cl.labels[rows[i]]);
    if (thumbs[i].ok) {
      t.img = thumbs[i].file, t.width = thumbs[i].width, t.height = thumbs[i].height;
      ++m.thumbs_written;
    } else if (!files[i].empty()) {
      t.problem = thumbs[i].reason;
      ++m.thumbs_failed;
    }
    DuplicateGroupView& g = v.shown[size_t(shown[i].group)];
    g.tiles.push_back(std::move(t));
    g.clusters.push_back(cl.assign.empty() ? -1 : cl.assign[rows[i]]);
  }
  log::info("report: near-duplicates from ", csv, ": ", v.groups, " groups, ", v.rows, " rows");
}

namespace {

/// "similarity >= 0.95" as people write it: "similarity ≥ 0.95".
std::string math_signs(std::string s) {
  for (auto [from, to] : {std::pair<const char*, const char*>{">=", "\u2265"}, {"<=", "\u2264"}}) {
    const size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, 2, to);
  }
  return s;
}

void dup_tile(std::ostringstream& o, const Tile& t, int64_t cluster, int thumb) {
  std::string tip = "row " + std::to_string(t.row) + "\ncluster " + std::to_string(cluster);
  if (!t.path.empty()) tip += "\n" + t.path;
  if (!t.label.empty()) tip += "\nlabel " + t.label;
  if (!t.problem.empty()) tip += "\nunreadable: " + t.problem;
  o << "<figure title=\"" << html_escape(tip) << "\">";
  const bool small = t.width * 2 <= thumb && t.height * 2 <= thumb;  // shown crisp, as in the galleries
  if (!t.img.empty())
    o << "<img src=\"" << html_escape(t.img) << "\" width=\"" << thumb << "\" height=\"" << thumb << "\""
      << (small ? " class=\"px\"" : "") << " loading=\"lazy\" alt=\"row " << t.row << "\">";
  else
    o << "<div class=\"ph" << (t.problem.empty() ? "" : " bad") << "\">"
      << (t.problem.empty() ? "row " + std::to_string(t.row) : std::string("unreadable")) << "</div>";
  o << "<figcaption>#" << t.row << " \u00b7 ";
  if (cluster >= 0)
    o << "<a href=\"#cluster-" << cluster << "\">c" << cluster << "</a>";
  else
    o << "no cluster";
  o << "</figcaption></figure>";
}

}  // namespace

void render_duplicates(std::ostringstream& o, const ReportModel& m) {
  const DuplicatesView& v = m.duplicates;
  if (!v.present) return;
  o << "<section id=\"duplicates\"><h2>Near-duplicates</h2><p>" << v.groups << " groups, " << v.rows
    << " rows in groups";
  if (m.n > 0) o << " (" << fixed(100.0 * double(v.rows) / double(m.n), 1) << "% of " << m.n << " rows)";
  o << ". ";
  if (!v.rule.empty())
    o << "Rows are joined when their kNN " << html_escape(math_signs(v.rule)) << (v.knn.empty() ? "" : " in " + html_escape(v.knn))
      << ", in either neighbour list; a group is a connected set of such rows. ";
  o << "All groups: <code>" << html_escape(v.source) << "</code>.</p>";
  if (v.groups == 0) o << "<p class=\"note\">No near-duplicates at this threshold.</p>";
  if (v.groups > int64_t(v.shown.size()))
    o << "<p class=\"note\">The " << v.shown.size() << " largest groups are shown.</p>";
  for (const auto& g : v.shown) {
    o << "<div class=\"dupgroup\" data-group=\"" << g.id << "\"><h4>Group " << g.id << " \u00b7 " << g.size
      << " rows" << (g.size > int64_t(g.tiles.size()) ? " (first " + std::to_string(g.tiles.size()) + " shown)" : "")
      << "</h4><div class=\"gallery\">";
    for (size_t i = 0; i < g.tiles.size(); ++i) dup_tile(o, g.tiles[i], g.clusters[i], m.thumb);
    o << "</div></div>";
  }
  o << "</section>";
}

}  // namespace distclust::report
