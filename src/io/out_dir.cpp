#include "io/out_dir.h"

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/fault.h"
#include "core/stop_note.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "io/durable.h"
#include "io/input_watch.h"
#include "io/output_identity.h"
#include "io/replace_rule.h"

namespace fs = std::filesystem;

namespace distclust {

namespace {

/// The file that marks OUT.tmp as distclust's staging folder.
constexpr const char* kStagingMarker = "/.distclust-staging";

/// `base`, or base.1, base.2, ...: the first name nothing has. The old
/// output is moved aside there and deleted: OUT.old itself may be the
/// user's (an earlier run's `--out OUT.old`), and was deleted with it.
std::string unused_name(const std::string& base) {
  std::error_code ec;
  std::string name = base;
  for (int i = 1; fs::exists(fs::symlink_status(name, ec)); ++i) name = base + "." + std::to_string(i);
  return name;
}

std::string strip_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// a == b or b inside a, as paths (component-wise).
bool within(const fs::path& a, const fs::path& b) {
  if (a.empty()) return false;  // no path holds nothing
  auto ai = a.begin(), bi = b.begin();
  for (; ai != a.end(); ++ai, ++bi) {
    if (ai->empty()) continue;  // a trailing "/"
    if (bi == b.end() || *ai != *bi) return false;
  }
  return true;
}

}  // namespace

void require_apart(const std::string& out, const std::vector<std::string>& inputs, const std::string& flag) {
  if (out.empty()) return;  // no output file (eval printing its scores only)
  std::error_code ec;
  const fs::path o = fs::weakly_canonical(fs::absolute(out), ec);
  if (ec) return;  // nothing there to delete
  // OUT.tmp, where outputs are staged, is replaced as well. Another rank may
  // be creating or renaming it right now, and resolving it can then fail:
  // the path as written (a failure left it empty, which "contained" every
  // input, and one rank refused a run's scores.json).
  std::error_code tec;
  const fs::path tmp = fs::absolute(strip_slashes(out) + ".tmp", tec).lexically_normal();
  fs::path t = fs::weakly_canonical(tmp, tec);
  if (tec || t.empty()) t = tmp;
  for (const auto& in : inputs) {
    if (in.empty()) continue;
    const fs::path i = fs::weakly_canonical(fs::absolute(in), ec);
    if (ec) continue;
    const char* how = o == i ? "is" : within(o, i) ? "contains" : within(i, o) && fs::is_directory(i, ec) ? "lies inside" : nullptr;
    require(how == nullptr, "output ", out, " ", how, " the input ", in,
            ": writing it would replace or delete that input; choose another ", flag);
    require(t.empty() || !within(t, i), "output ", out, " is staged in ", t.string(),
            ", which would replace the input ", in, ": choose another ", flag);
  }
}

void require_not_over(const std::string& out, const std::string& folder) {
  if (out.empty() || folder.empty()) return;
  std::error_code ec;
  const fs::path o = fs::weakly_canonical(fs::absolute(out), ec);
  if (ec) return;
  const fs::path f = fs::weakly_canonical(fs::absolute(folder), ec);
  if (ec) return;
  require(!within(o, f), "output ", out, o == f ? " is" : " contains", " the input ", folder,
          ": writing it would replace or delete that input; choose another name");
}

StagedDir::StagedDir(const std::string& out, bool force) : out_(strip_slashes(out)), tmp_(out_ + ".tmp") {
  require(!out_.empty() && out_ != "/" && out_ != "." && out_ != "..", "output folder '", out,
          "' is not allowed (give a new folder name)");
  stop_note_clear();  // a stop now leaves this output uncommitted
  std::error_code ec;
  auto st = fs::symlink_status(out_, ec);
  require_not_special("output folder", out_);  // --force would replace /dev/null with a folder
  require(!fs::exists(st) || force, out_, " already exists: pass --force to replace it, or choose another --out");
  // A stale OUT.tmp is deleted only when distclust made it (its marker, or
  // a whole output's config hash): a folder or file of the user's that
  // happens to have that name is never deleted, --force or not.
  if (fs::exists(fs::symlink_status(tmp_, ec))) {
    const bool ours = !fs::is_symlink(tmp_, ec) && fs::is_directory(tmp_, ec) &&
                      (fs::exists(tmp_ + kStagingMarker, ec) || !output_config_hash(tmp_).empty());
    require(ours, tmp_, " exists and was not made by distclust: it is where ", out_,
            " is staged, so move or delete it, or choose another --out");
    fs::remove_all(tmp_, ec);
    require(!ec, "cannot remove the stale temporary folder ", tmp_, ": ", ec.message());
  }
  fs::create_directories(tmp_, ec);
  require(!ec, "cannot create the output folder ", tmp_, ": ", ec.message());
  // The marker that makes OUT.tmp ours. Without it (a quota, a name too
  // long for the file system) the folder just made is removed again: left
  // unmarked, the next run refused it as "not made by distclust".
  const std::string marker = tmp_ + kStagingMarker;
  errno = 0;
  std::ofstream(marker).put('\n');
  const int e = errno;
  if (!fs::exists(marker, ec)) {
    fs::remove(tmp_, ec);  // empty: only what this constructor made
    throw Error(fmt("cannot write in the output folder ", tmp_, ": ", std::strerror(e ? e : EIO)));
  }
}

StagedDir::~StagedDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(tmp_, ec);
}

void StagedDir::commit(const std::string& hash, const std::string& kind) {
  // An input replaced while the folder was made (io/input_watch.h).
  if (const std::string changed = changed_inputs_here(); !changed.empty())
    throw Error(fmt(changed, "; ", out_, " was not written (run the stage again)"));
  if (!hash.empty()) write_folder_hash(tmp_, hash, kind);
  std::error_code ec;
  fs::remove(tmp_ + kStagingMarker, ec);  // not part of the output
  // Its files on the disk before its name (io/durable.h): one syncfs for
  // all of them, as they are written by streams, links and encoders alike.
  if (const int e = sync_file_system(tmp_))
    throw Error(fmt("syncing ", tmp_, " failed: ", std::strerror(e), "; ", out_, " was not written"));
  if (!fs::exists(fs::symlink_status(out_, ec))) {
    require(std::rename(tmp_.c_str(), out_.c_str()) == 0, "cannot rename ", tmp_, " to ", out_, ": ",
            std::strerror(errno));
    committed_ = true;
    sync_parent_folder(out_);
    stop_note_committed(out_);
    return;
  }
  // OUT exists and --force was given: swap atomically, then delete the old one.
  std::string old = tmp_;
  // (The tests take the fallback on file systems that have the exchange.)
  const bool no_exchange = std::getenv("DISTCLUST_TEST_NO_RENAME_EXCHANGE") != nullptr;
  if (no_exchange || renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, out_.c_str(), RENAME_EXCHANGE) != 0) {
    int e = no_exchange ? ENOSYS : errno;
    require(e == EINVAL || e == ENOSYS || e == ENOTSUP, "cannot swap ", tmp_, " into ", out_, ": ", std::strerror(e));
    old = unused_name(out_ + ".old");
    require(std::rename(out_.c_str(), old.c_str()) == 0, "cannot move the old ", out_,
            " aside: ", std::strerror(errno));
    require(std::rename(tmp_.c_str(), out_.c_str()) == 0, "cannot rename ", tmp_, " to ", out_, ": ",
            std::strerror(errno));
  }
  committed_ = true;
  sync_parent_folder(out_);
  stop_note_replacing(out_, old);  // a stop signal now comes after the commit
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "replacing-old");
  fs::remove_all(old, ec);
  stop_note_committed(out_);
  if (ec) log::warn("replaced ", out_, " but could not delete the old copy at ", old, ": ", ec.message());
}

}  // namespace distclust
