// Config: YAML file + CLI flags + --set overrides -> params structs.
//
// Precedence (later wins): struct defaults < YAML section < CLI flags <
// --set section.key=value. Every YAML section maps 1:1 to one params struct
// (params.h); an unknown section or key is an error that names it. The
// resolved values are dumped as YAML beside the outputs and hashed so a stage
// can tell whether its existing output was made with the same settings.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <utility>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "distclust/error.h"

namespace distclust {

/// `~` at the start (alone or before '/') becomes $HOME; $VAR and ${VAR}
/// become the environment variable's value (so a config may say
/// /lustre/$USER/run); "$$" is a literal "$". An unset variable is an error
/// naming `where` ("section.key") and the variable.
std::string expand_env(const std::string& where, const std::string& text);

/// Parses text into a field, with errors naming "section.key".
void parse_value(const std::string& where, const std::string& text, bool& out);
void parse_value(const std::string& where, const std::string& text, int& out);
void parse_value(const std::string& where, const std::string& text, int64_t& out);
void parse_value(const std::string& where, const std::string& text, double& out);
void parse_value(const std::string& where, const std::string& text, float& out);
/// Text values are expanded as a shell would expand a path (expand_env).
void parse_value(const std::string& where, const std::string& text, std::string& out);

/// Where a value comes from. A config file or --set: spaces around it are
/// trimmed and ~ and $VAR expanded (expand_env). A command-line flag: the
/// shell expanded it already, so it is taken as given (a second expansion
/// wrote --out 'o/km$x.h5' to o/kmzzz.h5, and ' g.h5' was trimmed to
/// g.h5); only a leading ~/ is expanded (`--out=~/x` reaches us as
/// typed), and a blank value counts as empty.
enum class TextSource { config, flag };
void parse_value(const std::string& where, const std::string& text, std::string& out, TextSource source);
void parse_value(const std::string& where, const std::string& text, std::vector<float>& out);

/// The items of a comma-separated list ("kmeans, knn,,scan"), each trimmed
/// of spaces, empty ones dropped: run.stages and lists of numbers.
std::vector<std::string> split_list(const std::string& text);

std::string to_text(bool v);
std::string to_text(int v);
std::string to_text(int64_t v);
std::string to_text(double v);
std::string to_text(float v);
std::string to_text(const std::string& v);
std::string to_text(const std::vector<float>& v);
/// A field's value as YAML: numbers, booleans and float lists as to_text;
/// text always double-quoted with \ and " escaped, so that any path reads
/// back as itself ("[2024] photos", "-x", "null", "a: b" included).
template <class T> std::string yaml_text(const T& v) { return to_text(v); }
std::string yaml_text(const std::string& v);

/// Sets field `key` of params from text; returns false when no field has that name.
template <class P>
bool set_field(P& params, const std::string& section, const std::string& key, const std::string& text,
               TextSource source = TextSource::config) {
  bool found = false;
  auto v = [&](const char* name, auto& field, const char*) {
    if (key == name) {
      if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::string>)
        parse_value(section + "." + key, text, field, source);
      else
        parse_value(section + "." + key, text, field);
      found = true;
    }
  };
  params.visit(v);
  return found;
}

/// A list given to a key that takes one number, where the section has a key
/// for the list: kmeans.k 5,10,20 (or 5:50:5) sets kmeans.sweep, as a flag,
/// a --set or the YAML (only --k took it, and `k: 5,10` was "not an integer").
inline std::string list_key(const std::string& section, const std::string& key, const std::string& value) {
  const bool list = value.find_first_of(",:") != std::string::npos;
  if (list && section == "kmeans" && key == "k") return "sweep";
  return key;
}

/// Field names of params, in declaration order.
template <class P>
std::vector<std::string> field_names(P& params) {
  std::vector<std::string> names;
  auto v = [&](const char* name, auto&, const char*) { names.emplace_back(name); };
  params.visit(v);
  return names;
}

/// The loaded YAML plus ordered --set overrides.
class Config {
 public:
  /// Loads path (empty path -> empty config). Errors name the file and line.
  static Config load(const std::string& path);
  /// Parses YAML text (e.g. the `params` attribute an output stores); `name`
  /// stands for the file in errors.
  static Config parse(const std::string& text, const std::string& name);

  /// Adds an override "section.key=value" (or "key=value" meaning default_section).
  void add_override(const std::string& kv, const std::string& default_section);

  /// Applies YAML section `section` then overrides for it to params.
  /// Unknown keys in either are errors naming the key and listing valid ones.
  template <class P>
  void apply(const std::string& section, P& params) const {
    apply_yaml(section, params);
    apply_overrides(section, params);
  }

  /// The YAML section only. Its errors name the file (or the `name` given to parse).
  template <class P>
  void apply_yaml(const std::string& section, P& params) const {
    if (!yaml_[section]) return;
    const YAML::Node& node = yaml_[section];
    if (node.IsNull()) return;
    require(node.IsMap(), path_, ": section '", section, "' must be a mapping of key: value");
    // A list given as another key (k: 3,4,5 is sweep) is applied after the
    // keys given as themselves: the template's `sweep: ""` after `k` undid it.
    // Name where a bad value came from: one in a stored config (an input's
    // `params`) read as a key the user never set.
    auto named = [&](const auto& f) {
      try {
        return f();
      } catch (const Error& e) {
        if (path_.empty()) throw;
        throw Error(fmt(path_, ": ", e.what()));
      }
    };
    std::map<std::string, std::string> given;  // key -> text, as written
    std::vector<std::pair<std::string, std::string>> as_other;  // (key, text)
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      const std::string text = named([&] { return scalar_text(kv.second, section + "." + key); });
      if (list_key(section, key, text) != key) {
        as_other.emplace_back(key, text);
        continue;
      }
      given[key] = text;
      if (!named([&] { return set_field(params, section, key, text); })) unknown_key(section, key, field_names(params));
    }
    for (const auto& [key, text] : as_other) {
      const std::string target = list_key(section, key, text);
      const auto other = given.find(target);
      require(other == given.end() || other->second.empty() || other->second == text, path_, ": ", section, ".",
              key, " = '", text, "' is a list, which sets ", section, ".", target, ", but ", section, ".", target,
              " = '", other == given.end() ? "" : other->second, "' is given too: keep one");
      named([&] { return set_field(params, section, target, text); });
    }
  }

  /// The --set overrides for `section` only.
  template <class P>
  void apply_overrides(const std::string& section, P& params) const {
    for (const auto& o : overrides_) {
      if (o.section != section) continue;
      if (!set_field(params, section, list_key(section, o.key, o.value), o.value))
        unknown_key(section, o.key, field_names(params), /*from_set=*/true);
    }
  }

  /// Checks that every YAML section and override names one of `known`.
  void check_sections(const std::vector<std::string>& known) const;
  /// Checks that every key the YAML and the overrides give for `section`
  /// is one of `keys` (values are parsed only by the commands that use the
  /// section): a typo in a section the command does not read is an error too.
  void check_keys(const std::string& section, const std::vector<std::string>& keys) const;

  const std::string& path() const { return path_; }
  bool has_section(const std::string& s) const { return static_cast<bool>(yaml_[s]); }

 private:
  struct Override { std::string section, key, value; };
  static std::string scalar_text(const YAML::Node& n, const std::string& where);
  /// from_set: the key came from --set (named as such), else from the file.
  [[noreturn]] void unknown_key(const std::string& section, const std::string& key,
                                const std::vector<std::string>& valid, bool from_set = false) const;
  YAML::Node yaml_;
  std::string path_;
  std::vector<Override> overrides_;
};

/// Resolved-config writer: collects sections, emits YAML, hashes.
class ResolvedConfig {
 public:
  /// `set_by_run`: keys a run sets itself (paths in its workdir), written as
  /// comments: the file given back as --config with another run.workdir
  /// would otherwise set them by hand, which a run refuses.
  template <class P>
  void add(const std::string& section, P& params, const std::set<std::string>& set_by_run = {}) {
    auto& out = sections_[section];
    auto v = [&](const char* name, auto& field, const char*) {
      out.push_back({name, yaml_text(field), set_by_run.count(name) > 0});
    };
    params.visit(v);
  }
  /// YAML text of all sections, keys in declaration order.
  std::string yaml() const;

 private:
  struct Field {
    std::string key, value;
    bool set_by_run;
  };
  std::map<std::string, std::vector<Field>> sections_;
};

/// FNV-1a 64-bit hash, hex string.
std::string fnv1a_hex(const std::string& text);

/// The config hash, one scheme for every output and checkpoint: FNV-1a 64
/// of the "key=value" lines of params' fields except `not_hashed` (those
/// that do not change the output), followed by `inputs`, the identity of
/// what the output is computed from (pipeline/stage_config.h).
template <class P>
std::string config_hash(P params, const std::vector<std::string>& not_hashed, const std::string& inputs) {
  std::string text;
  auto v = [&](const char* name, auto& field, const char*) {
    for (const auto& s : not_hashed)
      if (s == name) return;
    text += std::string(name) + "=" + to_text(field) + "\n";
  };
  params.visit(v);
  return fnv1a_hex(text + "inputs: " + inputs + "\n");
}

}  // namespace distclust
