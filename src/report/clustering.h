// Internal to src/report: a clustering as report and export read it: the
// predictions file (scan.h5, kmeans.h5, or any file with /assign) joined
// with the features file's /valid, /labels, /ids and class names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust::report {

/// Which kind of predictions file it is (decides where confidence comes from).
enum class PredKind : int64_t {
  scan = 0,    ///< has /confidence (scan.h5)
  kmeans = 1,  ///< has /centroids and no /confidence: margin confidence (kmeans/kmeans_confidence.h)
  probs = 2,   ///< has /probabilities only: confidence = the row's largest probability
  plain = 3,   ///< /assign only: no confidence
};

struct Clustering {
  std::string features, pred;
  PredKind kind = PredKind::plain;
  int64_t n = 0;                         ///< rows
  int64_t k = 0;                         ///< cluster ids are in [0, k)
  std::vector<int64_t> assign;           ///< [n]; -1 for invalid rows (/valid 0 or /assign < 0)
  int64_t invalid = 0;                   ///< rows with assign -1
  std::vector<float> confidence;         ///< [n], or empty when the predictions carry none
  std::string confidence_def;            ///< what confidence means, for the report
  std::vector<int64_t> labels;           ///< [n] (-1 unknown), or empty when no row has a label
  std::vector<std::string> class_names;  ///< names of class ids 0.. (may be empty or shorter)
  bool has_paths = false;                ///< /ids holds image paths (strings), not integers
  std::vector<int64_t> prototypes;       ///< [k x prototypes_per] rows from the predictions file, -1 padded
  int64_t prototypes_per = 0;

  /// "cat" for a class with a name, else "class 3".
  std::string class_name(int64_t cls) const;
};

/// The image folder extract read `features` from (extract.source in its
/// params: as is when absolute, else the ancestor of the first image's path
/// that ends in it), else "" (a list file, ".", not found): an output must
/// not replace it, and saying so before any work needs no pass over every
/// row's path (the full check at the end still makes one).
std::string image_folder_of(const std::string& features);

/// Collective (every rank calls). Checks the files (present, HDF5, same row
/// count: an Error names both files and counts), computes the k-means margin
/// confidence on all ranks when needed, and reads everything else on rank 0.
/// Rank 0 gets the full Clustering; other ranks get n, k and kind only.
Clustering load_clustering(const std::string& features, const std::string& pred, Communicator& comm,
                           const std::string& who);

/// The rows a kmeans.h5 was fitted on, for its margin confidence: `features`,
/// or the kmeans.h5's own features file (its params) when k-means clustered
/// other rows of the same N (an embedding of them: the centroids' D differs).
std::string kmeans_rows_file(const std::string& features, const std::string& kmeans);

/// Image paths of the given rows (features /ids), "" for every row when /ids
/// holds no strings. Rank 0 only.
std::vector<std::string> image_paths(const std::string& features, const std::vector<int64_t>& rows);

/// True for an id of the form FILE:INDEX (a row of an HDF5 array or CIFAR
/// batch, as extract names them) whose FILE exists: an image without a file
/// of its own, shown as a text tile and left out of export folders.
bool is_array_row_id(const std::string& id);

/// The name of cluster c's folder in an export: "cluster_0007" (at least 4
/// digits). Export writes it, the report links it.
std::string cluster_folder_name(int64_t c);

/// `path` as the file system sees it: relative paths are taken relative to
/// image_root when it is set (else to the current folder).
std::string resolve_image_path(const std::string& path, const std::string& image_root);

}  // namespace distclust::report
