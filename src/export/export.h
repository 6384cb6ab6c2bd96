// `distclust export`: a clustering as plain files for people and scripts.
//
//   OUT/assignments.csv    header `row,path,cluster,confidence,label,class_name`;
//                          one line per row of the features file, in row
//                          order. path: the image path from /ids (empty when
//                          /ids holds integer indices); cluster: -1 for
//                          invalid rows (/valid 0 or /assign < 0);
//                          confidence: see report.h (empty for invalid rows
//                          or when the predictions carry none); label: the
//                          class id, empty when unknown; class_name: the
//                          label's name from the features file's
//                          class_names (extract stores the class folder
//                          names), empty when unknown. New columns are added
//                          at the end, so readers by position keep working.
//                          Fields are quoted as RFC 4180 says (a path with a
//                          comma, quote or newline survives).
//   OUT/duplicates.csv, OUT/duplicates.json
//                          with --duplicates T (off by default): groups of
//                          near-duplicate rows over the kNN graph --knn
//                          (export/duplicates_csv.h; the threshold's meaning
//                          per metric: knn/near_duplicates.h). Without
//                          --pred, these are all that is written.
//   OUT/clusters/cluster_XXXX/ROW_NAME
//                          one entry per valid row that has an image path:
//                          an absolute symlink to the original image (the
//                          folder can be moved and the links still resolve),
//                          or a copy with --copy. ROW is the row index,
//                          zero-padded, so names are unique even where
//                          several images share a file name. XXXX is the
//                          cluster id, zero-padded to at least 4 digits.
//                          Rows whose image file does not exist are left
//                          out of the folders (still in the CSV), counted
//                          and logged; so are FILE:INDEX ids (rows of an
//                          HDF5 array or CIFAR batch), which have no file.
//
// Output folders (here and for the report): everything is written into
// OUT.tmp and moved to OUT when complete, so OUT is never half written. An
// existing OUT is replaced when distclust wrote it (io/replace_rule.h: the
// rule of every stage), anything else only with --force; the new folder
// replaces the old one in a single atomic rename (Linux renameat2
// RENAME_EXCHANGE, falling back to rename-aside on file systems without it),
// then the old one is deleted.
//
// Runs on rank 0 (the other ranks help with the k-means confidence and
// read their row blocks of knn.h5 for --duplicates).
#pragma once

#include <cstdint>
#include <string>

#include "core/stage.h"
#include "distclust/comm.h"

namespace distclust {

/// Parameters of `distclust export` (YAML section `export`).
struct ExportParams {
  std::string features = "";    ///< features.h5 (/ids paths, /labels)
  std::string pred = "";        ///< predictions: scan.h5 or kmeans.h5 (/assign); may be "" with --duplicates
  std::string knn = "";         ///< knn.h5 whose edges --duplicates groups
  std::string duplicates = "";  ///< near-duplicate threshold, "" = off (knn/near_duplicates.h says what it means)
  std::string out = "export";   ///< output folder
  bool copy = false;            ///< copy the images instead of symlinking them
  bool folders = true;          ///< write clusters/ (false: only the CSV)
  std::string image_root = "";  ///< folder that relative /ids paths are relative to (default: current folder)
  bool force = false;           ///< replace an existing OUT that distclust did not write (io/replace_rule.h)

  template <class V>
  void visit(V& v) {
    v("features", features, "features.h5 (image paths in /ids, labels in /labels)");
    v("pred", pred, "predictions file with /assign: scan.h5 or kmeans.h5 (optional with --duplicates)");
    v("knn", knn, "knn.h5 for --duplicates (a run: its knn.h5)");
    v("duplicates", duplicates,
      "near-duplicates into duplicates.csv (off when empty): rows joined by a kNN edge passing this threshold; "
      "cosine graph: similarity >= T (T in [-1, 1], e.g. 0.95), l2 graph: squared distance <= T (T >= 0)");
    v("out", out, "output folder (assignments.csv, clusters/)");
    v("copy", copy, "copy images instead of symlinking them");
    v("folders", folders, "write the per-cluster folders (off: CSV only)");
    v("image_root", image_root, "folder relative image paths are relative to (default: current folder)");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  /// Throws Error naming the bad value.
  void validate() const;
  /// --duplicates as a number (validate() has checked it parses).
  double duplicate_threshold() const;
};

/// What run_export wrote (rank 0; zeros elsewhere).
struct ExportSummary {
  int64_t rows = 0;      ///< lines in the CSV (without the header)
  int64_t invalid = 0;   ///< rows with cluster -1
  int64_t linked = 0;    ///< files linked or copied into cluster folders
  int64_t missing = 0;   ///< valid rows with a path whose file does not exist
  int64_t failed = 0;     ///< files there that could not be linked or copied (an error: nothing is written)
  int64_t no_path = 0;   ///< valid rows without a file of their own (integer /ids, FILE:INDEX ids)
  int64_t clusters = 0;  ///< non-empty cluster folders
  int64_t duplicate_groups = 0;  ///< groups in duplicates.csv (--duplicates)
  int64_t duplicate_rows = 0;    ///< rows in those groups
};

/// Throws when --out is, holds or lies in one of export's inputs or the
/// images folder (before the overwrite rule: --force cannot lift it). Collective.
void require_export_apart(const ExportParams& p, Communicator& comm);

/// Writes the export (collective: every rank calls it). hash: the run's
/// config hash.
ExportSummary run_export(const ExportParams& p, Communicator& comm, const std::string& hash = "");

/// The export stage (core/stage.h).
const StageDef<ExportParams>& export_stage();

}  // namespace distclust
