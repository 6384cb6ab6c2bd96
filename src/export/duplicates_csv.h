// The near-duplicates of `distclust export --duplicates T`, as files:
//
//   OUT/duplicates.csv   header `group,size,row,path,cluster`; one line per
//                        row in a group (knn/near_duplicates.h): groups by
//                        size, largest first, numbered 0.. in that order,
//                        rows ascending within a group. path: /ids as in
//                        assignments.csv; cluster: the row's cluster, empty
//                        when export was given no predictions.
//   OUT/duplicates.json  what was computed: threshold, metric, the rule
//                        ("cosine similarity >= 0.95"), knn file, k, rows,
//                        groups, rows_in_groups, largest group.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "knn/near_duplicates.h"

namespace distclust {

/// Writes both files into `dir` (rank 0). assign: [n] clusters, or null.
void write_duplicates(const std::string& dir, const NearDuplicates& d, const std::string& features,
                      const std::vector<int64_t>* assign);

}  // namespace distclust
