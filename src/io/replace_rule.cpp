#include "io/replace_rule.h"

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "comm/local_comm.h"
#include "comm/root.h"
#include "distclust/error.h"
#include "io/h5store.h"

namespace distclust {

namespace fs = std::filesystem;

bool written_by_distclust(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (ec || !fs::exists(st)) return false;
  if (fs::is_directory(st)) return fs::exists(fs::path(path) / ".config_hash", ec);
  if (!fs::is_regular_file(st)) return false;
  if (H5Fis_hdf5(path.c_str()) > 0) {
    try {
      LocalCommunicator self;
      H5Reader r(path, self);
      return r.has_attr("created_by") && r.attr_string("created_by").rfind("distclust", 0) == 0;
    } catch (const std::exception&) {
      return false;  // unreadable: not known to be ours
    }
  }
  std::ifstream in(path);
  std::string head(65536, '\0');
  in.read(&head[0], std::streamsize(head.size()));
  head.resize(size_t(in.gcount()));
  return !head.empty() && head[0] == '{' && head.find("\"config_hash\"") != std::string::npos;
}

void require_replaceable(const std::string& stage, const std::string& out, bool force, Communicator& comm) {
  if (out.empty() || out == "-" || force) return;
  run_on_root(comm, stage + " output check", [&] {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(out, ec))) return;
    require(written_by_distclust(out), stage, ": ", out,
            " exists and is not a distclust output: pass --force to replace it, or choose another --out");
  });
}

}  // namespace distclust
