// A stage's StageConfig (core/stage.h) from its resolved params: the YAML of
// its section and its config hash: the fields that change the output plus
// the identity of its inputs (their own config hashes, or what the stage
// says identifies them). Subcommands and `distclust run` both compute it
// here, so a file written by `distclust kmeans` and by `distclust run` with
// the same settings and inputs carries the same hash.
#pragma once

#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/stage.h"
#include "core/stop_note.h"
#include "distclust/config.h"
#include "io/input_watch.h"
#include "io/output_lock.h"
#include "io/out_dir.h"
#include "io/replace_rule.h"
#include "kernels/compute_target.h"

namespace distclust {

/// "hash;" for each file: its config_hash, or its size and modification
/// time when it has none (a file not written by distclust). Rank 0 reads;
/// collective.
std::string inputs_identity(const std::vector<std::string>& files, Communicator& comm);

/// Throws on every rank, naming the first differing line, unless every
/// rank resolved the same settings (yaml: a stage's section as
/// ResolvedConfig writes it). A per-rank value (kmeans.out=r$RANK.h5, a
/// rank-local $TMPDIR) once sent ranks into collective writes of different
/// files, where they waited forever. Collective.
void require_same_settings(const std::string& stage, const std::string& yaml, Communicator& comm);

template <class P>
StageConfig stage_config(const StageDef<P>& def, const P& p, Communicator& comm) {
  P q = p;
  ResolvedConfig rc;
  rc.add(def.name, q);
  const std::string inputs = def.identity ? def.identity(p, comm)
                                          : inputs_identity(def.inputs ? def.inputs(p) : std::vector<std::string>{}, comm);
  return {rc.yaml(), config_hash(q, def.not_hashed, inputs + (def.compute_hashed ? compute_identity() : "")),
          def.identity ? std::string() : inputs};
}

/// Whether a params struct has a `force` field (the overwrite rule's escape).
template <class P, class = void>
struct has_force : std::false_type {};
template <class P>
struct has_force<P, std::void_t<decltype(std::declval<P>().force)>> : std::true_type {};

/// Runs a stage as every subcommand and `distclust run` do: with the lock on
/// its output held (io/output_lock.h) from before it touches the output or
/// its checkpoint until it is done (collective).
template <class P>
StageOutcome run_stage(const StageDef<P>& def, const P& p, Communicator& comm, const StageConfig& cfg) {
  {
    P q = p;
    ResolvedConfig rc;
    rc.add(def.name, q);
    require_same_settings(def.name, rc.yaml(), comm);
  }
  stop_note_clear();  // a stop from now on is in this stage, before its commit
  const std::string out = def.out(p);
  require(!out.empty() || def.out_optional, def.name, ".out: no output given (--out ", def.output, ")");
  if (!out.empty()) require_output_name(def.name + ".out", out);
  // An input is a distclust output too, so the overwrite rule alone would
  // let --out name it (kmeans --out features.h5 replaced the features).
  if (def.inputs) require_apart(out, def.inputs(p));
  if (def.precheck) def.precheck(p, comm);
  if (def.output.find('.') != std::string::npos) require_not_directory(out);  // a file output (kmeans.h5, scores.json)
  // eval without --out writes nothing: nothing to lock or to keep apart.
  std::optional<OutputLock> lock;
  if (!out.empty()) {
    OutputLock::require_no_run_in(out, comm);
    lock.emplace(OutputLock::path_for(out), "output " + out, comm);
  }
  // The one overwrite rule (io/replace_rule.h): ours is replaced, anything
  // else only with --force (stages without the key: never).
  if constexpr (has_force<P>::value)
    require_replaceable(def.name, out, p.force, comm);
  else
    require_replaceable(def.name, out, false, comm);
  // Its input files, checked again at the commit (io/input_watch.h), from
  // the identities its config hash was made of (taken once, not again here):
  // one replaced in between (the lock, the checks above) is caught too.
  InputWatch watch(def.inputs ? def.inputs(p) : std::vector<std::string>{}, comm, cfg.inputs);
  return def.run(p, comm, cfg);
}

}  // namespace distclust
