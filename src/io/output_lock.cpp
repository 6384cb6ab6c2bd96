#include "io/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <utility>

#include "distclust/error.h"
#include "io/abort_cleanup.h"

namespace distclust {
namespace {

std::string host_name() {
  char h[256] = {0};
  if (gethostname(h, sizeof(h) - 1) != 0) return "?";
  return h;
}

/// The holder's "host pid" as written in the lock file.
std::string holder(int fd) {
  char buf[300] = {0};
  const ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s = n > 0 ? std::string(buf, size_t(n)) : std::string();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t sp = s.rfind(' ');
  if (sp == std::string::npos) return "another process";
  return "pid " + s.substr(sp + 1) + " on host " + s.substr(0, sp);
}

/// flock(fd) without waiting; false with `why` naming the holder when
/// another process has it (fd is then closed).
bool lock_now(int fd, const std::string& path, const std::string& what, std::string& why) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
  why = fmt(what, " is being written by ", holder(fd), " (lock ", path,
            "): wait for that job to end, or choose another output");
  ::close(fd);
  return false;
}

/// Does `path` still name the file open as fd? (A holder removes its lock
/// when done, and a takeover replaces it: a lock on the old inode is none.)
bool still_names(int fd, const std::string& path) {
  struct stat a{}, b{};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/// The lock exists but this user may not open it for writing (another
/// user's, made under a strict umask). 0: nobody holds it and it was
/// removed, or it changed meanwhile (try again); -1 with `why`: it is held,
/// or cannot be removed.
int take_over_foreign(const std::string& path, const std::string& what, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = fmt("cannot open the lock ", path, " for ", what, ": ", std::strerror(errno));
    return -1;
  }
  if (!lock_now(fd, path, what, why)) return -1;
  // Held by us now, so no one else takes it while it goes; but only if the
  // path still names it: another job may have taken it over between our
  // open and our flock and made a new lock there, which is not ours to remove.
  if (!still_names(fd, path)) {
    ::close(fd);
    return 0;  // look again
  }
  const int removed = ::unlink(path.c_str()), e = errno;
  const std::string left_by = holder(fd);
  ::close(fd);
  if (removed == 0) return 0;
  why = fmt("the lock ", path, " for ", what, " was left by ", left_by,
            ", which has ended, and cannot be replaced: ", std::strerror(e), "; remove it");
  return -1;
}

/// Rank 0's part: the locked fd, or -1 and why not.
int take(const std::string& path, const std::string& what, std::string& why) {
  // A holder removes the file when it is done: a lock taken on a file that
  // was removed meanwhile is on the old inode, so check and retry.
  for (int attempt = 0; attempt < 20; ++attempt) {
    // 0666 less the umask: in a group's shared folder (umask 002) the next
    // member must be able to take over a lock a killed job left.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    const int open_errno = errno;
    struct stat there{};
    if (fd < 0 && open_errno == EACCES && ::lstat(path.c_str(), &there) == 0) {  // (else: the folder is not writable)
      const int stale = take_over_foreign(path, what, why);
      if (stale == 0) continue;  // removed: create ours
      return -1;
    }
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (fd < 0 && open_errno == ENOENT && !std::filesystem::is_directory(dir, ec)) {  // said as the output's, not the lock's
      why = fmt("cannot write ", what, ": its folder ", dir, " does not exist (create it first)");
      return -1;
    }
    if (fd < 0) {
      why = fmt("cannot create the lock ", path, " for ", what, ": ", std::strerror(open_errno), disk_space_note(path));
      return -1;
    }
    if (!lock_now(fd, path, what, why)) return -1;
    if (still_names(fd, path)) {
      const std::string me = host_name() + " " + std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size()))
        why = fmt("cannot write the lock ", path, ": ", std::strerror(errno));
      if (!why.empty()) {
        ::unlink(path.c_str());  // ours: a full disk must not leave it behind
        ::close(fd);
        return -1;
      }
      return fd;
    }
    ::close(fd);
  }
  why = fmt("cannot take the lock ", path, " for ", what, ": it keeps being replaced");
  return -1;
}

/// The (device, inode) of every lock this process holds.
std::mutex held_mu;
std::set<std::pair<dev_t, ino_t>> held;

bool held_here(const struct stat& st) {
  std::lock_guard<std::mutex> lock(held_mu);
  return held.count({st.st_dev, st.st_ino}) > 0;
}

void note_held(int fd, bool on) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return;
  std::lock_guard<std::mutex> lock(held_mu);
  if (on) held.insert({st.st_dev, st.st_ino});
  else held.erase({st.st_dev, st.st_ino});
}

}  // namespace

void OutputLock::require_no_run_in(const std::string& out, Communicator& comm) {
  std::string why;
  if (comm.rank() == 0) {
    std::string o = out;
    while (o.size() > 1 && o.back() == '/') o.pop_back();
    const size_t slash = o.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : o.substr(0, slash == 0 ? 1 : slash);
    const std::string path = dir + "/.distclust.lock";
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && !held_here(st)) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
          why = fmt("output ", out, " lies in the run workdir ", dir, ", which ", holder(fd), " is running (lock ",
                    path, "): wait for that job to end, or write elsewhere");
        ::close(fd);  // releases a shared lock taken just now
      }
    }
  }
  comm.broadcast(why, 0);
  if (!why.empty()) throw Error(why);
}

std::string OutputLock::path_for(const std::string& out) {
  std::string o = out;
  while (o.size() > 1 && o.back() == '/') o.pop_back();
  return o + ".lock";
}

OutputLock::OutputLock(const std::string& lock_path, const std::string& what, Communicator& comm)
    : path_(lock_path) {
  std::string why;
  if (comm.rank() == 0) fd_ = take(lock_path, what, why);
  if (fd_ >= 0) note_held(fd_, true), remove_at_abnormal_end(lock_path, true);
  comm.broadcast(why, 0);
  if (!why.empty()) throw Error(why);
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  note_held(fd_, false);
  remove_at_abnormal_end(path_, false);
  ::unlink(path_.c_str());  // while still holding it: see take()
  ::close(fd_);
}

bool OutputLock::held(const std::string& lock_path) {
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases it when it was ours
  return busy;
}

}  // namespace distclust
