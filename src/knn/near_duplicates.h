// Near-duplicates: groups of rows joined by kNN edges that pass a threshold,
// i.e. the connected components of the thresholded kNN graph (knn.h5). An
// edge counts in either direction: a and b are joined when b is in a's list
// or a is in b's list with a value that passes. Rows in no passing edge are
// in no group; a row listed as its own neighbour joins nothing.
//
// The threshold T means, by the graph's metric (knn.h5 attribute `metric`):
//   cosine: a pair is a near-duplicate when its cosine similarity >= T,
//           T in [-1, 1] (identical images: ~1; 0.95 is a strict choice);
//   l2:     when its squared L2 distance <= T, T >= 0 (identical: 0).
// A pair exactly at T counts. T is rounded to float32 before comparing,
// the precision of knn.h5's /similarities, so that "exactly at T" means
// the stored value equals the T a user typed. Identical images score
// 1 - 1e-7 rather than 1 by cosine (float rounding) and 0 by l2, so cosine
// T = 1 finds nothing; for exact copies take 0.9999.
//
// Groups are numbered by size, largest first (ties: by smallest row), rows
// ascending within a group: the same for any number of ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// What passes: similarity >= value (cosine) or distance <= value (l2).
struct DuplicateRule {
  std::string metric;  ///< "cosine" or "l2"
  double threshold = 0;
  float bound = 0;  ///< threshold as float32: what stored values are compared with
  bool passes(float v) const { return metric == "l2" ? v <= bound : v >= bound; }
  /// "cosine similarity >= 0.95" / "squared L2 distance <= 0.01"
  std::string describe() const;
};

/// The rule of `metric` at threshold t; an Error naming `where` (e.g.
/// "export.duplicates"), the value, `graph` (the knn.h5) and its metric when
/// t makes no sense for it (cosine outside [-1, 1], l2 negative, not finite,
/// unknown metric).
DuplicateRule duplicate_rule(const std::string& metric, double t, const std::string& where,
                             const std::string& graph = "the kNN graph");

/// An undirected edge, a < b.
struct DupEdge {
  int64_t a = 0, b = 0;
  bool operator<(const DupEdge& o) const { return a != o.a ? a < o.a : b < o.b; }
  bool operator==(const DupEdge& o) const { return a == o.a && b == o.b; }
};

/// The passing edges of graph rows [rows.begin, rows.end): indices and
/// values are [rows.size() x k] (global row ids, -1 = no neighbour). Self
/// loops and -1 are skipped; an index outside [-1, n) is an Error naming
/// `file`, row and column. Sorted, without repeats.
std::vector<DupEdge> passing_edges(const int64_t* indices, const float* values, RowRange rows, int64_t k, int64_t n,
                                   const DuplicateRule& rule, const std::string& file);

/// Fewer edges with the same components: an edge is kept only when it joins
/// two components of the edges kept before it (at most rows touched - 1).
std::vector<DupEdge> spanning_forest(const std::vector<DupEdge>& edges);

/// Connected components with at least two rows, ordered as the header says.
std::vector<std::vector<int64_t>> duplicate_groups(const std::vector<DupEdge>& edges);

/// The groups of a knn.h5 (rank 0; other ranks get everything but groups).
struct NearDuplicates {
  DuplicateRule rule;
  std::string knn;
  int64_t n = 0, k = 0;
  std::vector<std::vector<int64_t>> groups;
  int64_t rows_in_groups() const;
};

/// Collective. Reads each rank's row block of `knn`, keeps its passing edges
/// and groups them on rank 0. Errors name the file or `where` with the value.
NearDuplicates find_near_duplicates(const std::string& knn, double threshold, const std::string& where,
                                    Communicator& comm);

}  // namespace distclust
