#include "distclust/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace distclust {

namespace {
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
/// Decimal notation only: strtod also reads hexadecimal ("0x10" ran with
/// k = 16, "0x1p4" too), which no setting documents. Words (inf, nan) are
/// left to the finiteness check, which names them.
bool hexadecimal(const std::string& t) { return t.find_first_of("xX") != std::string::npos; }
}  // namespace

void parse_value(const std::string& where, const std::string& text, bool& out) {
  std::string t = trim(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on" || t == "True") out = true;
  else if (t == "false" || t == "0" || t == "no" || t == "off" || t == "False") out = false;
  else throw Error(fmt(where, ": '", text, "' is not a boolean (true/false)"));
}

void parse_value(const std::string& where, const std::string& text, int64_t& out) {
  std::string t = trim(text);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (hexadecimal(t)) throw Error(fmt(where, ": '", text, "' is not a decimal integer"));
  // Accept 1e6-style integers too: users write n: 1e6.
  if (t.empty() || *end != '\0' || errno) {
    char* e2 = nullptr;
    double d = std::strtod(t.c_str(), &e2);
    if (t.empty() || *e2 != '\0' || d != std::floor(d) || std::fabs(d) > 9.2e18)
      throw Error(fmt(where, ": '", text, "' is not an integer"));
    v = static_cast<long long>(d);
  }
  out = v;
}

void parse_value(const std::string& where, const std::string& text, int& out) {
  int64_t v = 0;
  parse_value(where, text, v);
  if (v < INT32_MIN || v > INT32_MAX) throw Error(fmt(where, ": ", text, " is out of range for a 32-bit integer"));
  out = static_cast<int>(v);
}

void parse_value(const std::string& where, const std::string& text, double& out) {
  std::string t = trim(text);
  char* end = nullptr;
  out = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || hexadecimal(t)) throw Error(fmt(where, ": '", text, "' is not a number"));
  // No setting means anything at infinity or NaN (1e999 reads as inf): such
  // a value only poisons what it touches (an inf learning rate once made
  // every SCAN probability NaN and exited 0).
  if (!std::isfinite(out)) throw Error(fmt(where, ": '", text, "' is not a finite number"));
}

void parse_value(const std::string& where, const std::string& text, float& out) {
  double d = 0;
  parse_value(where, text, d);
  if (std::fabs(d) > double(std::numeric_limits<float>::max()))
    throw Error(fmt(where, ": ", text, " is out of range for a 32-bit float"));
  // 1e-300 became 0, which a setting then refused as "is 0" (or took as 0).
  if (d != 0 && static_cast<float>(d) == 0)
    throw Error(fmt(where, ": ", text, " rounds to 0 as a 32-bit float (expected 0 or |x| >= 1e-45)"));
  out = static_cast<float>(d);
}

std::string expand_env(const std::string& where, const std::string& text) {
  auto value_of = [&](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    if (!v)
      throw Error(fmt(where, ": '", text, "' uses $", name, ", which is not set in the environment (write $$ for a literal $)"));
    return std::string(v);
  };
  std::string out;
  size_t i = 0;
  if (!text.empty() && text[0] == '~' && (text.size() == 1 || text[1] == '/')) {
    out = value_of("HOME");
    i = 1;
  }
  auto name_char = [](char c, bool first) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (!first && std::isdigit(static_cast<unsigned char>(c))); };
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c, ++i;
      continue;
    }
    if (text[i + 1] == '$') {  // $$: a literal $
      out += '$', i += 2;
      continue;
    }
    if (text[i + 1] == '{') {
      const size_t end = text.find('}', i + 2);
      require(end != std::string::npos && end > i + 2, where, ": '", text, "': unterminated or empty ${...}");
      out += value_of(text.substr(i + 2, end - i - 2));
      i = end + 1;
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && name_char(text[j], j == i + 1)) ++j;
    if (j == i + 1) {  // "$" not followed by a name: kept as it is
      out += c, ++i;
      continue;
    }
    out += value_of(text.substr(i + 1, j - i - 1));
    i = j;
  }
  return out;
}

void parse_value(const std::string& where, const std::string& text, std::string& out) {
  parse_value(where, text, out, TextSource::config);
}

void parse_value(const std::string& where, const std::string& text, std::string& out, TextSource source) {
  if (source == TextSource::config) {
    out = expand_env(where, trim(text));
    return;
  }
  if (trim(text).empty()) {
    out.clear();
    return;
  }
  const bool home = text[0] == '~' && (text.size() == 1 || text[1] == '/');
  out = home ? expand_env(where, "~") + text.substr(1) : text;
}

void parse_value(const std::string& where, const std::string& text, std::vector<float>& out) {
  std::string t = trim(text);
  if (!t.empty() && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  out.clear();
  for (const std::string& item : split_list(t)) {
    float f = 0;
    parse_value(where, item, f);
    out.push_back(f);
  }
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (std::string t = trim(item); !t.empty()) out.push_back(std::move(t));
  return out;
}

std::string to_text(bool v) { return v ? "true" : "false"; }
std::string to_text(int v) { return std::to_string(v); }
std::string to_text(int64_t v) { return std::to_string(v); }
// The shortest %g text that reads back as exactly v (0.99, not
// 0.98999999999999999): what --help, the config template and saved configs
// show. At least as many digits as the integer part has, so that 10 prints
// as 10 and not 1e+01.
namespace {
int integer_digits(double v, int max_digits) {
  if (!std::isfinite(v) || std::fabs(v) < 1) return 1;
  return std::min(max_digits, int(std::floor(std::log10(std::fabs(v)))) + 1);
}
}  // namespace
std::string to_text(double v) {
  char buf[64];
  for (int prec = integer_digits(v, 17); prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}
std::string to_text(float v) {
  char buf[64];
  for (int prec = integer_digits(v, 9); prec <= 9; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, double(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}
std::string to_text(const std::string& v) { return v; }
std::string to_text(const std::vector<float>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + to_text(v[i]);
  return s + "]";
}


namespace {
// YAML parsers keep one of two equal keys (yaml-cpp the first, PyYAML the
// last): a key written twice is a mistake either way, so it is refused.
//
// The walk visits each node as often as aliases repeat it: nine levels of
// nine-fold aliases ("billion laughs", 400 bytes) are 9^9 nodes, and the
// walk ran for minutes. A config is a few hundred nodes; past kMaxNodes or
// kMaxDepth the file is refused, saying why.
constexpr int64_t kMaxNodes = 2000000;
constexpr int kMaxDepth = 64;

void refuse_duplicate_keys(const YAML::Node& n, const std::string& path, const std::string& where,
                           int64_t& visited, int depth = 0) {
  require(++visited <= kMaxNodes, path, ": more than ", kMaxNodes, " YAML values (counting each use of an alias, ",
          "*name, in full): not a distclust config (a config is a few hundred values)");
  require(depth <= kMaxDepth, path, ": values nested more than ", kMaxDepth, " levels deep under '",
          where.empty() ? "(top)" : where, "': not a distclust config");
  if (n.IsSequence()) {
    for (const auto& e : n) refuse_duplicate_keys(e, path, where, visited, depth + 1);
    return;
  }
  if (!n.IsMap()) return;
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : n) {
    const int line = kv.first.Mark().line + 1;
    // A complex key (? [a]: 1) failed later as "yaml-cpp: bad conversion", no file named.
    require(kv.first.IsScalar(), path, ": line ", line, ": a key under '", where.empty() ? "(top)" : where,
            "' is a list or mapping, not a name");
    const std::string key = kv.first.Scalar();
    auto [it, fresh] = seen.emplace(key, line);
    require(fresh, path, ": line ", line, ": key '", where, key, "' appears twice (first at line ", it->second,
            "); remove one");
    refuse_duplicate_keys(kv.second, path, where + key + ".", visited, depth + 1);
  }
}
}  // namespace

Config Config::load(const std::string& path) {
  Config c;
  c.path_ = path;
  if (path.empty()) return c;
  struct stat st{};
  if (stat(path.c_str(), &st) != 0)  // a link loop is not "does not exist"
    throw Error(errno == ENOENT ? fmt("config file ", path, " does not exist")
                                : fmt("config file ", path, " cannot be opened: ", std::strerror(errno)));
  require(S_ISREG(st.st_mode), "config file ", path, " is not a regular file");
  // yaml-cpp says only "bad file" (as a YAML error at line 0): the reason.
  if (const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0)
    ::close(fd);
  else
    throw Error(fmt("config file ", path, " cannot be opened: ", std::strerror(errno)));
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAllFromFile(path);
  } catch (const YAML::Exception& e) {
    throw Error(fmt(path, ": YAML error at line ", e.mark.line + 1, ": ", e.msg));
  }
  // A second document (after ---) was read by no one, silently. Empty ones
  // (a trailing ---) hold nothing to lose.
  docs.erase(std::remove_if(docs.begin(), docs.end(), [](const YAML::Node& d) { return d.IsNull(); }), docs.end());
  require(docs.size() <= 1, path, ": holds ", docs.size(), " YAML documents (separated by ---): only one is read, so ",
          "put every section in one document");
  if (!docs.empty()) c.yaml_ = docs[0];
  if (c.yaml_.IsNull()) c.yaml_ = YAML::Node(YAML::NodeType::Map);
  require(c.yaml_.IsMap(), path, ": top level must be a mapping of sections");
  int64_t visited = 0;
  refuse_duplicate_keys(c.yaml_, path, "", visited);
  return c;
}

Config Config::parse(const std::string& text, const std::string& name) {
  Config c;
  c.path_ = name;
  try {
    c.yaml_ = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(fmt(name, ": YAML error at line ", e.mark.line + 1, ": ", e.msg));
  }
  if (c.yaml_.IsNull()) c.yaml_ = YAML::Node(YAML::NodeType::Map);
  require(c.yaml_.IsMap(), name, ": top level must be a mapping of sections");
  return c;
}

void Config::add_override(const std::string& kv, const std::string& default_section) {
  size_t eq = kv.find('=');
  require(eq != std::string::npos && eq > 0, "--set '", kv, "': expected section.key=value");
  std::string key = trim(kv.substr(0, eq)), value = kv.substr(eq + 1);
  size_t dot = key.find('.');
  Override o;
  o.section = dot == std::string::npos ? default_section : key.substr(0, dot);
  o.key = dot == std::string::npos ? key : key.substr(dot + 1);
  o.value = value;
  require(!o.section.empty(), "--set '", kv, "': no section given (use section.key=value)");
  overrides_.push_back(o);
}

void Config::check_sections(const std::vector<std::string>& known) const {
  auto is_known = [&](const std::string& s) {
    for (const auto& k : known) if (k == s) return true;
    return false;
  };
  auto list = [&] {
    std::string s;
    for (const auto& k : known) s += (s.empty() ? "" : ", ") + k;
    return s;
  };
  if (yaml_.IsMap())
    for (const auto& kv : yaml_) {
      std::string s = kv.first.as<std::string>();
      require(is_known(s), path_, ": unknown section '", s, "' (known: ", list(), ")");
    }
  for (const auto& o : overrides_)
    require(is_known(o.section), "--set ", o.section, ".", o.key, ": unknown section '", o.section,
            "' (known: ", list(), ")");
}

void Config::check_keys(const std::string& section, const std::vector<std::string>& keys) const {
  auto known = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  if (yaml_.IsMap() && yaml_[section] && yaml_[section].IsMap())
    for (const auto& kv : yaml_[section]) {
      const std::string key = kv.first.as<std::string>();
      if (!known(key)) unknown_key(section, key, keys);
    }
  for (const auto& o : overrides_)
    if (o.section == section && !known(o.key)) unknown_key(section, o.key, keys, /*from_set=*/true);
}

std::string Config::scalar_text(const YAML::Node& n, const std::string& where) {
  if (n.IsScalar()) return n.Scalar();
  if (n.IsNull()) return "";
  if (n.IsSequence()) {
    std::string s;
    for (const auto& item : n) {
      require(item.IsScalar(), where, ": list items must be scalars");
      s += (s.empty() ? "" : ",") + item.Scalar();
    }
    return s;
  }
  throw Error(fmt(where, ": expected a value, got a mapping"));
}

void Config::unknown_key(const std::string& section, const std::string& key,
                         const std::vector<std::string>& valid, bool from_set) const {
  std::string list;
  for (const auto& k : valid) list += (list.empty() ? "" : ", ") + k;
  // A --set key was blamed on the config file, which does not hold it.
  const std::string where = from_set ? fmt("--set ", section, ".", key, ": ") : path_.empty() ? "" : path_ + ": ";
  throw Error(fmt(where, "unknown key '", key, "' in section '", section, "' (valid keys: ", list, ")"));
}

std::string yaml_text(const std::string& v) {
  std::string out = "\"";
  for (const char c : v) {
    if (c == '$') {
      out += "$$";  // read back through expand_env: a literal $ stays one
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof(esc), "\\x%02x", static_cast<unsigned char>(c));
      out += esc;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string ResolvedConfig::yaml() const {
  std::string out;
  for (const auto& [section, fields] : sections_) {
    out += section + ":\n";
    for (const auto& f : fields)
      out += f.set_by_run ? "  # " + f.key + ": " + f.value + "  (set by the run from run.workdir)\n"
                          : "  " + f.key + ": " + f.value + "\n";
  }
  return out;
}

std::string fnv1a_hex(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace distclust
