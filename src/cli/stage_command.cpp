#include "cli/stage_command.h"

namespace distclust::cli {

CLI::App* subcommand_path(CLI::App& app, const std::vector<std::string>& names, const std::string& help) {
  CLI::App* at = &app;
  for (size_t i = 0; i < names.size(); ++i) {
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands([](CLI::App*) { return true; }))
      if (sub->get_name() == names[i]) next = sub;
    if (!next) next = at->add_subcommand(names[i], i + 1 == names.size() ? help : std::string());
    at = next;
  }
  return at;
}

}  // namespace distclust::cli
