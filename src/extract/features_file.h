// features.h5: the output of `extract` (and `synth features`), input of
// kmeans/knn/scan. Layout:
//   /features [N x D] float32 (or float16), chunked by rows
//   /labels   [N] int64, -1 where unknown      (optional on read)
//   /valid    [N] uint8, 0 = unreadable image  (optional on read; all valid)
//   /ids      [N] int64 source index           (paths: written by extract)
//   attributes: created_by, backbone, preprocessing, config_hash
#pragma once

#include <map>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// One rank's rows of a features file.
struct FeatureBlock {
  int64_t n_total = 0;          ///< N, rows in the whole file
  int64_t d = 0;                ///< D, feature dimension
  RowRange rows;                ///< this rank's global rows
  std::vector<float> x;         ///< [rows.size() x D] row-major
  std::vector<int64_t> labels;  ///< [rows.size()], -1 = unknown
  std::vector<uint8_t> valid;   ///< [rows.size()], 0 = invalid row (ignored by clustering)
  /// [D] subtracted from every row by centre_rows (extract/row_centre.h): the
  /// file's row is x + centre. Empty: the rows are the file's.
  std::vector<float> centre;

  int64_t local_rows() const { return rows.size(); }
};

/// Reads this rank's row block (row_block(N, rank, size)). Validates: /features
/// is 2-D float with N, D >= 1; /labels and /valid, when present, have N rows.
FeatureBlock read_features(const std::string& path, Communicator& comm);

/// N and D of a features file without reading it.
std::pair<int64_t, int64_t> features_shape(const std::string& path, Communicator& comm);

/// Writes a features file from every rank's block (collective). half: store
/// /features as float16. attrs: string attributes for the root group.
void write_features(const std::string& path, Communicator& comm, const FeatureBlock& mine, bool half,
                    const std::map<std::string, std::string>& attrs);

/// Valid rows over all ranks (collective).
int64_t count_valid(const FeatureBlock& b, Communicator& comm);

/// Throws naming the file and the first global row holding NaN/Inf among
/// valid rows (with the total count of such rows across ranks).
/// l2_user: a stage measuring L2 distances (e.g. "kmeans"): then also
/// throws when the largest valid row's squared norm is below kMinL2Norm2
/// (io/finite.h; features scaled by 1e-20 put every row in one cluster).
void check_finite(const FeatureBlock& b, const std::string& path, Communicator& comm,
                  const std::string& l2_user = "");

/// L2-normalises each valid row in place (zero rows left as they are).
void normalize_rows(FeatureBlock& b);

}  // namespace distclust
