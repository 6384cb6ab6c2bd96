// `distclust config`: every YAML section and key with its default and
// meaning, generated from the params structs' visit() (the same source as the
// flags and --help), as a commented YAML template or as the README's Markdown
// reference (a test keeps README.md equal to it).
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/sections.h"
#include "distclust/config.h"

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
