#include "io/output_identity.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

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

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

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

void write_folder_hash(const std::string& dir, const std::string& hash) {
  // Through PATH.tmp, every write checked: an unchecked stream said only
  // "cannot write", and left an empty hash in place on a full disk.
  write_text_file(dir + kFolderHash, hash + "\n");
}

Config stored_params(const H5Reader& r) {
  return Config::parse(r.attr_string("params"), r.path() + ": its stored params");
}

}  // namespace distclust
