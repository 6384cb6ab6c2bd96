#include "io/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "distclust/error.h"

namespace distclust {
namespace {
std::string errno_message(int err) { return std::system_category().message(err); }
}  // namespace

std::string file_kind(unsigned mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

RegularFile::RegularFile(const std::string& path, const std::string& what)
    : label_(what.empty() ? path : what + " " + path) {
  // O_NONBLOCK: opening a named pipe must not wait for a writer; fstat then
  // refuses it. Reads of a regular file ignore the flag.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0 && errno == ENOENT) throw Error(fmt(label_, " does not exist"));
  if (fd_ < 0) throw Error(fmt(label_, ": cannot open: ", errno_message(errno)));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    throw Error(fmt(label_, ": cannot stat: ", errno_message(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(fmt(label_, " is not a regular file: it is ", file_kind(st.st_mode)));
  }
  size_ = st.st_size;
}

RegularFile::~RegularFile() { ::close(fd_); }

size_t RegularFile::read_at(void* buf, size_t n, int64_t offset) const {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd_, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error(fmt(label_, ": read failed at byte ", offset + int64_t(got), ": ", errno_message(errno)));
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

std::vector<uint8_t> RegularFile::read_all(int64_t max_bytes, const std::string& limit) const {
  require(size_ <= max_bytes, label_, ": file is ", size_, " bytes, over ", limit);
  std::vector<uint8_t> out(static_cast<size_t>(size_));
  out.resize(read_at(out.data(), out.size(), 0));  // shrank while we read: keep what is there
  return out;
}

}  // namespace distclust
