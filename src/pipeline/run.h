// `distclust run`: the whole job from one config.
#pragma once

#include <string>

namespace distclust {

/// Parameters of `distclust run` (YAML section `run`).
struct RunParams {
  std::string workdir = "distclust-work";  ///< where every stage's output goes (features.h5, kmeans.h5, ...)
  /// Stages in order, comma-separated, from: synth_images, extract, kmeans,
  /// knn, scan, eval, report, export.
  std::string stages = "extract,kmeans,knn,scan,eval,report,export";
  bool force = false;  ///< run every stage even when its output is up to date
  template <class V> void visit(V& v) {
    v("workdir", workdir, "folder for all outputs (features.h5, kmeans.h5, knn.h5, scan.h5, report/, export/)");
    v("stages", stages, "comma-separated: synth_images,extract,kmeans,knn,scan,eval,report,export");
    v("force", force, "rerun stages whose outputs are up to date");
  }
  void validate() const;
};

}  // namespace distclust
