#include "io/durable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace distclust {

namespace {

/// fsync of fd, then closed: 0, or the errno. A file system or handle that
/// cannot sync (EINVAL, EROFS; EBADF: a read-only handle where the file
/// system wants a writable one) counts as synced.
int sync_and_close(int fd) {
  int e = 0;
  while (::fsync(fd) != 0) {
    if (errno == EINTR) continue;
    e = errno == EINVAL || errno == EROFS || errno == EBADF ? 0 : errno;
    break;
  }
  ::close(fd);
  return e;
}

}  // namespace

int sync_file(const std::string& path) {
  // Only a regular file: a FIFO put in its place would hold the open.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return 0;
  // Writable where allowed: some file systems (CIFS) refuse or skip an
  // fsync through a read-only handle.
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  return sync_and_close(fd);
}

int sync_file_system(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int e = ::syncfs(fd) == 0 || errno == EINVAL || errno == EROFS ? 0 : errno;
  ::close(fd);
  return e;
}

void sync_parent_folder(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) (void)sync_and_close(fd);
}

}  // namespace distclust
