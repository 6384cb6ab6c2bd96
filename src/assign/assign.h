// `distclust assign`: cluster NEW images (or features) against a finished
// run, as scikit-learn's `predict` does for a fitted model.
//
//   new images --(the run's extract settings, model and PCA)--> features
//     -> nearest k-means centroid (kmeans.h5 /centroids), margin confidence
//     -> the run's Gaussian mixture (gmm.h5 /means, /covariances, /weights):
//        responsibilities, most probable component, its responsibility
//     -> the run's SCAN head (scan.h5 /head), softmax, confidence; where the
//        run self-labelled with the neighbour gate (scan_gate.h), a row the
//        self-labelled head moves keeps the move only when its neighbours in
//        the run support it, as in the run: a row the run holds (same image
//        path, bit-identical features) is judged by its neighbours in the
//        run's graph, any other row by its k nearest rows of the run's
//        features (exact search, the graph's metric).
//
// So assigning the run's own images reproduces the run's /assign exactly
// (k-means, gmm and SCAN). A run that clustered an embedding is refused: an
// embedding has no transform for new rows. A model file that changed since the run, features from
// another backbone, or a dimension that differs are refused by name.
//
// Output OUT (assign.h5, rows as in the new features file):
//   /assign [n] int64 (SCAN's cluster when the run has scan.h5, else gmm's
//     when it has gmm.h5, else k-means', as eval, report and export choose;
//     -1 for invalid rows), /confidence [n] float32, /probabilities [n x C]
//     (SCAN's, else gmm's), /kmeans_assign [n] int64, /kmeans_distance [n]
//     float32 (squared L2; spherical: 2 - 2 cos), /kmeans_confidence [n]
//     float32 (margin, kmeans_confidence.h), /gmm_assign [n] int64,
//     /gmm_confidence [n] float32, /gmm_probabilities [n x K] float32;
//     attributes features (the new features file), reference, kmeans, scan,
//     gmm, gate_proposed, gate_kept, and the stage
//     attributes (params, config_hash). `eval`, `report` and `export` take it
//     with --features set to the new features file.
// OUT's .csv: row,path,cluster,confidence,kmeans_cluster,kmeans_confidence,gmm_cluster,gmm_confidence,label
// With --source, the new features are kept as FEATURES_OUT (default OUT's
// .features.h5).
#pragma once

#include <cstdint>
#include <string>

#include "core/stage.h"
#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust assign` (YAML section `assign`).
struct AssignParams {
  std::string run = "";           ///< a finished run's workdir: reference, kmeans, gmm, scan default to its files
  std::string source = "";        ///< new images (folder, list, HDF5, CIFAR), extracted as the run extracted
  std::string features = "";      ///< or new rows already extracted with the run's model (features.h5)
  std::string reference = "";     ///< the run's features.h5 ('' = RUN/features.h5)
  std::string kmeans = "";        ///< the run's kmeans.h5 ('' = RUN/kmeans.h5 if present; none = skip)
  std::string scan = "";          ///< the run's scan.h5 ('' = RUN/scan.h5 if present; none = skip)
  std::string gmm = "";           ///< the run's gmm.h5 ('' = RUN/gmm.h5 if present; none = skip)
  std::string knn = "";           ///< the run's knn.h5 for the neighbour gate ('' = the one scan.h5 names)
  std::string out = "assign.h5";  ///< output file (written as OUT.tmp, renamed when whole)
  std::string csv = "";           ///< CSV output ('' = OUT with .csv)
  std::string features_out = "";  ///< with --source: the new features ('' = OUT with .features.h5)
  std::string backbone = "";      ///< with --source: the run's model file where it is now ('' = the path the run recorded)
  bool force = false;             ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)

  template <class V>
  void visit(V& v) {
    v("run", run, "finished run's workdir (reference, kmeans, gmm, scan default to its files)");
    v("source", source, "new images, extracted with the run's settings, model and PCA");
    v("features", features, "or: new features.h5 already extracted with the run's model");
    v("reference", reference, "the run's features.h5 ('' = RUN/features.h5)");
    v("kmeans", kmeans, "the run's kmeans.h5 ('' = RUN/kmeans.h5 if present; none = skip)");
    v("scan", scan, "the run's scan.h5 ('' = RUN/scan.h5 if present; none = skip)");
    v("gmm", gmm, "the run's gmm.h5 ('' = RUN/gmm.h5 if present; none = skip)");
    v("knn", knn, "the run's knn.h5 for the self-labelling gate ('' = the one scan.h5 names)");
    v("out", out, "output assign.h5");
    v("csv", csv, "output CSV ('' = OUT with .csv)");
    v("features_out", features_out, "with --source: where the new features go ('' = OUT with .features.h5)");
    v("backbone", backbone, "with --source: the run's model file where it is now ('' = the path the run recorded)");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  /// Throws Error naming the bad value.
  void validate() const;
};

/// What run_assign did (every rank gets the totals).
struct AssignSummary {
  int64_t rows = 0, invalid = 0;
  int64_t gate_proposed = 0, gate_kept = 0;  ///< self-labelling moves of new rows, and those the gate kept
  bool kmeans = false, scan = false, gmm = false;  ///< which models were applied
};

/// Runs assign (collective).
AssignSummary run_assign(const AssignParams& p, Communicator& comm, const StageConfig& cfg);

/// The assign stage (core/stage.h).
const StageDef<AssignParams>& assign_stage();

}  // namespace distclust
