// CLI flags generated from a params struct's visit(): --name for each field
// ('_' -> '-'), with the field's doc and default in --help. Flags given on
// the command line are applied after the YAML section and before --set.
// Where a stage and the runtime section share a key, the stage keeps --NAME
// and the runtime's flag is --runtime-NAME (extract: --device, --runtime-device).
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "distclust/config.h"

namespace distclust::cli {

class ParamFlags {
 public:
  template <class P>
  void add(CLI::App* app, const std::string& section, P& params, const std::vector<std::string>& skip = {}) {
    auto v = [&](const char* name, auto& field, const char* doc) {
      for (const auto& s : skip)
        if (s == name) return;
      Entry e{section, name, nullptr, std::make_shared<std::string>(), std::make_shared<bool>(false)};
      std::string flag = "--" + dashed(name);
      // Two sections with one key on one command (runtime.device and
      // extract.device on `extract`): the stage keeps the plain flag, the
      // runtime's says its section (--runtime-device).
      if (CLI::Option* clash = app->get_option_no_throw(flag)) {
        if (section == "runtime") flag = "--runtime-" + dashed(name);
        else rename_runtime_flag(app, clash);
      }
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, bool>) {
        e.opt = app->add_flag(flag + ",!--no-" + dashed(name), *e.flag, doc);
        e.is_bool = true;
      } else {
        e.opt = app->add_option(flag, *e.value, doc)->type_name(type_name<T>(name));
      }
      e.opt->default_str(to_text(field))->group(section_title(section));
      entries_.push_back(e);
    };
    params.visit(v);
  }

  /// Applies the flags given on the command line for `section`.
  template <class P>
  void apply(const std::string& section, P& params) const {
    for (const auto& e : entries_) {
      if (e.section != section || e.opt->count() == 0) continue;
      const std::string value = e.is_bool ? to_text(*e.flag) : *e.value;
      set_field(params, section, list_key(section, e.key, value), value, TextSource::flag);
    }
  }

 private:
  struct Entry {
    std::string section, key;
    CLI::Option* opt;
    std::shared_ptr<std::string> value;
    std::shared_ptr<bool> flag;
    bool is_bool = false;
  };
  /// Moves the runtime flag `opt` to --runtime-NAME (same doc and default).
  void rename_runtime_flag(CLI::App* app, CLI::Option* opt) {
    for (auto& e : entries_) {
      if (e.opt != opt) continue;
      require(e.section == "runtime", "internal: flag ", opt->get_name(), " of two stage sections");
      const std::string doc = opt->get_description(), def = opt->get_default_str(), type = opt->get_type_name();
      const std::string group = opt->get_group();
      app->remove_option(opt);
      e.opt = app->add_option("--runtime-" + dashed(e.key), *e.value, doc)->type_name(type);
      e.opt->default_str(def)->group(group);
      return;
    }
  }
  static std::string dashed(std::string s) {
    for (auto& c : s) c = c == '_' ? '-' : c;
    return s;
  }
  static std::string section_title(const std::string& s) { return "Options (" + s + ":)"; }
  /// --help's type of a field: INT, FLOAT, PATH (files and folders), TEXT,
  /// FLOATS (a list: 1,2,3); FLOAT too for an optional number kept as text.
  template <class T>
  static const char* type_name(const std::string& name) {
    if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) return "INT";
    if constexpr (std::is_same_v<T, double> || std::is_same_v<T, float>) return "FLOAT";
    if constexpr (std::is_same_v<T, std::vector<float>>) return "FLOATS";
    static const char* const paths[] = {"features", "knn", "out", "source", "backbone", "labels", "pred",
                                        "kmeans", "centroids", "init_centroids", "image_root", "log_dir",
                                        "workdir", "json", "list", "run", "reference", "scan", "csv",
                                        "features_out", "export_dir", "duplicates_csv"};
    for (const char* p : paths)
      if (name == p) return "PATH";
    if (name == "duplicates") return "FLOAT";  // a number held as text: empty means off
    return "TEXT";
  }
  std::vector<Entry> entries_;
};

}  // namespace distclust::cli
