// Errors: every failure is an exception whose message names the thing, the
// value and (for library calls) the call, the error string, rank and host.
// main() turns an exception on any rank into MPI_Abort of the whole job.
#pragma once

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

}  // namespace distclust

/// Checks an MPI call: on failure throws with the call, MPI's error string,
/// rank and host.
#define DC_MPI(call)                                                              \
  do {                                                                            \
    int dc_rc_ = (call);                                                          \
    if (dc_rc_ != 0) ::distclust::throw_mpi_error(#call, dc_rc_, __FILE__, __LINE__); \
  } while (0)
