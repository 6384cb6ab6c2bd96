// An output folder (report, export) that appears whole or not at all.
// Everything is written into OUT.tmp, which commit() moves to OUT.
#pragma once

#include <string>
#include <vector>

namespace distclust {

/// Throws when the output folder `out` is, contains or lies inside one of
/// `inputs` (files or folders; "" ignored): committing with --force deletes
/// what it replaces, and that must never be an input. Paths are compared as
/// the file system resolves them (symlinks, "..").
/// `flag`: the option that named `out`, which the message tells to change.
void require_apart(const std::string& out, const std::vector<std::string>& inputs, const std::string& flag = "--out");

/// Throws when the output `out` is or contains the folder `folder` ("" ignored):
/// writing it would replace that folder. An output inside it replaces nothing
/// and passes (assign --source . writes its files beside the new images).
void require_not_over(const std::string& out, const std::string& folder);

class StagedDir {
 public:
  /// Throws Error when `out` exists and !force (naming it and --force).
  /// Removes a stale OUT.tmp left by an earlier killed run and creates a
  /// fresh one.
  StagedDir(const std::string& out, bool force);
  /// Removes OUT.tmp when commit() was not reached (an error on the way).
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  /// The folder to write into (OUT.tmp).
  const std::string& path() const { return tmp_; }
  const std::string& out() const { return out_; }

  /// Moves OUT.tmp to OUT, first writing `hash` (when given) as the folder's
  /// config hash and `kind` (the stage that wrote it: report, export,
  /// synth_images) as its output kind (io/output_identity.h). When OUT exists (force), the two are
  /// swapped in one atomic renameat2(RENAME_EXCHANGE), so readers see either
  /// the old or the new folder, and the old one is then deleted; on file
  /// systems without RENAME_EXCHANGE the old folder is renamed aside first
  /// (to OUT.old, or OUT.old.N when that name is taken: never onto a path
  /// that exists).
  void commit(const std::string& hash = "", const std::string& kind = "");

 private:
  std::string out_, tmp_;
  bool committed_ = false;
};

}  // namespace distclust
