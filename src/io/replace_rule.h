// The one overwrite rule of every stage (subcommands and `distclust run`):
// an output that exists is replaced when distclust wrote it, and anything
// else at that path only with --force. So running a stage again just works,
// and a typo in --out cannot destroy a file or folder of the user's.
#pragma once

#include <string>

#include "distclust/comm.h"

namespace distclust {

/// True when `path` is a whole distclust output: it has a config hash
/// (io/output_identity.h: the HDF5 attribute, a folder's .config_hash, the
/// field of scores.json). A symbolic link is never taken as one.
bool written_by_distclust(const std::string& path);

/// "a character device", "a block device", "a named pipe (FIFO)", "a
/// socket" when `path` (not followed if a link) is one, else "".
std::string special_file_kind(const std::string& path);

/// Throws, naming `stage` and `out`, when `out` is a device, FIFO or socket:
/// an output renamed over it would replace it (as root, /dev/null).
void require_not_special(const std::string& stage, const std::string& out);

/// What kind of distclust output `path` is: an HDF5 file's `stage`
/// attribute (kmeans, knn, gmm, scan, embed, assign), "features" for a
/// features file (extract, synth features), an output folder's stage
/// (report, export, synth_images: io/output_identity.h), "" otherwise (a
/// file of another program, a folder written before kinds were kept).
std::string output_kind(const std::string& path);

/// Throws, naming `stage`, `out` and --force, when `out` exists, is not a
/// distclust output and !force; when it is a distclust output of another
/// kind than `stage` writes (kmeans --out features.h5) and !force; and, --force or not, when it is a device,
/// FIFO or socket (require_not_special). Checked on rank 0 (collective).
/// `flag`: the option that named `out` (assign's --features-out); `kind`:
/// what the output is (output_kind), "" = from `stage`.
void require_replaceable(const std::string& stage, const std::string& out, bool force, Communicator& comm,
                         const std::string& flag = "--out", const std::string& kind = "");

/// Throws when `out` is a directory: a file output there was first refused
/// by the rule above ("pass --force"), then, with --force, as a directory.
void require_not_directory(const std::string& out);

/// Throws, naming `key` (kmeans.out, assign.csv), when `out` is "-" (there
/// is no stdout output) or ends in .tmp, .lock or .ckpt: distclust's names
/// for an output's staging copy, lock and checkpoint, so `--out x.h5.tmp`
/// collided with a job writing x.h5, and `assign --csv OUT.lock` was
/// renamed onto OUT's lock and deleted with it; or when its file name has
/// over 230 bytes (OUT.ckpt.kK.tmp would pass the 255-byte limit).
void require_output_name(const std::string& key, const std::string& out);

/// True when `path` is a regular file (not a link) whose first bytes are
/// `prefix`: how outputs without a config hash are known as distclust's.
bool file_starts_with(const std::string& path, const std::string& prefix);

/// The rule for a text output that carries no config hash (a CSV): it is
/// distclust's when its first line is `first_line` (the header distclust
/// writes), so a user's file of that name is replaced only with --force.
void require_replaceable_text(const std::string& stage, const std::string& out, const std::string& first_line,
                              bool force, Communicator& comm);

}  // namespace distclust
