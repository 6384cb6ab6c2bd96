// Errors: every failure is an exception whose message names the thing, the
// value and (for library calls) the call, the error string, rank and host.
// main() turns an exception on any rank into MPI_Abort of the whole job.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

namespace distclust {

/// A user-facing error (bad input, failed library call). The message is
/// complete: it is printed as is, prefixed by rank and host.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// A rank's failure that only echoes another's ("run failed on rank 0",
/// run_on_root): when every rank fails, rank 0 prints the cause, and this
/// line (which sorted before it) not at all.
class EchoError : public Error {
 public:
  using Error::Error;
};

/// "rank R on HOST" for messages; works before and without MPI_Init.
std::string where();

/// Builds a message from stream pieces: fmt("k=", k, " > n=", n).
template <class... Args>
std::string fmt(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

/// Throws Error(fmt(args...)) when cond is false.
template <class... Args>
inline void require(bool cond, const Args&... args) {
  if (!cond) throw Error(fmt(args...));
}

[[noreturn]] void throw_mpi_error(const char* call, int code, const char* file, int line);
[[noreturn]] void throw_hdf5_error(const char* call, const char* file, int line);
/// As throw_hdf5_error for a write to `path`: over MPI-IO a full disk shows
/// only as a short write without errno, so the free space of path's file
/// system is added when it is nearly exhausted (disk_space_note).
[[noreturn]] void throw_hdf5_write_error(const char* call, const std::string& path, const char* file, int line);
/// "" or, when the file system holding `path` has under 16 MiB free,
/// "; DIR has N KiB free: No space left on device".
std::string disk_space_note(const std::string& path);
/// Free bytes for unprivileged writes on the file system holding `path`
/// (its folder); -1 when statvfs fails.
double free_bytes_at(const std::string& path);
/// HDF5's error stack as one line (what failed: why, e.g. the errno of a
/// write), and the stack cleared.
std::string hdf5_error_text();

/// The line of an error text that says memory ran out ("" when none): a
/// LibTorch allocation failure ("DefaultCPUAllocator: can't allocate
/// memory", "CUDA out of memory") comes at the end of a long TorchScript
/// traceback, which otherwise reads as a broken model. Inline: the LibTorch
/// plugin links no distclust library.
inline std::string out_of_memory_line(const std::string& text) {
  for (const char* phrase : {"can't allocate memory", "out of memory", "Cannot allocate memory"}) {
    const size_t at = text.find(phrase);
    if (at == std::string::npos) continue;
    const size_t nl = text.rfind('\n', at);
    const size_t begin = nl == std::string::npos ? 0 : nl + 1;
    std::string line = text.substr(begin, text.find('\n', at) - begin);  // npos - begin: to the end
    line.erase(0, line.find_first_not_of(' '));
    return line;
  }
  return "";
}

/// Set when an HDF5 file failed to close (a full disk): HDF5 keeps that file
/// half-open and its own clean-up at MPI_Finalize then crashes (SIGSEGV in
/// HDF5 1.10), so the process exits without it (cli/main.cpp).
void note_hdf5_close_failed();
bool hdf5_close_failed();
/// Flushes and closes the HDF5 file `file` (an hid_t) that is being written
/// as `tmp`: "" or what failed, naming tmp, HDF5's reason and the free space
/// when it is nearly gone. Metadata and cached small datasets reach the disk
/// here, so a full disk shows now; a failure is noted (note_hdf5_close_failed).
std::string flush_and_close_hdf5(int64_t file, const std::string& tmp);

}  // namespace distclust

/// Checks an MPI call: on failure throws with the call, MPI's error string,
/// rank and host.
#define DC_MPI(call)                                                              \
  do {                                                                            \
    int dc_rc_ = (call);                                                          \
    if (dc_rc_ != 0) ::distclust::throw_mpi_error(#call, dc_rc_, __FILE__, __LINE__); \
  } while (0)
