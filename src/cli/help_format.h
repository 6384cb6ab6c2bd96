// --help as a user reads it: a boolean flag with its --no- form shows as
// "--[no-]name BOOL=true" instead of CLI11's raw "--name,--no-name{false}=true".
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace distclust::cli {

class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* opt, bool positional) const override {
    if (const std::string n = negatable(opt); !positional && !n.empty()) return "--[no-]" + n;
    return CLI::Formatter::make_option_name(opt, positional);
  }
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!negatable(opt).empty()) return " BOOL=" + opt->get_default_str();
    return CLI::Formatter::make_option_opts(opt);
  }

 private:
  /// "name" when opt is a flag --name with a --no-name form, else "".
  static std::string negatable(const CLI::Option* opt) {
    for (const auto& a : opt->get_lnames())
      for (const auto& b : opt->get_fnames())  // the names that set false
        if (b == "no-" + a) return a;
    return "";
  }
};

}  // namespace distclust::cli
