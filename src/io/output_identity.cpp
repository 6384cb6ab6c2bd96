#include "io/output_identity.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "comm/local_comm.h"
#include "core/json.h"
#include "io/h5store.h"
#include "distclust/error.h"
#include "io/h5_util.h"
#include "io/text_file.h"
#include "io/h5store.h"

namespace distclust {

namespace {
constexpr const char* kFolderHash = "/.config_hash";
constexpr const char* kManifest = "/.manifest";
constexpr const char* kKind = "/.output_kind";

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
/// name with its backslashes and newlines escaped: one entry a line.
std::string escaped(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '\\' ? std::string("\\\\") : c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}
}  // namespace

std::string folder_manifest(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> lines;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // The identity files themselves, and the staging marker removed at the commit.
    if (name == ".config_hash" || name == ".manifest" || name == ".output_kind" ||
        name.rfind(".config_hash.", 0) == 0 || name.rfind(".manifest.", 0) == 0 ||
        name.rfind(".output_kind.", 0) == 0 || name == ".distclust-staging")
      continue;
    std::error_code e2;
    const fs::file_status st = it->symlink_status(e2);
    if (fs::is_symlink(st)) {
      lines.push_back("l - " + escaped(name));
    } else if (fs::is_directory(st)) {
      int64_t n = 0;
      for (fs::directory_iterator sub(it->path(), e2), stop; !e2 && sub != stop; sub.increment(e2)) ++n;
      lines.push_back(fmt("d ", n, " ", escaped(name)));
    } else {
      lines.push_back(fmt("f ", int64_t(it->file_size(e2)), " ", escaped(name)));
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string text;
  for (const std::string& l : lines) text += l + "\n";
  return text;
}

std::string file_identity(const std::string& path) {
  std::string h = output_config_hash(path);
  if (!h.empty()) return h;
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return "missing";
  return fmt("size ", st.st_size, " mtime ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

std::string output_config_hash(const std::string& path) {
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return "";
  try {
    if (S_ISDIR(st.st_mode)) {
      std::string h = read_text(path + kFolderHash);
      while (!h.empty() && (h.back() == '\n' || h.back() == ' ')) h.pop_back();
      return h;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) return "";
    if (H5Fis_hdf5(path.c_str()) > 0) {
      LocalCommunicator self;
      H5Reader r(path, self);
      return r.has_attr("config_hash") ? r.attr_string("config_hash") : "";
    }
    // A JSON output (scores.json) is small: anything large is not one, and
    // is not read whole (the overwrite rule asks this of any file at --out).
    if (st.st_size > (1 << 20)) return "";
    const json::Value v = json::parse(read_text(path), path);
    auto it = v.obj.find("config_hash");
    return v.type == json::Value::Type::object && it != v.obj.end() ? it->second.str : "";
  } catch (const Error&) {
    return "";  // unreadable: as if absent, so the stage runs again
  }
}

std::string whole_output_hash(const std::string& path) {
  std::string h = output_config_hash(path);
  struct stat st{}, ms{};
  // A folder whose entries were deleted or added since its commit is not that
  // output any more (report/ without index.html was "up to date").
  if (!h.empty() && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && stat((path + kManifest).c_str(), &ms) == 0 &&
      read_text(path + kManifest) != folder_manifest(path))
    return "";
  return h;
}

void write_folder_hash(const std::string& dir, const std::string& hash, const std::string& kind) {
  // Through PATH.tmp, every write checked: an unchecked stream said only
  // "cannot write", and left an empty hash in place on a full disk. The
  // manifest and kind first: a hash never stands without them.
  write_text_file(dir + kManifest, folder_manifest(dir));
  if (!kind.empty()) write_text_file(dir + kKind, kind + "\n");
  write_text_file(dir + kFolderHash, hash + "\n");
}

std::string folder_output_kind(const std::string& dir) {
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  std::string k = read_text(dir + kKind);
  while (!k.empty() && (k.back() == '\n' || k.back() == ' ')) k.pop_back();
  return k;
}

Config stored_params(const H5Reader& r) {
  return Config::parse(r.attr_string("params"), r.path() + ": its stored params");
}

}  // namespace distclust
