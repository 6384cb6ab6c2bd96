// Where SCAN finds the feature row of any global row on a rank.
//  replicate: every rank holds all N rows (own blocks broadcast in turn);
//  exchange:  a rank holds its own block plus the rows fetched for the
//             current epoch (fetch(): requests and replies by alltoallv).
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

class ScanRows {
 public:
  /// Takes this rank's block (rows already normalised as wanted). replicate:
  /// gathers every block on every rank (collective).
  ScanRows() = default;
  ScanRows(FeatureBlock&& block, bool replicate, Communicator& comm);

  int64_t d() const { return d_; }
  int64_t n_total() const { return n_; }
  RowRange own() const { return own_; }
  bool replicated() const { return replicated_; }

  /// Feature row of global row g: always available for own rows (and all rows
  /// when replicated); otherwise only rows passed to the last fetch().
  const float* row(int64_t g) const;

  /// exchange: makes `needed` (global rows, any order, repeats allowed)
  /// available, dropping the previous epoch's rows (collective). replicate:
  /// nothing to do. Returns the number of rows received from other ranks.
  int64_t fetch(const std::vector<int64_t>& needed, Communicator& comm);

  /// Owner rank of global row g.
  int owner(int64_t g) const;

 private:
  int64_t n_ = 0, d_ = 0;
  RowRange own_;
  bool replicated_ = false;
  std::vector<float> x_;             // replicate: [N x D]; exchange: own block [own x D]
  std::vector<int64_t> begins_;      // row_block begins of every rank, + N
  std::vector<int64_t> fetched_ids_; // exchange: sorted global rows held
  std::vector<float> fetched_x_;     // [fetched x D]
};

}  // namespace distclust
