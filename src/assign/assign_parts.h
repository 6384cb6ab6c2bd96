// Internal to src/assign: the pieces of `distclust assign` (assign.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "assign/assign.h"
#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust::assign {

/// The first line of assign's CSV (the overwrite rule knows its own CSV by it).
constexpr const char* kCsvHeader =
    "row,path,cluster,confidence,kmeans_cluster,kmeans_confidence,gmm_cluster,gmm_confidence,label";

/// The files of one assign: the run's and the new rows'.
struct Inputs {
  std::string reference;     ///< the run's features.h5
  std::string kmeans;        ///< "" = none
  std::string scan;          ///< "" = none
  std::string gmm;           ///< "" = none
  std::string knn;           ///< "" = no gate (or not needed)
  std::string new_features;  ///< the new rows (given, or to be extracted from source)
  std::string csv;           ///< CSV output
  /// Models in the run folder that its last run did not make (its
  /// run.stages lack their stage): not used, and said ("" = none).
  std::string ignored;
};

/// Paths from p and the run folder; checks that the files exist and that
/// there is something to apply. Collective: every rank looks, and ranks
/// that found other files stop with an error naming each one's view.
Inputs resolve_inputs(const AssignParams& p, Communicator& comm);

/// Refuses a kmeans.h5, gmm.h5 or scan.h5 fitted on other features than the
/// reference (io/rows_identity.h): another run's model of the same
/// dimension would assign without a word (collective).
void refuse_foreign_models(const Inputs& in, Communicator& comm);

/// Refuses a kmeans.h5, gmm.h5 or scan.h5 that clustered an embedding (a file made
/// by `distclust embed`, its `stage` attribute): an embedding has no
/// transform for new rows, so applying its centroids or head to new
/// features would be wrong even where the dimensions happen to agree.
/// File system only, the same on every rank.
void refuse_embedding_clusters(const Inputs& in);

/// With p.source: extracts the new images into in.new_features with the
/// reference's extract settings (its `params`), its model (refused when the
/// file's bytes changed since the run) and its PCA; reused when that file is
/// already whole with the same settings. Collective.
void extract_new_rows(const AssignParams& p, const Inputs& in, Communicator& comm);

/// Refuses new features that are not the run's kind: another model
/// (features.h5 attribute `model`), other preprocessing, or another D.
/// Collective (rank 0 reads, every rank throws).
void check_same_features(const Inputs& in, Communicator& comm);

/// The identity the assign's config hash covers: the run's files and the
/// new rows (images' sizes and mtimes, or the features file). Collective.
std::string inputs_identity(const AssignParams& p, Communicator& comm);

/// k-means part: nearest centroid, squared distance, margin confidence of
/// each local row of b (-1 / 0 / 0 for invalid rows), computed as the run's
/// kmeans computed its final assignment (its tiles, its normalisation).
struct KMeansOut {
  std::vector<int64_t> assign;
  std::vector<float> distance, confidence;
};
KMeansOut apply_kmeans(const std::string& kmeans_h5, const FeatureBlock& b);

/// gmm part: the run's mixture applied to b's local rows (gmm_predict).
struct GMMOut {
  int64_t k = 0;
  std::vector<float> prob;        ///< [local rows x K], 0 for invalid rows
  std::vector<int64_t> assign;    ///< [local rows], -1 for invalid rows
  std::vector<float> confidence;  ///< [local rows]
};
GMMOut apply_gmm(const std::string& gmm_h5, const FeatureBlock& b);

/// SCAN part: probabilities [local rows x C] of the run's kept head, with the
/// run's row normalisation; rows whose self-labelling move the neighbour
/// gate turns down get the SCAN head's probabilities (assign_gate.cpp).
struct ScanOut {
  int64_t c = 0;
  std::vector<float> prob;  ///< [local rows x C], 0 for invalid rows
  int64_t gate_proposed = 0, gate_kept = 0;  ///< sums over ranks
};
ScanOut apply_scan(const Inputs& in, const FeatureBlock& b, Communicator& comm);

/// The neighbour gate for new rows: keep[j] for the local row moved[j]
/// (after != before there; before, after: [local rows] clusters of the SCAN
/// and the self-labelled head). b: the new rows as stored. A row the run
/// holds (same path, bit-identical features) is judged by its neighbours in
/// the run's graph; any other by its nearest rows of the run's features.
/// Local (reads the run's files on this process).
std::vector<uint8_t> gate_new_rows(const Inputs& in, const FeatureBlock& b, const std::vector<int64_t>& moved,
                                   const std::vector<int64_t>& before, const std::vector<int64_t>& after);

/// Writes OUT (collective) and the CSV (rank 0).
void write_outputs(const AssignParams& p, const Inputs& in, const FeatureBlock& b, const KMeansOut* km,
                   const ScanOut* sc, const GMMOut* gm, const std::vector<int64_t>& assign, const std::vector<float>& confidence,
                   const StageConfig& cfg, Communicator& comm);

/// OUT with its .h5 extension (if any) replaced by ext: the default paths of
/// the CSV (".csv") and the features of new images (".features.h5").
std::string sibling(const std::string& out, const std::string& ext);

}  // namespace distclust::assign
