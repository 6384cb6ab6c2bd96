// Strings in HDF5 files, which H5Reader (numbers
// only) does not read: the image paths in features.h5 /ids and class-name
// lists. Both string forms are read: fixed-length, NUL- or space-padded (as
// extract writes) and variable-length (as h5py writes with
// h5py.string_dtype()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

class H5Strings {
 public:
  /// Opens the file read-only on this process alone (no MPI-IO).
  explicit H5Strings(const std::string& path);
  ~H5Strings();
  H5Strings(const H5Strings&) = delete;
  H5Strings& operator=(const H5Strings&) = delete;

  /// True when `dataset` exists and holds strings.
  bool is_strings(const std::string& dataset) const;
  /// is_strings() for a dataset of one string per row of an n-row file
  /// (features.h5 /ids: image paths): throws, naming the file, the dataset
  /// and both lengths, when it holds strings but not n of them (another
  /// file's list: each row would get another image's path).
  bool row_strings(const std::string& dataset, int64_t n) const;

  /// The given rows (any order, repeats allowed) of a 1-D string dataset,
  /// in the order asked. Reads only those rows. Throws Error naming the
  /// file, dataset and row when a row is out of range.
  std::vector<std::string> read(const std::string& dataset, const std::vector<int64_t>& rows) const;
  /// Rows [rows.begin, rows.end).
  std::vector<std::string> read_range(const std::string& dataset, RowRange rows) const;

  /// A list of names stored as attribute `name` of `object` ("/" or a
  /// dataset): an array of strings, or one string holding a JSON list of
  /// strings (as extract writes class_names) or one name per line. Empty
  /// when the attribute or object is absent. Control characters come back
  /// as \xNN (escape_control_chars): the names go into HTML, CSV and logs.
  std::vector<std::string> name_list(const std::string& object, const std::string& name) const;

 private:
  std::vector<std::string> name_list_as_stored(const std::string& object, const std::string& name) const;
  std::vector<std::string> read_selected(const std::string& dataset, const std::vector<int64_t>* rows,
                                         RowRange range) const;
  std::string path_;
  int64_t file_ = -1;
};

/// s with each control character (below 0x20, and 0x7F) written as the
/// four characters \xNN, as json::escape_invalid_utf8 writes stray bytes:
/// a foreign file's class name "\u0000" put raw NULs into index.html and
/// assignments.csv.
std::string escape_control_chars(const std::string& s);

/// Parses a JSON list of strings ("[\"cat\", \"dog\"]", escapes included);
/// returns false when `text` is not one.
bool parse_json_string_list(const std::string& text, std::vector<std::string>& out);

}  // namespace distclust
