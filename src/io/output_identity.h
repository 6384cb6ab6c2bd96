// The identity of a stage's output: the `config_hash` it was written with
// (core/stage.h), wherever that output keeps it: the attribute of an HDF5
// file, the `.config_hash` file inside an output folder (written into the
// folder before it is moved into place, so only a whole folder has one), or
// the "config_hash" field of a JSON file (scores.json).
#pragma once

#include <string>

#include "distclust/config.h"

namespace distclust {

class H5Reader;

/// The settings an output was made with (its `params` attribute, the
/// resolved YAML of its stage), parsed; a bad value there is named as the
/// file's ("km.h5: its stored params: kmeans.tol: ..."), not as a key the
/// user set.
Config stored_params(const H5Reader& r);

/// The config_hash of an output, "" when it is missing, incomplete or has
/// none. Reads on this process alone.
std::string output_config_hash(const std::string& path);

/// An input's identity: its config_hash, or "size S mtime T.N" for a file
/// not written by distclust (rewritten, it changes), or "missing".
std::string file_identity(const std::string& path);

/// output_config_hash, but "" for a folder whose entries no longer match
/// the manifest its commit wrote: what `run` asks before it skips a stage
/// as up to date. (A folder distclust wrote stays its output, to replace
/// without --force, with a file added or removed.)
std::string whole_output_hash(const std::string& path);

/// Writes DIR/.manifest (folder_manifest), DIR/.output_kind (the stage that
/// wrote it, when given) and DIR/.config_hash (an output folder's identity).
void write_folder_hash(const std::string& dir, const std::string& hash, const std::string& kind = "");

/// The stage that wrote the output folder `dir` (its .output_kind), "" when
/// it records none (not a folder, or one written before kinds were kept).
std::string folder_output_kind(const std::string& dir);

/// DIR's top-level entries, sorted, one line each: "f SIZE NAME" (a file),
/// "d ENTRIES NAME" (a folder and how many entries it holds), "l - NAME" (a
/// link). Catches a deleted index.html, assignments.csv or cluster folder;
/// not a changed file of the same size, nor anything two levels down.
std::string folder_manifest(const std::string& dir);

}  // namespace distclust
