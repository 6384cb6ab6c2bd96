// The report page: static HTML, inline CSS, inline SVG; no script, no
// resource from the network.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "eval/score_text.h"
#include "report/html.h"
#include "report/report_duplicates.h"
#include "report/report_model.h"

namespace distclust::report {

namespace {

const char* kStyle = R"CSS(
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#2b3e50;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.85}
nav{padding:8px 24px;background:#e9edf2;font-size:13px}
nav a{margin-right:14px}
main{padding:8px 24px 40px}
h2{margin:28px 0 10px;font-size:18px;border-bottom:1px solid #d5dbe2;padding-bottom:4px}
a{color:#1f5f9e}
table{border-collapse:collapse;background:#fff;margin:6px 0}
th,td{border:1px solid #d5dbe2;padding:3px 8px;text-align:right}
th{background:#eef1f5}
td.l,th.l{text-align:left}
table.kv td:first-child{text-align:left;font-weight:600;background:#f3f5f8}
table.kv td{text-align:left}
table.cm td{min-width:28px;font-size:12px}
table.cm th{font-size:12px}
.plots{display:flex;flex-wrap:wrap;gap:16px}
.plots figure{margin:0;background:#fff;border:1px solid #d5dbe2;padding:4px}
.plots figcaption{font-size:12px;color:#555;max-width:640px}
.scroll{overflow:auto;max-height:640px}
section.cluster{background:#fff;border:1px solid #d5dbe2;border-radius:6px;margin:12px 0;padding:8px 12px}
section.cluster h3{margin:0 0 4px;font-size:16px}
.meta{font-weight:normal;color:#555;font-size:13px}
section.cluster h4{margin:6px 0 4px;font-size:13px;color:#444}
.sheet{display:flex;flex-wrap:wrap;gap:2px 22px;align-items:flex-start}
.strip{min-width:160px}
.gallery{display:flex;flex-wrap:wrap;gap:6px}
.gallery a{display:block}
.folder{font-size:13px;font-weight:normal;margin-left:8px}
.gallery figure{margin:0;width:max(var(--t),76px);font-size:11px;color:#444;text-align:center}
.gallery img,.gallery .ph{width:var(--t);height:var(--t);object-fit:contain;background:#eee;border:1px solid #ccc;display:block;margin:0 auto}
.gallery img.px{image-rendering:pixelated}
.gallery figcaption{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ph{display:flex!important;align-items:center;justify-content:center;color:#777;font-size:11px;box-sizing:border-box}
.ph.bad{background:repeating-linear-gradient(45deg,#fde8e8,#fde8e8 6px,#f8d4d4 6px,#f8d4d4 12px)!important;color:#a33}
.note{color:#555;font-size:13px}
.gallery figcaption.off{color:#b22;font-weight:600}
summary{cursor:pointer;color:#1f5f9e}
.warnbox{background:#fff4d6;border:2px solid #c98a00;border-radius:6px;margin:14px 0 4px;padding:8px 14px;color:#4a3300}
.warnbox h2{margin:0 0 4px;border:0;font-size:17px;color:#8a4b00}
.warnbox ul{margin:4px 0;padding-left:20px}
)CSS";

std::string conf_text(double v) { return std::isnan(v) ? "\u2013" : fixed(v, 3); }

std::string thousands(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string pct(double num_, double den) { return den > 0 ? fixed(100.0 * num_ / den, 1) + "%" : "\u2013"; }

// majority: the cluster's majority class name ("" when none); a tile with another label shows it in red.
void tile(std::ostringstream& o, const Tile& t, int thumb, bool lazy, const std::string& majority = "") {
  std::string cap = "#" + std::to_string(t.row);
  if (!std::isnan(t.confidence)) cap += " \u00b7 " + fixed(t.confidence, 2);
  std::string tip = "row " + std::to_string(t.row);
  if (!t.path.empty()) tip += "\n" + t.path;
  if (!std::isnan(t.confidence)) tip += "\nconfidence " + fixed(t.confidence, 4);
  if (!t.label.empty()) tip += "\nlabel " + t.label;
  if (!t.problem.empty()) tip += "\nunreadable: " + t.problem;
  o << "<figure title=\"" << html_escape(tip) << "\">";
  // The thumbnail opens the image file itself (the title shows its path).
  if (!t.href.empty()) o << "<a href=\"" << html_escape(t.href) << "\">";
  if (!t.img.empty()) {
    bool small = t.width * 2 <= thumb && t.height * 2 <= thumb;
    o << "<img src=\"" << html_escape(t.img) << "\" width=\"" << thumb << "\" height=\"" << thumb << "\""
      << (small ? " class=\"px\"" : "") << (lazy ? " loading=\"lazy\"" : "") << " alt=\"row " << t.row << "\">";
  } else if (!t.problem.empty()) {
    o << "<div class=\"ph bad\">unreadable</div>";
  } else {
    o << "<div class=\"ph\">row " << t.row << "</div>";
  }
  if (!t.href.empty()) o << "</a>";
  o << "<figcaption>" << html_escape(cap) << "</figcaption>";
  if (!t.label.empty())
    o << "<figcaption" << (!majority.empty() && t.label != majority ? " class=\"off\"" : "") << ">"
      << html_escape(t.label) << "</figcaption>";
  o << "</figure>";
}

// Links to assignments.csv and the cluster folders, or how to make them.
std::string export_text(const ExportLinks& e) {
  if (e.csv.empty()) return "<span class=\"note\" id=\"export-missing\">" + html_escape(e.missing) + "</span>";
  std::string s = "<a id=\"export-csv\" href=\"" + html_escape(e.csv) + "\">assignments.csv</a>";
  if (!e.clusters.empty())
    s += " \u00b7 <a id=\"export-clusters\" href=\"" + html_escape(e.clusters) + "\">cluster folders</a>";
  return s;
}

void summary(std::ostringstream& o, const ReportModel& m) {
  o << "<section id=\"summary\"><h2>Summary</h2><table class=\"kv\">";
  auto row = [&](const std::string& k, const std::string& v) {
    o << "<tr><td>" << html_escape(k) << "</td><td>" << v << "</td></tr>";
  };
  row("Features", html_escape(m.features));
  row("Predictions", html_escape(m.pred) + " (" + html_escape(m.pred_kind) + ")");
  row("Rows", thousands(m.n) + (m.invalid ? " (" + thousands(m.invalid) + " invalid, in no cluster)" : ""));
  row("Clusters", thousands(int64_t(m.clusters.size())) + " non-empty of " + thousands(m.k));
  row("Confidence", html_escape(m.confidence_def));
  row("Mean confidence", conf_text(m.mean_confidence));
  row("Images", m.has_paths ? "paths in /ids" : "none: /ids holds row indices, galleries show row numbers");
  if (m.has_paths)
    row("Thumbnails", thousands(m.thumbs_written) + " written, " + thousands(m.thumbs_failed) + " unreadable");
  row("Export", export_text(m.exported));
  row("Member draw seed", std::to_string(m.seed));
  row("Generated", html_escape(m.generated));
  o << "</table>";
  if (!m.gallery_note.empty()) o << "<p class=\"note\">" << html_escape(m.gallery_note) << "</p>";
  if (!m.failures.empty()) {
    o << "<details><summary>Unreadable images (" << m.thumbs_failed << ")</summary><ul>";
    for (const auto& f : m.failures) o << "<li>" << html_escape(f) << "</li>";
    if (m.thumbs_failed > int64_t(m.failures.size())) o << "<li>\u2026</li>";
    o << "</ul></details>";
  }
  o << "</section>";
}

// The SCAN health warnings, loud, before anything else on the page.
void warning_box(std::ostringstream& o, const ReportModel& m) {
  if (m.warnings.empty()) return;
  o << "<section class=\"warnbox\" id=\"warnings\"><h2>&#9888; Warning: the SCAN training did not end well</h2>"
       "<p>The clustering below may not be usable. Checks of "
    << html_escape(m.warnings_source) << " (no labels needed):</p><ul>";
  for (const auto& w : m.warnings) o << "<li>" << html_escape(w) << "</li>";
  o << "</ul></section>";
}

// Every --compare clustering against the same labels, one row each.
void methods_table(std::ostringstream& o, const ReportModel& m) {
  if (m.methods.empty()) return;
  o << "<h3>Side by side</h3><table class=\"methods\"><tr><th class=\"l\">method</th><th class=\"l\">file</th>"
       "<th>ACC</th><th>NMI</th><th>ARI</th><th>clusters</th></tr>";
  for (const auto& ms : m.methods) {
    o << "<tr data-method=\"" << html_escape(ms.name) << "\"><td class=\"l\">" << html_escape(ms.name)
      << (ms.file == m.pred ? " (shown in this report)" : "") << "</td><td class=\"l\">" << html_escape(ms.file)
      << "</td>";
    if (!ms.problem.empty())
      o << "<td colspan=\"4\" class=\"l\">not scored: " << html_escape(ms.problem) << "</td>";
    else
      o << "<td>" << score_text(ms.scores.acc, 4) << "</td><td>" << score_text(ms.scores.nmi, 4) << "</td><td>"
        << score_text(ms.scores.ari, 4) << "</td><td>" << ms.scores.clusters << "</td>";
    o << "</tr>";
  }
  o << "</table>";
}

void metrics(std::ostringstream& o, const ReportModel& m) {
  const Scores& s = m.scores;
  o << "<section id=\"metrics\"><h2>Metrics</h2><table class=\"metrics\"><tr><th>ACC</th><th>NMI</th><th>ARI</th>"
       "<th>labelled rows</th><th>clusters</th><th>classes</th><th class=\"l\">ACC mapping</th></tr><tr><td>"
    << score_text(s.acc, 4) << "</td><td>" << score_text(s.nmi, 4) << "</td><td>" << score_text(s.ari, 4) << "</td><td>"
    << thousands(s.n) << "</td><td>" << s.clusters << "</td><td>" << s.classes << "</td><td class=\"l\">"
    << (s.many_to_one ? "many-to-one majority (more clusters than classes)" : "Hungarian one-to-one")
    << "</td></tr></table>";
  methods_table(o, m);
  o << "</section>";
}

void confusion(std::ostringstream& o, const ReportModel& m) {
  const Confusion& c = m.confusion;
  o << "<section id=\"confusion\"><h2>Confusion matrix</h2>";
  if (!c.dense()) {
    o << "<p class=\"note\">" << c.clusters.size() << " clusters \u00d7 " << c.classes.size()
      << " classes is too large to draw (limit " << m.confusion_cells
      << " cells, --confusion-cells); the cluster table below gives each cluster's majority class and purity.</p>"
         "</section>";
    return;
  }
  // Rows ordered by majority class so that a good clustering reads as a diagonal.
  std::vector<size_t> order(c.clusters.size()), arg(c.clusters.size());
  std::vector<int64_t> total(c.clusters.size(), 0);
  for (size_t r = 0; r < c.clusters.size(); ++r) {
    order[r] = r;
    for (size_t j = 0; j < c.classes.size(); ++j) {
      total[r] += c.at(r, j);
      if (c.at(r, j) > c.at(r, arg[r])) arg[r] = j;
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (arg[a] != arg[b]) return arg[a] < arg[b];
    return c.at(a, arg[a]) > c.at(b, arg[b]);
  });
  o << "<p class=\"note\">Rows: clusters; columns: classes; cells: labelled rows. Shading: share of the cluster's "
       "labelled rows.</p><div class=\"scroll\"><table class=\"cm\"><tr><th>cluster</th>";
  for (size_t j = 0; j < c.classes.size(); ++j) o << "<th>" << html_escape(m.class_headers[j]) << "</th>";
  o << "<th>total</th></tr>";
  for (size_t r : order) {
    o << "<tr><th><a href=\"#cluster-" << c.clusters[r] << "\">" << c.clusters[r] << "</a></th>";
    for (size_t j = 0; j < c.classes.size(); ++j) {
      int64_t v = c.at(r, j);
      double a = total[r] ? double(v) / double(total[r]) : 0;
      o << "<td";
      if (v)
        o << " style=\"background:rgba(31,95,158," << fixed(0.08 + 0.85 * a, 2) << ")" << (a > 0.5 ? ";color:#fff" : "")
          << "\"";
      o << ">" << (v ? std::to_string(v) : "") << "</td>";
    }
    o << "<td>" << total[r] << "</td></tr>";
  }
  o << "</table></div></section>";
}

void sizes(std::ostringstream& o, const ReportModel& m) {
  o << "<section id=\"sizes\"><h2>Cluster sizes</h2><div class=\"plots\"><figure>";
  const auto& cs = m.clusters;
  if (cs.size() <= 200) {
    std::vector<double> v;
    std::vector<std::string> lab, href;
    for (const auto& c : cs) {
      v.push_back(double(c.size));
      lab.push_back(std::to_string(c.id));
      href.push_back("#cluster-" + std::to_string(c.id));
    }
    o << svg_bars("Rows per cluster", "cluster", "rows", v, lab, href,
                  std::max(480, std::min(1200, int(cs.size()) * 24 + 80)));
  } else {
    int64_t lo = cs.front().size, hi = lo;
    for (const auto& c : cs) lo = std::min(lo, c.size), hi = std::max(hi, c.size);
    // Whole-number bins, each labelled with the sizes it counts: a
    // fractional width labelled by its floor put size-7 clusters under "5".
    const int64_t w = (hi - lo + 1 + 29) / 30, bins = (hi - lo + 1 + w - 1) / w;
    std::vector<double> v(size_t(bins), 0);
    std::vector<std::string> lab(static_cast<size_t>(bins));
    for (const auto& c : cs) v[size_t((c.size - lo) / w)] += 1;
    for (int64_t b = 0; b < bins; ++b) {
      const int64_t a = lo + b * w, z = std::min(hi, a + w - 1);
      lab[size_t(b)] = a == z ? std::to_string(a) : std::to_string(a) + "\u2013" + std::to_string(z);
    }
    o << svg_bars("Histogram of cluster sizes", "rows in the cluster", "clusters", v, lab, {}, 900);
  }
  o << "</figure></div></section>";
}

void curves(std::ostringstream& o, const ReportModel& m) {
  if (m.curves.empty()) return;
  o << "<section id=\"curves\"><h2>Training curves</h2><div class=\"plots\">";
  for (const auto& c : m.curves) {
    o << "<figure>" << svg_lines(c.title, c.xlabel, c.ylabel, c.series) << "<figcaption>" << html_escape(c.source)
      << (c.note.empty() ? "" : ". ") << html_escape(c.note) << "</figcaption></figure>";
  }
  o << "</div></section>";
}

/// Choosing K: sampled silhouette and inertia by K, the suggested K marked.
void k_sweep(std::ostringstream& o, const ReportModel& m) {
  const KSweepPlot& s = m.k_sweep;
  if (s.k.empty()) return;
  std::vector<std::string> labels;
  for (int64_t k : s.k) labels.push_back(k == s.suggested_k ? std::to_string(k) + " (suggested)" : std::to_string(k));
  std::vector<double> inertia(s.inertia.begin(), s.inertia.end()), sil(s.silhouette.begin(), s.silhouette.end());
  o << "<section id=\"k-sweep\"><h2>Choosing K</h2><p>k-means at each K of the sweep; suggested K = <b>"
    << s.suggested_k << "</b>, the highest mean silhouette on " << html_escape(s.rows)
    << " (1 = tight, well-separated clusters; 0 = overlapping). Inertia always falls as K grows: "
       "look for where it stops falling fast.</p><div class=\"plots\"><figure>"
    << svg_bars("Mean silhouette by K (sampled)", "K", "silhouette", sil, labels)
    << "</figure><figure>" << svg_bars("Inertia by K", "K", "inertia", inertia, labels) << "<figcaption>"
    << html_escape(s.source) << "</figcaption></figure></div></section>";
}

void cluster_table(std::ostringstream& o, const ReportModel& m) {
  o << "<div class=\"scroll\"><table class=\"clusters\"><tr><th>cluster</th><th>rows</th><th>share</th>"
       "<th>mean confidence</th>";
  if (m.has_labels) o << "<th class=\"l\">majority class</th><th>purity</th>";
  o << "</tr>";
  for (const auto& c : m.clusters) {
    o << "<tr><td><a href=\"#cluster-" << c.id << "\">" << c.id << "</a></td><td>" << thousands(c.size) << "</td><td>"
      << pct(double(c.size), double(m.n - m.invalid)) << "</td><td>" << conf_text(c.mean_confidence) << "</td>";
    if (m.has_labels)
      o << "<td class=\"l\">" << html_escape(c.majority_name) << "</td><td>"
        << pct(double(c.majority.count), double(c.majority.labelled)) << "</td>";
    o << "</tr>";
  }
  o << "</table></div>";
}

void strip(std::ostringstream& o, const char* kind, const std::string& heading, const std::vector<Tile>& tiles,
           const std::string& empty, const ReportModel& m, const std::string& majority) {
  o << "<div class=\"strip\" data-strip=\"" << kind << "\"><h4>" << html_escape(heading) << "</h4>";
  if (tiles.empty()) {
    o << "<p class=\"note\">" << html_escape(empty) << "</p>";
  } else {
    o << "<div class=\"gallery\">";
    for (const auto& t : tiles) tile(o, t, m.thumb, m.lazy, majority);
    o << "</div>";
  }
  o << "</div>";
}

// A cluster's contact sheet, always shown: prototypes, least confident and
// mismatched members side by side; the random members fold away at many clusters.
void cluster_sheet(std::ostringstream& o, const ClusterView& c, const ReportModel& m, bool open) {
  o << "<div class=\"sheet\">";
  // Without confidence there are no prototypes: the random members are the sheet.
  const bool members_first = c.prototypes.empty() && !m.has_confidence;
  if (members_first)
    strip(o, "members", "Random members (no confidence to rank by)", c.members, "none", m, c.majority_name);
  else
    strip(o, "prototypes", "Prototypes (" + m.prototypes_def + ")", c.prototypes, "none", m, c.majority_name);
  strip(o, "least", "Least confident", c.least,
        m.has_confidence ? "none beyond the prototypes" : "no confidence in the predictions", m, c.majority_name);
  std::string odd = "Label not the majority class";
  if (c.majority.cls >= 0) {
    odd = "Label not " + c.majority_name;
    if (c.mismatched_total) odd += " (" + std::to_string(c.mismatched.size()) + " of " + thousands(c.mismatched_total) + ")";
  }
  strip(o, "mismatched", odd, c.mismatched,
        !m.has_labels          ? "no labels"
        : c.majority.cls < 0   ? "no labelled members"
        : c.mismatched_total   ? "none shown (--mismatched 0)"
                               : "none: every labelled member is " + c.majority_name,
        m, c.majority_name);
  o << "</div>";
  if (!c.members.empty() && !members_first) {
    o << "<details class=\"members\"" << (open ? " open" : "") << "><summary>" << c.members.size()
      << " random members</summary><div class=\"gallery\">";
    for (const auto& t : c.members) tile(o, t, m.thumb, m.lazy, c.majority_name);
    o << "</div></details>";
  }
}

void cluster_sections(std::ostringstream& o, const ReportModel& m) {
  o << "<section id=\"clusters\"><h2>Clusters</h2>";
  cluster_table(o, m);
  o << "<p class=\"note\">" << html_escape(m.picks_note) << " Export: " << export_text(m.exported) << "</p>";
  const bool open = int64_t(m.clusters.size()) <= m.open_clusters;
  for (const auto& c : m.clusters) {
    o << "<section class=\"cluster\" id=\"cluster-" << c.id << "\" data-cluster=\"" << c.id << "\"><h3>Cluster " << c.id
      << " <span class=\"meta\">" << thousands(c.size) << " rows \u00b7 mean confidence "
      << conf_text(c.mean_confidence);
    if (c.majority.cls >= 0)
      o << " \u00b7 majority " << html_escape(c.majority_name) << " ("
        << pct(double(c.majority.count), double(c.majority.labelled)) << " of labelled)";
    o << "</span>";
    if (!c.folder.empty()) o << "<a class=\"folder\" href=\"" << html_escape(c.folder) << "\">folder</a>";
    o << "</h3>";
    if (!c.gallery) {
      o << "<p class=\"note\">Thumbnails omitted: the thumbnail budget (--max-thumbs) was spent on larger clusters.</p>";
    } else {
      cluster_sheet(o, c, m, open);
    }
    o << "</section>";
  }
  o << "</section>";
}

}  // namespace

std::string render_report(const ReportModel& m) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       "<meta name=\"generator\" content=\"distclust\"><title>"
    << html_escape(m.title) << "</title><style>" << kStyle << ".gallery{--t:" << m.thumb << "px}</style></head><body>";
  o << "<header><h1>" << html_escape(m.title) << "</h1><p>" << thousands(m.n) << " rows in " << m.clusters.size()
    << " clusters";
  if (m.has_labels)
    o << " \u00b7 ACC " << score_text(m.scores.acc, 3) << " \u00b7 NMI " << score_text(m.scores.nmi, 3) << " \u00b7 ARI "
      << score_text(m.scores.ari, 3);
  o << "</p></header><nav><a href=\"#summary\">Summary</a>";
  if (m.has_labels) o << "<a href=\"#metrics\">Metrics</a><a href=\"#confusion\">Confusion matrix</a>";
  o << "<a href=\"#map\">Map</a><a href=\"#sizes\">Cluster sizes</a>";
  if (!m.curves.empty()) o << "<a href=\"#curves\">Training curves</a>";
  if (!m.k_sweep.k.empty()) o << "<a href=\"#k-sweep\">Choosing K</a>";
  if (m.duplicates.present) o << "<a href=\"#duplicates\">Near-duplicates</a>";
  o << "<a href=\"#clusters\">Clusters</a></nav><main>";
  warning_box(o, m);
  summary(o, m);
  if (m.has_labels) {
    metrics(o, m);
    confusion(o, m);
  }
  render_map(o, m);
  sizes(o, m);
  curves(o, m);
  k_sweep(o, m);
  render_duplicates(o, m);
  cluster_sections(o, m);
  o << "</main></body></html>\n";
  return o.str();
}

}  // namespace distclust::report
