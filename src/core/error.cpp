#include "distclust/error.h"

#include <atomic>

#include <hdf5.h>
#include <mpi.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace distclust {

std::string where() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  int inited = 0, finalized = 0, rank = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return fmt("rank ", rank, " on ", host);
}

void throw_mpi_error(const char* call, int code, const char* file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  throw Error(fmt(call, " failed: ", msg, " (code ", code, ") at ", file, ":", line, ", ", where()));
}

namespace {
// Walked from the API call down: the first description says what failed,
// the last (where the error was detected) why, e.g. a write's errno.
herr_t walk_cb(unsigned n, const H5E_error2_t* e, void* out) {
  auto* s = static_cast<std::pair<std::string, std::string>*>(out);
  if (!e->desc) return 0;
  if (n == 0) s->first = e->desc;
  s->second = e->desc;
  return 0;
}
}  // namespace

namespace {
// A system error deep in HDF5 reads "file write failed: time = ..., filename
// = '...', ..., errno = 28, error message = 'No space left on device', buf =
// 0x..., ...": keep what failed and the system's message.
std::string tidy(const std::string& desc) {
  const std::string key = "error message = '";
  const size_t m = desc.find(key);
  if (m == std::string::npos) return desc;
  const size_t end = desc.find('\'', m + key.size());
  std::string out = desc.substr(0, desc.find(':')) + ": " + desc.substr(m + key.size(), end - m - key.size());
  const size_t e = desc.find("errno = ");
  if (e != std::string::npos) out += " (errno " + desc.substr(e + 8, desc.find(',', e) - e - 8) + ")";
  return out;
}
}  // namespace

namespace {
std::atomic<bool> g_hdf5_close_failed{false};
}
void note_hdf5_close_failed() { g_hdf5_close_failed = true; }
bool hdf5_close_failed() { return g_hdf5_close_failed; }

std::string flush_and_close_hdf5(int64_t file, const std::string& tmp) {
  if (H5Fflush(hid_t(file), H5F_SCOPE_GLOBAL) >= 0 && H5Fclose(hid_t(file)) >= 0) return "";
  note_hdf5_close_failed();
  return fmt("writing ", tmp, " failed when its last data reached the disk (", hdf5_error_text(), ")",
             disk_space_note(tmp));
}

std::string hdf5_error_text() {
  std::pair<std::string, std::string> d;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &d);
  H5Eclear2(H5E_DEFAULT);
  if (d.first.empty()) return "no HDF5 error description";
  return d.second == d.first ? tidy(d.first) : d.first + ": " + tidy(d.second);
}

void throw_hdf5_error(const char* call, const char* file, int line) {
  const std::string desc = hdf5_error_text();
  throw Error(fmt(call, " failed: ", desc, " at ", file, ":", line, ", ", where()));
}

namespace {
/// statvfs of the folder holding `path` (dir: that folder's name).
bool stat_folder(const std::string& path, std::string& dir, struct statvfs& fs) {
  const size_t slash = path.find_last_of('/');
  dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return statvfs(dir.c_str(), &fs) == 0;
}
}  // namespace

double free_bytes_at(const std::string& path) {
  std::string dir;
  struct statvfs fs{};
  return stat_folder(path, dir, fs) ? double(fs.f_bavail) * double(fs.f_frsize) : -1;
}

std::string disk_space_note(const std::string& path) {
  std::string dir;
  struct statvfs fs{};
  if (!stat_folder(path, dir, fs)) return "";
  // Any write error there (EROFS included) would otherwise read as a full disk.
  if (fs.f_flag & ST_RDONLY) return fmt("; ", dir, " is on a read-only file system");
  // No blocks at all (/proc, sysfs): its "0 KiB free" says nothing, and
  // "No space left on device" beside ENOENT misled.
  if (fs.f_blocks == 0) return "";
  const double free_bytes = double(fs.f_bavail) * double(fs.f_frsize);
  if (free_bytes >= 16.0 * (1 << 20)) return "";
  return fmt("; ", dir, " has ", static_cast<int64_t>(free_bytes / 1024), " KiB free: No space left on device");
}

void throw_hdf5_write_error(const char* call, const std::string& path, const char* file, int line) {
  const std::string desc = hdf5_error_text();
  throw Error(fmt(call, " failed: ", desc, disk_space_note(path), " at ", file, ":", line, ", ", where()));
}

}  // namespace distclust
