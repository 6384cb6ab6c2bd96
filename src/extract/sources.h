// Internal to src/extract: the concrete image sources behind open_source()
// and the helpers they share.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "extract/image_source.h"

namespace distclust::extract {

std::unique_ptr<ImageSource> open_folder_source(const SourceParams& p);
std::unique_ptr<ImageSource> open_list_source(const SourceParams& p);
std::unique_ptr<ImageSource> open_hdf5_source(const SourceParams& p);
std::unique_ptr<ImageSource> open_cifar_source(const SourceParams& p);

/// The whole file, read with POSIX calls (safe on many threads). Throws Error
/// naming the path when it cannot be opened or read, is not a regular file, or
/// is larger than max_bytes (checked before reading).
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes);

/// errno as text, thread-safe.
std::string errno_text(int err);

/// ASCII lower case.
std::string lower(std::string s);

/// Many paths in one buffer: ImageNet-sized lists cost ~1/2 the memory of a
/// vector<string> (no per-string header or heap block).
class PathTable {
 public:
  void add(const std::string& s) {
    offsets_.push_back(blob_.size());
    blob_ += s;
  }
  void shrink() { blob_.shrink_to_fit(); offsets_.shrink_to_fit(); }
  int64_t size() const { return static_cast<int64_t>(offsets_.size()); }
  std::string operator[](int64_t i) const {
    size_t b = offsets_[i];
    size_t e = (i + 1 < size()) ? offsets_[i + 1] : blob_.size();
    return blob_.substr(b, e - b);
  }

 private:
  std::string blob_;
  std::vector<size_t> offsets_;
};

}  // namespace distclust::extract
