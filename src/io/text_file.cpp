#include "io/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "distclust/error.h"
#include "io/abort_cleanup.h"
#include "io/durable.h"
#include "io/regular_file.h"

namespace distclust {

int write_all(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  for (size_t done = 0; done < n;) {
    const ssize_t w = ::write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? errno : EIO;
    done += size_t(w);
  }
  return 0;
}

void write_text_file(const std::string& path, const std::string& text) { StagedText(path, text).commit(); }

StagedText::StagedText(const std::string& path, const std::string& text) : path_(path), tmp_(path + ".tmp") {
  struct stat st{};
  if (stat(path.c_str(), &st) == 0)
    require(S_ISREG(st.st_mode), path, " exists and is not a regular file (",
            file_kind(st.st_mode),
            "): give the name of a file to write");
  // A stale PATH.tmp is removed, not truncated: another user's (a killed
  // job of a colleague) cannot be opened for writing, and a link there
  // would truncate whatever it points to. The mode is the umask's.
  if (::unlink(tmp_.c_str()) != 0 && errno != ENOENT) {
    const int e = errno;
    struct stat old{};
    const bool seen = lstat(tmp_.c_str(), &old) == 0;
    throw Error(fmt("cannot replace ", tmp_, " (left by an earlier job", seen ? fmt(", owner uid ", old.st_uid) : "",
                    "): ", std::strerror(e), "; remove it"));
  }
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  require(fd >= 0, "cannot create ", tmp_, ": ", std::strerror(errno));
  auto fail = [&](const char* what, int e) {
    ::close(fd);
    ::unlink(tmp_.c_str());
    throw Error(fmt(what, " ", tmp_, " failed: ", std::strerror(e), "; ", path, " was not written"));
  };
  if (const int e = write_all(fd, text.data(), text.size())) fail("writing", e);
  if (::fsync(fd) != 0 && errno != EINVAL) fail("syncing", errno);
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    throw Error(fmt("closing ", tmp_, " failed: ", std::strerror(e), "; ", path, " was not written"));
  }
  remove_at_abnormal_end(tmp_, true);
}

StagedText::~StagedText() {
  if (committed_) return;
  remove_at_abnormal_end(tmp_, false);
  ::unlink(tmp_.c_str());
}

void StagedText::commit() {
  committed_ = true;  // renamed, or removed below: nothing left to clean up
  remove_at_abnormal_end(tmp_, false);
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp_.c_str());
    throw Error(fmt("cannot rename ", tmp_, " to ", path_, ": ", std::strerror(e)));
  }
  sync_parent_folder(path_);  // the data was synced before (write_text's fsync)
}

void close_checked(std::ofstream& f, const std::string& path, const std::string& who) {
  errno = 0;
  const bool written = static_cast<bool>(f.flush());
  const int e1 = errno;
  f.close();
  const int e = written ? errno : e1;
  // errno holds the reason only when the failing write was the flush's own.
  require(written && !f.fail(), who, ": writing ", path, " failed", e ? std::string(": ") + std::strerror(e) : "",
          disk_space_note(path));
}

}  // namespace distclust
