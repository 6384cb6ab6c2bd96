// HDF5 files of the pipeline (features.h5, kmeans.h5, ...): reading row
// blocks per rank and writing collectively, over MPI-IO when the job has
// several ranks. Files are written as NAME.tmp and renamed to NAME when
// committed, so a file that exists is whole. Errors name file, dataset, shape.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// Shape and element type of a dataset ("float32", "float16", "int64", ...).
struct DatasetInfo {
  std::vector<int64_t> shape;
  std::string dtype;
  /// "1000 x 512 float32"
  std::string describe() const;
  /// int8..int64 or uint8..uint64 (ids, labels, cluster numbers must be).
  bool integer() const { return dtype.rfind("int", 0) == 0 || dtype.rfind("uint", 0) == 0; }
};

/// Read access. Collective open: every rank constructs it.
class H5Reader {
 public:
  H5Reader(const std::string& path, Communicator& comm);
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  const std::string& path() const { return path_; }
  bool has(const std::string& dataset) const;
  /// Throws naming file and dataset when absent, and when its data cannot
  /// be read (never written, a filter this HDF5 lacks: h5::require_readable).
  DatasetInfo info(const std::string& dataset) const;
  /// The dataset's shape alone, for what a file declares without reading
  /// the data (absent: throws as info does; unreadable data is not checked).
  std::vector<int64_t> shape(const std::string& dataset) const;

  /// Rows [rows.begin, rows.end) of a 1-D [n] or 2-D [n x d] dataset,
  /// converted to T (float16 -> float32 included). Row-major.
  template <class T> std::vector<T> read_rows(const std::string& dataset, RowRange rows) const;
  /// The whole dataset.
  template <class T> std::vector<T> read_all(const std::string& dataset) const;

  bool has_attr(const std::string& name) const;
  std::string attr_string(const std::string& name) const;
  double attr_double(const std::string& name) const;

 private:
  void read_raw(const std::string& dataset, RowRange rows, DType t, void* out) const;
  std::string path_;
  int64_t file_ = -1;
  bool collective_ = false;  ///< opened through MPI-IO (several ranks): closing is collective
  mutable std::set<std::string> stored_checked_;  ///< datasets whose storage was checked (once each)
};

/// Write access to PATH.tmp, renamed to PATH by commit(). Every call is
/// collective (all ranks call it in the same order).
class H5Writer {
 public:
  /// checkpoint: a file beside the output (a stage's .ckpt), which leaves
  /// the stop message's note (core/stop_note.h) alone.
  H5Writer(const std::string& path, Communicator& comm, bool checkpoint = false);
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  /// Creates dataset [shape] of T, chunked by rows; half = store float as float16.
  template <class T> void create(const std::string& dataset, std::vector<int64_t> shape, bool half = false);
  /// Writes this rank's rows (may be empty) of a dataset made by create().
  template <class T> void write_rows(const std::string& dataset, RowRange rows, const T* data);
  /// Creates and writes a small dataset from rank 0's data (others' ignored).
  template <class T> void write_all(const std::string& dataset, std::vector<int64_t> shape, const T* data);
  /// write_all of a 1-d vector [v.size()].
  template <class T> void write_vector(const std::string& dataset, const std::vector<T>& v) {
    write_all<T>(dataset, {static_cast<int64_t>(v.size())}, v.data());
  }

  /// Creates and writes a 1-D [n_total] dataset of fixed-length strings
  /// (NUL-padded, as extract writes /ids) from every rank's rows (may be
  /// empty); the length is the longest string on any rank.
  void write_strings(const std::string& dataset, int64_t n_total, RowRange rows, const std::vector<std::string>& mine);

  /// File attributes (root group); values from rank 0.
  void attr(const std::string& name, const std::string& value);
  void attr(const std::string& name, double value);
  void attr(const std::string& name, int64_t value);

  /// Closes the file and renames PATH.tmp -> PATH (replacing an old PATH)
  /// when every rank's part reached the disk (io/commit.h); else removes
  /// PATH.tmp and throws on every rank.
  void commit();
  const std::string& path() const { return path_; }

 private:
  void create_raw(const std::string& dataset, const std::vector<int64_t>& shape, DType t, bool half);
  void write_raw(const std::string& dataset, RowRange rows, DType t, const void* data, bool all);
  /// write_raw's work on the open dataset ds (named p), which it closes, checked.
  void write_open(int64_t ds, const std::string& p, RowRange rows, DType t, const void* data, bool all);
  /// Flushes and closes; "" or why it failed (a full disk shows here).
  std::string close();
  /// Registers (on) or unregisters tmp_ for removal at an abnormal end.
  void set_cleanup(bool on);

  std::string path_, tmp_;
  Communicator& comm_;
  int64_t file_ = -1;
  bool committed_ = false;
  bool cleanup_registered_ = false;  ///< tmp_ is in io/abort_cleanup.h's registry
  bool checkpoint_ = false;
};

/// Throws a clear error if `path` is missing, a directory, or empty.
void check_input_file(const std::string& path, const std::string& what);

/// True when `path` names an existing file (not a folder).
bool file_exists(const std::string& path);

}  // namespace distclust
