// A file read as input (an image, a model, its JSON sidecar) opened so that
// a named pipe or a device given in its place is refused at once instead of
// hanging the run: opening a FIFO waits for a writer, and /dev/zero never
// ends (both hung extract forever).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

/// What a file of this st_mode is, for messages: "a FIFO (named pipe)",
/// "a character device", "a folder", ...
std::string file_kind(unsigned mode);

/// A regular file open for reading (links followed). The constructor throws
/// Error naming `what` (e.g. "model file"; "" for none), the path and the
/// system's reason when it cannot be opened, or what the path is when it is
/// not a regular file.
class RegularFile {
 public:
  RegularFile(const std::string& path, const std::string& what);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  /// Size in bytes when it was opened.
  int64_t size() const { return size_; }
  /// "WHAT PATH" (or PATH alone) for messages.
  const std::string& label() const { return label_; }
  /// Reads up to n bytes at offset; fewer only at the end of the file.
  /// Throws naming the file on a read error.
  size_t read_at(void* buf, size_t n, int64_t offset) const;
  /// The whole file; throws when it is larger than max_bytes, saying
  /// `limit` (e.g. "extract.max_file_bytes = 10"). A file that shrank while
  /// read gives what is there.
  std::vector<uint8_t> read_all(int64_t max_bytes, const std::string& limit) const;

 private:
  std::string label_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace distclust
