// Internal HDF5 helpers: checked calls, type mapping, file access lists.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>

#include "distclust/comm.h"
#include "distclust/error.h"

/// Checks an HDF5 call returning herr_t/hid_t: negative -> Error naming the call.
#define DC_H5(call)                                                              \
  ([&]() {                                                                       \
    auto dc_r_ = (call);                                                         \
    if (dc_r_ < 0) ::distclust::throw_hdf5_error(#call, __FILE__, __LINE__);     \
    return dc_r_;                                                                \
  }())

namespace distclust::h5 {

/// Turns off HDF5's printing of its error stack: our errors carry the
/// innermost description with file, call, rank and host (once per process).
void quiet();
/// Native memory type for a DType.
hid_t mem_type(DType t);
/// IEEE half precision (as h5py/numpy write float16).
hid_t half_type();
/// IEEE half bits -> float (exact; subnormals, Inf and NaN included).
float half_to_float(uint16_t h);
/// float -> IEEE half bits, round to nearest even (the carry into the
/// exponent included, which HDF5 1.10's own conversion loses).
uint16_t float_to_half(float f);
/// "float32", "float16", "int64", ... for a dataset's type.
std::string type_name(hid_t type);
/// File access list: MPI-IO over the communicator's MPI_Comm when it has >1
/// ranks, default (POSIX) otherwise. Caller closes.
hid_t file_access(Communicator& comm);
/// Transfer list: collective MPI-IO when comm has >1 ranks. Caller closes.
hid_t transfer(Communicator& comm);

/// Whether link `name` (a dataset or group) of `file` exists. HDF5's error
/// (a damaged group, an unreadable name) throws naming `path` and `name`:
/// read as "absent", a damaged link to /valid clustered every invalid row.
bool link_exists(hid_t file, const std::string& path, const std::string& name);
/// Whether attribute `attr` of object `object` ("/" for the file) exists;
/// HDF5's error throws as above.
bool attr_exists(hid_t file, const std::string& path, const std::string& object, const std::string& attr);

/// Opens `dataset` of `file` (named `path` in messages). A dangling soft or
/// external link, a group, or a damaged object header -> Error naming the
/// file, the dataset and HDF5's reason (H5Lexists is true for all of them,
/// and a bare failed call named neither). Caller closes.
hid_t open_dataset(hid_t file, const std::string& path, const std::string& dataset);

/// Throws, naming `what`, when dataset ds cannot be read as what it holds:
/// compressed by a filter this HDF5 cannot decode, or partly never written
/// (chunks or storage missing, which HDF5 reads as zeros).
void require_readable(hid_t ds, const std::string& what);

/// Closes an hid on scope exit.
struct Closer {
  hid_t id;
  herr_t (*fn)(hid_t);
  ~Closer() { if (id >= 0) fn(id); }
};

/// A dataset this process wrote to. Its chunk cache reaches the file only
/// when it is closed, so a write that fails then (a full disk) fails
/// H5Dclose alone, and an unchecked close left a hole of zeros in a file
/// that was committed. close() checks; the destructor (an error unwinding)
/// closes unchecked.
struct WrittenDataset {
  hid_t id;
  ~WrittenDataset() { if (id >= 0) H5Dclose(id); }
  /// Throws (throw_hdf5_write_error, naming tmp and the dataset) when the close fails.
  void close(const std::string& tmp, const std::string& name, const char* file, int line) {
    const hid_t d = id;
    id = -1;
    if (H5Dclose(d) < 0) throw_hdf5_write_error(("H5Dclose(" + tmp + ":" + name + ")").c_str(), tmp, file, line);
  }
};

}  // namespace distclust::h5
