// `distclust config`: every YAML section and key with its default and
// meaning, generated from the params structs' visit() (the same source as the
// flags and --help), as a commented YAML template or as the README's Markdown
// reference (a test keeps README.md equal to it).
#include <iostream>
#include <sstream>

#include "cli/bench_params.h"
#include "cli/commands.h"
#include "distclust/config.h"
#include "extract/extract_bench.h"
#include "pipeline/run.h"
#include "pipeline/stage_table.h"
#include "distclust/runtime.h"
#include "synth/synth_features.h"

namespace distclust::cli {

namespace {

std::string shown(const std::string& text) { return text.empty() ? "\"\"" : text; }

std::string escape_pipes(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

struct Markdown {
  std::ostream& os;
  template <class P>
  void operator()(P p, const std::string& section, const std::string& used_by) const {
  os << "`" << section << ":` (" << used_by << ")\n\n| key | default | meaning |\n|---|---|---|\n";
  auto v = [&](const char* name, auto& field, const char* doc) {
    os << "| " << name << " | " << escape_pipes(shown(to_text(field))) << " | " << escape_pipes(doc) << " |\n";
  };
  p.visit(v);
  os << "\n";
  }
};

struct Yaml {
  std::ostream& os;
  template <class P>
  void operator()(P p, const std::string& section, const std::string& used_by) const {
  os << section << ":  # " << used_by << "\n";
  auto v = [&](const char* name, auto& field, const char* doc) {
    os << "  " << name << ": " << shown(to_text(field)) << "  # " << doc << "\n";
  };
  p.visit(v);
  os << "\n";
  }
};

/// Every section, in pipeline order, with the commands that read it.
template <class F>
void each_section(F&& f) {
  f(RuntimeParams{}, "runtime", "every command");
  f(RunParams{}, "run", "`distclust run`");
  for_each_stage([&](const auto& def) {
    std::string cmd;
    for (const auto& c : def.command) cmd += " " + c;
    f(typename std::decay_t<decltype(def)>::Params{}, def.name,
      "`distclust" + cmd + "`; the run stage " + def.name + (def.name == "extract" ? "; `distclust bench extract`" : ""));
  });
  f(SynthFeaturesParams{}, "synth_features", "`distclust synth features`");
  f(BenchKMeansParams{}, "bench_kmeans", "`distclust bench kmeans`");
  f(BenchKnnParams{}, "bench_knn", "`distclust bench knn`");
  f(BenchExtractParams{}, "bench_extract", "`distclust bench extract`");
}

}  // namespace

void add_config_command(CLI::App& app) {
  static bool md = false;
  auto* cmd = app.add_subcommand(
      "config", "Print every config section and key with its default and meaning (a YAML template, or --markdown)");
  cmd->add_flag("--markdown", md, "print the Markdown reference (README.md's config reference) instead of YAML");
  cmd->callback([] {
    std::ostringstream os;
    if (md)
      each_section(Markdown{os});
    else
      each_section(Yaml{os});
    std::cout << os.str();
  });
}

}  // namespace distclust::cli
