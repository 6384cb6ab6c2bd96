// The stage contract: each stage of the pipeline is described once, in its
// own folder (kmeans/kmeans_stage.cpp, ...), by a StageDef over its params
// struct: its name (the run stage, the YAML section and the subcommand), its
// output in a run's workdir, how a run wires its paths, what its output
// depends on, and the function that runs it. The stage table
// (pipeline/stage_table.h) lists them in pipeline order; every subcommand
// (cli/stage_command.h) and `distclust run` (pipeline/run.h) are driven by it.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// A run's folder and stage list: where each stage reads and writes.
struct RunLayout {
  std::string workdir;
  std::vector<std::string> stages;             ///< in run order
  std::map<std::string, std::string> outputs;  ///< output of each stage wired so far

  bool has(const std::string& stage) const {
    for (const auto& s : stages)
      if (s == stage) return true;
    return false;
  }
  /// workdir/name
  std::string file(const std::string& name) const { return workdir + "/" + name; }
  /// The output of stage s in this run ("" when the run does not have it).
  std::string output_of(const std::string& s) const {
    auto it = outputs.find(s);
    return it == outputs.end() ? std::string() : it->second;
  }
  /// The output of stage s, or workdir/file when the run does not have s
  /// (an earlier run's output in the same workdir).
  std::string output_or(const std::string& s, const std::string& file_name) const {
    const std::string o = output_of(s);
    return o.empty() ? file(file_name) : o;
  }
  /// The features every stage after extract reads.
  std::string features() const { return output_or("extract", "features.h5"); }
  /// The rows the clustering stages (kmeans, gmm, scan) cluster: embed's output
  /// when the run embeds before them (outputs holds only the stages wired so
  /// far, i.e. the earlier ones), else features(). knn, eval, report and
  /// export keep features(): the graph of the original features, and the
  /// images, labels and ids (which embed.h5 carries over all the same).
  std::string cluster_features() const {
    const std::string e = output_of("embed");
    return e.empty() ? features() : e;
  }
  /// The predictions eval, report and export read: SCAN's when the run
  /// trains SCAN, else the Gaussian mixture's when the run fits one, else
  /// k-means'. The later, sharper model wins: SCAN is trained from the
  /// features' neighbours and usually the best clustering; a GMM refines a
  /// k-means start with soft assignments and shapes; k-means is the base.
  std::string predictions() const {
    if (has("scan")) return output_of("scan");
    if (has("gmm")) return output_of("gmm");
    return output_or("kmeans", "kmeans.h5");
  }
  /// The stages whose output is a clustering (/assign [N]), in the order
  /// scores are shown side by side. A stage not in the table (yet) is never
  /// in a run, so listing it costs nothing.
  static const std::vector<std::string>& clustering_stages() {
    static const std::vector<std::string> s{"kmeans", "gmm", "scan"};
    return s;
  }
  /// Every clustering this run makes, "NAME=FILE,..." (eval's and report's
  /// --compare): the methods scored side by side.
  std::string clusterings() const {
    std::string list;
    for (const auto& s : clustering_stages())
      if (has(s) && !output_of(s).empty()) list += (list.empty() ? "" : ",") + s + "=" + output_of(s);
    return list;
  }
};

/// What a stage runs with besides its params: the resolved YAML of its
/// section (stored in its output as `params`) and the hash that identifies
/// its output (stored as `config_hash`; pipeline/stage_config.h: the fields
/// that change the output plus the identity of its inputs). The same hash
/// keys the stage's checkpoint and tells `run` that an output is up to date.
struct StageConfig {
  std::string yaml = "";  ///< the section's resolved YAML (stored as `params`)
  std::string hash = "";  ///< the output's identity (stored as `config_hash`; keys the checkpoint)
  /// The identities of the input files that went into the hash
  /// (pipeline/stage_config.h inputs_identity), "" when the stage identifies
  /// its inputs otherwise: run_stage's input watch must start from these.
  std::string inputs = "";
};

/// What a stage reports to the run's summary.
struct StageOutcome {
  std::vector<std::string> summary;  ///< lines, e.g. "extract: 683 images/s, 0 invalid images"
};

/// One stage, described once. P: its params struct (params.h convention).
template <class P>
struct StageDef {
  using Params = P;
  std::string name;                    ///< run stage, YAML section, subcommand name
  std::vector<std::string> command;    ///< subcommand path: {"kmeans"}, {"synth", "images"}
  std::string help;                    ///< one line for --help
  std::string output;                  ///< its output in a run's workdir (file or folder)
  /// Fields that do not change the output (file paths, whose contents count
  /// through inputs(); threads; checkpointing; progress), left out of the hash.
  std::vector<std::string> not_hashed;
  /// A run's wiring: input and output paths in the workdir, given the stages it runs.
  std::function<void(P&, const RunLayout&)> wire;
  /// The output path of resolved params.
  std::function<std::string(const P&)> out;
  /// Input files: their config_hash (io/output_identity.h) is their identity in the hash.
  std::function<std::vector<std::string>(const P&)> inputs;
  /// Optional: an identity of the inputs computed otherwise (extract: the
  /// image files and the model's bytes). Collective.
  std::function<std::string(const P&, Communicator&)> identity;
  /// Optional: a reason to skip the stage in a run ("" = run it), e.g. eval
  /// without labels. Collective.
  std::function<std::string(const P&, Communicator&)> skip;
  /// Runs the stage (collective): writes the output whole, with cfg.yaml as
  /// `params` and cfg.hash as `config_hash`.
  std::function<StageOutcome(const P&, Communicator&, const StageConfig&)> run;
  /// Optional: checks made before the overwrite rule (collective), for
  /// refusals --force cannot lift (export: --out is the images folder),
  /// which would otherwise come after the rule's advice to pass --force.
  std::function<void(const P&, Communicator&)> precheck = nullptr;
  /// Whether its output depends on where it computes: LibTorch kernels with
  /// runtime.precision or runtime.storage other than fp32 round the rows or
  /// their products (kernels/compute_target.h compute_identity()), so these
  /// are in its config hash and its checkpoints' keys.
  bool compute_hashed = false;
  /// Whether --out may be empty (eval: prints its scores, writes nothing).
  /// Elsewhere an empty --out ran the whole stage and then failed renaming
  /// ".tmp" to "", leaving a hidden .ckpt.
  bool out_optional = false;
  /// Optional: inputs it reads only when they exist (report: an export
  /// folder, linked when there is one), which `run` does not require up front.
  std::function<std::vector<std::string>(const P&)> optional_inputs = nullptr;
  /// Optional: the checkpoint files a stopped run writing `out` may have
  /// left, whatever its settings (a folder after its files; run takes those
  /// that exist).
  /// A stop between the output's rename and their removal leaves them, and
  /// `run` then skips the stage for good: it removes them
  /// (pipeline/run.cpp remove_leftover_checkpoints). Rank 0.
  std::function<std::vector<std::string>(const std::string& out)> checkpoints = nullptr;
  /// Whether it calls OpenBLAS (k-means, kNN, SCAN, GMM, ...): under ulimit
  /// -v its per-thread buffers are mapped, or refused by name, before it
  /// starts (cli/context.cpp make_context). false: extract (Eigen's PCA),
  /// embed, eval, export, synth images.
  bool uses_blas = true;
};

/// Where a stage writing `out` checkpoints (a file; kNN: a folder): OUT.ckpt.
/// Spelled once, so the stage's body and its StageDef::checkpoints list, and
/// `run`'s clean-up through it, cannot name two places.
inline std::string checkpoint_path(const std::string& out) { return out + ".ckpt"; }

/// Removes the checkpoint files `def` lists for `out` (a folder once empty:
/// remove(3) takes empty folders too). The stage's own clean-up once its
/// output is committed; rank 0; best effort.
template <class P>
void remove_checkpoints(const StageDef<P>& def, const std::string& out) {
  if (def.checkpoints)
    for (const std::string& f : def.checkpoints(out)) std::remove(f.c_str());
}

}  // namespace distclust
