// Small text outputs (scores.json, config.resolved.yaml) written as the HDF5
// outputs are: into PATH.tmp, every write and the close checked, renamed when
// whole. An existing PATH that is not a regular file (a device such as
// /dev/full, a folder) is refused rather than replaced.
#pragma once

#include <fstream>
#include <string>

namespace distclust {

/// Writes text to path whole or throws naming the path and the system's reason.
void write_text_file(const std::string& path, const std::string& text);

/// Closes a stream written to `path` (a file of an output folder streamed
/// row by row) and throws, naming who, the path and the system's reason
/// (with the disk's free space where it is nearly full), when any write or
/// the close failed.
void close_checked(std::ofstream& f, const std::string& path, const std::string& who);

}  // namespace distclust
