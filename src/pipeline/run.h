// `distclust run`: the stages of the stage table (stage_table.h) chained in
// one workdir, from one config. Each stage's config hash (stage_config.h:
// its settings plus the identity of its inputs) is written into its output;
// a stage whose output exists with the same hash is skipped, and one that
// was interrupted resumes from its own checkpoint.
#pragma once

#include <set>
#include <string>

#include "distclust/comm.h"
#include "distclust/config.h"
#include "distclust/runtime.h"

namespace distclust {

/// Parameters of `distclust run` (YAML section `run`).
struct RunParams {
  std::string workdir = "distclust-work";  ///< where every stage's output goes (features.h5, kmeans.h5, ...)
  /// Stages in order, comma-separated, from the stage table.
  std::string stages = "extract,kmeans,knn,scan,eval,export,report";
  bool force = false;  ///< run every stage even when its output is up to date
  template <class V> void visit(V& v) {
    v("workdir", workdir, "folder for all outputs (features.h5, kmeans.h5, gmm.h5, knn.h5, scan.h5, report/, export/)");
    v("stages", stages, "comma-separated: synth_images,extract,kmeans,gmm,knn,embed,scan,eval,export,report,assign; embed after knn and before kmeans/gmm/scan makes them cluster the embedding");
    v("force", force, "rerun stages whose outputs are up to date");
  }
  void validate() const;
  /// The stages in run order: items trimmed, empty ones (a doubled comma)
  /// dropped; throws naming a stage listed twice or an unknown one.
  std::vector<std::string> stage_list() const;
};

/// Runs the job (collective): resolves every stage's params from `config`
/// (its section and --set overrides) with the run's paths, validates them all
/// before the first stage starts, then runs or skips each in order, and logs
/// a summary. runtime: recorded in WORKDIR/config.resolved.yaml.
void run_pipeline(const RunParams& rp, const Config& config, RuntimeParams runtime, Communicator& comm);

/// The SECTION.KEY settings a run sets itself from its workdir and stages
/// (kmeans.features, kmeans.out, scan.knn, ...): a config may not set them.
std::set<std::string> run_wired_keys();

}  // namespace distclust
