#include "io/durable.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace distclust {

namespace {

int sync_fd_at(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  int e = 0;
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    e = errno == EINVAL || errno == EROFS ? 0 : errno;
    break;
  }
  ::close(fd);
  return e;
}

}  // namespace

// O_NONBLOCK: a FIFO put in the file's place would hold an open for reading.
int sync_file(const std::string& path) { return sync_fd_at(path, O_RDONLY | O_NONBLOCK); }

void sync_parent_folder(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  (void)sync_fd_at(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace distclust
