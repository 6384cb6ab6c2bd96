// The identity of a stage's output: the `config_hash` it was written with
// (core/stage.h), wherever that output keeps it: the attribute of an HDF5
// file, the `.config_hash` file inside an output folder (written into the
// folder before it is moved into place, so only a whole folder has one), or
// the "config_hash" field of a JSON file (scores.json).
#pragma once

#include <string>

namespace distclust {

/// The config_hash of an output, "" when it is missing, incomplete or has
/// none. Reads on this process alone.
std::string output_config_hash(const std::string& path);

/// An input's identity: its config_hash, or "size S mtime T.N" for a file
/// not written by distclust (rewritten, it changes), or "missing".
std::string file_identity(const std::string& path);

/// Writes DIR/.config_hash (an output folder's identity).
void write_folder_hash(const std::string& dir, const std::string& hash);

}  // namespace distclust
