// Small text outputs (scores.json, config.resolved.yaml) written as the HDF5
// outputs are: into PATH.tmp, every write and the close checked, renamed when
// whole. An existing PATH that is not a regular file (a device such as
// /dev/full, a folder) is refused rather than replaced.
#pragma once

#include <cstddef>
#include <fstream>
#include <string>

namespace distclust {

/// Writes n bytes to fd, retrying short writes and EINTR: 0, or the errno
/// of the write that failed (EIO for a write of 0 bytes).
int write_all(int fd, const void* data, size_t n);

/// Writes text to path whole or throws naming the path and the system's reason.
void write_text_file(const std::string& path, const std::string& text);

/// write_text_file in two steps, for a text output committed together with
/// another (assign's CSV with its .h5: written first, the CSV stayed when
/// the .h5 then failed on a full disk). The constructor writes PATH.tmp
/// whole (or throws, leaving nothing); commit() renames it to PATH; an
/// uncommitted one removes PATH.tmp when destroyed.
class StagedText {
 public:
  StagedText(const std::string& path, const std::string& text);
  ~StagedText();
  StagedText(const StagedText&) = delete;
  StagedText& operator=(const StagedText&) = delete;
  void commit();

 private:
  std::string path_, tmp_;
  bool committed_ = false;
};

/// Closes a stream written to `path` (a file of an output folder streamed
/// row by row) and throws, naming who, the path and the system's reason
/// (with the disk's free space where it is nearly full), when any write or
/// the close failed.
void close_checked(std::ofstream& f, const std::string& path, const std::string& who);

}  // namespace distclust
