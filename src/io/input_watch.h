// Inputs that must not change while a stage runs. A features file replaced
// (or truncated) mid-job gave an output computed from the old file that
// recorded the new file's identity: later stages then accepted it with the
// wrong features and refused the right ones. run_stage watches the stage's
// input files; commit_output refuses to commit when one has changed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

class InputWatch {
 public:
  /// Collective: rank 0 takes each file's identity (io/output_identity.h
  /// file_identity; "" entries skipped), shared with every rank; or, given
  /// `taken` (the same on every rank: "ID;" per file, as the config hash's
  /// inputs_identity took them), starts from those, so a file replaced
  /// between the hash and the stage is caught at the commit too. Watched
  /// until destroyed (one watch at a time: a nested one replaces it).
  InputWatch(const std::vector<std::string>& files, Communicator& comm, const std::string& taken = "");
  ~InputWatch();
  InputWatch(const InputWatch&) = delete;
  InputWatch& operator=(const InputWatch&) = delete;

  /// "" when every watched file still has its identity, else which changed
  /// and how (this process alone: the caller agrees on it).
  std::string changed() const;
  /// The identities taken at the start, as pipeline/stage_config.h's
  /// inputs_identity writes them ("ID;" per file).
  std::string identities() const;

 private:
  std::vector<std::pair<std::string, std::string>> files_;  ///< path, identity at the start
  InputWatch* previous_;
};

/// Collective: the watched inputs' change (InputWatch::changed, taken on
/// rank 0 of comm), or "" when nothing changed or nothing is watched.
/// commit_output asks it (the HDF5 outputs).
std::string changed_inputs(Communicator& comm);

/// The same on this process alone, for commits made on one rank: an output
/// folder's (StagedDir::commit: report, export), eval's scores.json.
std::string changed_inputs_here();

}  // namespace distclust
