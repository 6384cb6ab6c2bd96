#include "cli/suggest.h"

#include <algorithm>
#include <set>

#include "cli/sections.h"
#include "pipeline/run.h"

namespace distclust::cli {

int edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = int(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = int(j);
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 30;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    if (c.compare(0, word.size(), word) == 0) prefixed.push_back(c);
    const int d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (best_d <= std::max<int>(2, int(word.size()) / 3)) return best;
  return prefixed.size() == 1 ? prefixed[0] : "";
}

namespace {

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (CLI::App* s : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(s->get_name());
  return names;
}

/// Long option names (without --) of app and of its parents (--help, --version).
std::vector<std::string> option_names(CLI::App* app) {
  std::vector<std::string> names;
  for (CLI::App* a = app; a; a = a->get_parent())
    for (const CLI::Option* o : a->get_options())
      for (const auto& l : o->get_lnames()) names.push_back(l);
  return names;
}

/// `run` takes stage settings as --set SECTION.KEY=VALUE, not as the
/// subcommands' flags: "--source" -> "--set extract.source=...", naming
/// every stage section with that key (k: kmeans.k, gmm.k, knn.k, ...).
std::string as_set_hint(const std::string& flag) {
  std::string key = flag;
  std::replace(key.begin(), key.end(), '-', '_');
  std::vector<std::string> found;
  const std::set<std::string> wired = run_wired_keys();
  bool only_wired = false;
  each_section([&](auto params, const std::string& section, const std::string&) {
    // run's own flags, and the sections of commands run does not run.
    if (section == "runtime" || section == "run" || section == "synth_features" || section.rfind("bench_", 0) == 0)
      return;
    for (const auto& f : field_names(params)) {
      if (f != key) continue;
      if (wired.count(section + "." + key)) only_wired = true;
      else found.push_back("--set " + section + "." + key + "=...");
    }
  });
  if (found.empty())
    return only_wired ? "; run sets each stage's input and output paths itself, in run.workdir (--workdir DIR)" : "";
  std::string list;
  for (size_t i = 0; i < found.size(); ++i) list += (i ? (i + 1 == found.size() ? "' or '" : "', '") : "") + found[i];
  return "; run takes stage settings as --set SECTION.KEY=VALUE: '" + list + "'";
}

}  // namespace

std::string unknown_argument_hint(CLI::App& app, int argc, char** argv) {
  CLI::App* at = &app;
  std::string path;  // "bench kmeans"
  bool in_subcommand = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      const std::string name = a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2);
      const auto known = option_names(at);
      if (std::find(known.begin(), known.end(), name) != known.end()) continue;
      const std::string set = path == "run" ? as_set_hint(name) : "";
      const std::string guess = set.empty() ? nearest(name, known) : "";
      std::string where = path.empty() ? "distclust" : "'" + path + "'";
      return "unknown option '--" + name + "' for " + where + set +
             (guess.empty() ? "" : "; did you mean '--" + guess + "'?") + " (see " +
             (path.empty() ? "distclust" : "distclust " + path) + " --help)";
    }
    if (a.rfind("-", 0) == 0) continue;  // a short option or a value
    const auto subs = subcommand_names(*at);
    if (std::find(subs.begin(), subs.end(), a) != subs.end()) {
      at = at->get_subcommand(a);
      path += (path.empty() ? "" : " ") + a;
      in_subcommand = true;
      continue;
    }
    // A word that is not a subcommand: after an option it is that option's
    // value; where a subcommand is still needed it is a mistyped one.
    const bool needs_sub = !subs.empty() && (!in_subcommand || at->get_require_subcommand_min() > 0);
    const bool after_option = i > 1 && std::string(argv[i - 1]).rfind("-", 0) == 0;
    if (needs_sub && !after_option) {
      const std::string guess = nearest(a, subs);
      return "unknown subcommand '" + a + "'" + (path.empty() ? "" : " for '" + path + "'") +
             (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (see " +
             (path.empty() ? "distclust" : "distclust " + path) + " --help)";
    }
  }
  return "";
}

}  // namespace distclust::cli
