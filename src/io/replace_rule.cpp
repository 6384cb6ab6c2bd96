#include "io/replace_rule.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "comm/local_comm.h"
#include "comm/root.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "io/output_identity.h"

namespace distclust {

namespace fs = std::filesystem;

bool written_by_distclust(const std::string& path) {
  std::error_code ec;
  if (fs::is_symlink(path, ec)) return false;  // a link may lead anywhere: not ours to replace
  return !output_config_hash(path).empty();
}

void require_not_directory(const std::string& out) {
  std::error_code ec;
  require(out.empty() || !fs::is_directory(out, ec), "output ", out, " is a directory, expected a file name");
}

void require_output_name(const std::string& key, const std::string& out) {
  require(out != "-", key, " is '-': outputs are files (there is no output to stdout); give a file name");
  std::string name = out;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  for (const char* suffix : {".tmp", ".lock", ".ckpt"}) {
    const std::string s = suffix;
    require(name.size() <= s.size() || name.compare(name.size() - s.size(), s.size(), s) != 0, key, " is '",
            out, "': names ending in ", s,
            " are distclust's own (OUT.tmp while writing, OUT.lock, OUT.ckpt); choose another name");
  }
  // A file name has at most 255 bytes (NAME_MAX on Linux file systems), and
  // distclust adds up to 21 (".ckpt.kK.tmp", a sweep's checkpoint being
  // written): a longer name ran and then failed naming its lock or checkpoint.
  const size_t slash = name.find_last_of('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  require(base.size() <= 230, key, ": the file name ", base.substr(0, 40), "... is ", base.size(),
          " bytes: at most 230 (file names have at most 255 bytes, and distclust adds .lock, .tmp or "
          ".ckpt.kK.tmp to it)");
}

std::string special_file_kind(const std::string& path) {
  std::error_code ec;
  switch (fs::symlink_status(path, ec).type()) {
    case fs::file_type::character: return "a character device";
    case fs::file_type::block: return "a block device";
    case fs::file_type::fifo: return "a named pipe (FIFO)";
    case fs::file_type::socket: return "a socket";
    default: return "";
  }
}

void require_not_special(const std::string& stage, const std::string& out) {
  const std::string kind = special_file_kind(out);
  require(kind.empty(), stage, ": ", out, " is ", kind,
          ", which an output would replace (outputs are renamed into place), --force or not: choose another name");
}

std::string output_kind(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(path, ec))) return folder_output_kind(path);
  if (!file_starts_with(path, std::string("\x89HDF\r\n\x1a\n", 8))) return "";
  try {
    LocalCommunicator self;
    H5Reader r(path, self);
    if (r.has_attr("stage")) return r.attr_string("stage");
    return r.has("/features") ? "features" : "";
  } catch (const Error&) {
    return "";  // unreadable: the rule's other checks decide
  }
}

namespace {
/// The kind of output a command writes (output_kind's names).
std::string kind_written_by(const std::string& stage) {
  for (const char* f : {"extract", "bench extract", "synth features"})
    if (stage == f) return "features";
  return stage;
}
/// A stage or kind as the user types its command: synth_images -> "synth images".
std::string as_command(std::string s) {
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}
}  // namespace

void require_replaceable(const std::string& stage, const std::string& out, bool force, Communicator& comm,
                         const std::string& flag, const std::string& kind) {
  if (out.empty() || out == "-") return;
  run_on_root(comm, stage + " output check", [&] {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(out, ec))) return;
    require_not_special(as_command(stage), out);
    if (force) return;
    require(written_by_distclust(out), as_command(stage), ": ", out,
            " exists and is not a distclust output: pass --force to replace it, or choose another ", flag);
    // Ours, but another command's: `kmeans --out features.h5` replaced an
    // extraction of hours without a word.
    const std::string have = output_kind(out), want = kind.empty() ? kind_written_by(stage) : kind;
    require(have.empty() || have == want, as_command(stage), ": ", out, " is a distclust ", as_command(have),
            have == "features" ? " file" : fs::is_directory(out, ec) ? " folder" : " output", ", which ", as_command(stage),
            " does not write: pass --force to replace it, or choose another ", flag);
  });
}

bool file_starts_with(const std::string& path, const std::string& prefix) {
  std::error_code ec;
  if (fs::is_symlink(path, ec) || !fs::is_regular_file(path, ec)) return false;
  std::ifstream f(path, std::ios::binary);
  std::string head(prefix.size(), '\0');
  f.read(head.data(), std::streamsize(head.size()));
  return size_t(f.gcount()) == prefix.size() && head == prefix;
}

void require_replaceable_text(const std::string& stage, const std::string& out, const std::string& first_line,
                              bool force, Communicator& comm) {
  if (out.empty() || out == "-") return;
  run_on_root(comm, stage + " output check", [&] {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(out, ec))) return;
    require_not_special(stage, out);
    if (force) return;
    require(file_starts_with(out, first_line + "\n"), stage, ": ", out, " exists and is not a file distclust ", stage,
            " wrote (its first line is not that header): pass --force to replace it, or choose another name");
  });
}

}  // namespace distclust
