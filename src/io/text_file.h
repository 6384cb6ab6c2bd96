// Small text outputs (scores.json, config.resolved.yaml) written as the HDF5
// outputs are: into PATH.tmp, every write and the close checked, renamed when
// whole. An existing PATH that is not a regular file (a device such as
// /dev/full, a folder) is refused rather than replaced.
#pragma once

#include <string>

namespace distclust {

/// Writes text to path whole or throws naming the path and the system's reason.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace distclust
