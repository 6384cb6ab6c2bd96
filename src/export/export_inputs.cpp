#include "export/export_inputs.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "distclust/error.h"
#include "io/output_identity.h"
#include "io/text_file.h"

namespace distclust {

namespace fs = std::filesystem;

namespace {
constexpr const char* kName = ".inputs";
}  // namespace

void write_export_inputs(const std::string& dir, const std::string& features, const std::string& pred) {
  const std::string text = fmt("features\t", file_identity(features), "\tpath\t", features, "\npred\t",
                               pred.empty() ? std::string() : file_identity(pred), "\tpath\t", pred, "\n");
  write_text_file((fs::path(dir) / kName).string(), text);
}

std::string export_inputs_differ(const std::string& dir, const std::string& features, const std::string& pred) {
  std::ifstream f(fs::path(dir) / kName, std::ios::binary);
  if (!f) return "";  // an export of an older version: nothing recorded
  std::map<std::string, std::pair<std::string, std::string>> made;  // input -> (identity, path)
  for (std::string line; std::getline(f, line);) {
    const size_t a = line.find('\t'), b = line.find("\tpath\t");
    if (a == std::string::npos || b == std::string::npos || b < a) continue;
    made[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 6)};
  }
  for (const auto& [key, path] : {std::pair<std::string, std::string>{"features", features}, {"pred", pred}}) {
    const auto it = made.find(key);
    if (it == made.end() || path.empty()) continue;
    const std::string now = file_identity(path);
    if (it->second.first != now)
      return fmt(dir, " was exported from ", key, " ", it->second.second.empty() ? "(none)" : it->second.second, " (",
                 it->second.first.empty() ? "none" : it->second.first, "), not from ", path, " (", now, ")");
  }
  return "";
}

}  // namespace distclust
