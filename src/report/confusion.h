// Internal to src/report: clusters x classes counts for the report's
// confusion matrix and each cluster's majority class.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace distclust::report {

/// Dense confusion matrix: rows are clusters, columns classes, both the
/// distinct ids in increasing order among the counted rows.
struct Confusion {
  std::vector<int64_t> clusters;  ///< [R] cluster ids (rows)
  std::vector<int64_t> classes;   ///< [C] class ids (columns)
  std::vector<int64_t> counts;    ///< [R x C] row-major; empty when R * C > max_cells
  int64_t n = 0;                  ///< rows counted (assign >= 0 and label >= 0)

  bool dense() const { return !counts.empty(); }
  int64_t at(size_t r, size_t c) const { return counts[r * classes.size() + c]; }
};

/// assign, labels: [n]. Rows with assign < 0 (invalid) or label < 0 (unknown)
/// are left out. The dense table is built only when clusters * classes <=
/// max_cells (else counts stays empty: a page cannot show it anyway, and
/// it would cost memory). Throws Error when the sizes differ.
Confusion confusion_matrix(const std::vector<int64_t>& assign, const std::vector<int64_t>& labels, int64_t max_cells);

/// Most frequent class of one cluster among its labelled rows.
struct Majority {
  int64_t cls = -1;      ///< class id (-1 when the cluster has no labelled row)
  int64_t count = 0;     ///< rows of that class in the cluster
  int64_t labelled = 0;  ///< labelled rows in the cluster (purity = count / labelled)
};

/// For each cluster id in [0, k): its majority class (ties: lower class id).
/// Sparse, O(n) time and O(nonzero cells) memory, so it works for any k and
/// number of classes. Rows as in confusion_matrix; assign >= k is an Error.
std::vector<Majority> majority_per_cluster(const std::vector<int64_t>& assign, const std::vector<int64_t>& labels,
                                           int64_t k);

}  // namespace distclust::report
