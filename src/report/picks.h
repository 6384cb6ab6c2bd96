// Internal to src/report: which rows a cluster's gallery shows.
//
// Prototypes are the rows of highest confidence (or the prototypes a SCAN
// file lists). Members are a keyed random draw: each row gets the key
// member_key(seed, cluster, row) and a cluster shows the rows with the
// smallest keys. The draw is therefore a pure function of (seed, the
// cluster's set of rows): the same for any number of ranks, any row order,
// and unchanged when other clusters change; every subset of m rows is
// equally likely over seeds.
#pragma once

#include <cstdint>
#include <vector>

namespace distclust::report {

/// The rows one cluster's gallery shows.
struct ClusterPicks {
  std::vector<int64_t> prototypes;  ///< highest confidence first (ties: lower row)
  std::vector<int64_t> members;     ///< random members, none of them a prototype, by increasing key
};

/// The key of a row in its cluster's member draw.
uint64_t member_key(uint64_t seed, int64_t cluster, int64_t row);

/// Where prototypes come from.
struct PrototypeSource {
  const std::vector<float>* confidence = nullptr;  ///< [n] per-row confidence (null: none; NaN counts lowest)
  const std::vector<int64_t>* given = nullptr;     ///< [k x given_per] rows per cluster, -1 padded (null: none)
  int64_t given_per = 0;
};

/// For each cluster id in [0, k): up to p prototypes and up to m members.
/// Given prototypes win over confidence; rows < 0 in them are padding.
/// assign: [n], rows with assign < 0 are in no cluster. One pass with a
/// bounded heap per cluster: O(n log(p + m)) time, O(k (p + m)) memory.
/// Throws Error for assign >= k or a given prototype outside [0, n).
std::vector<ClusterPicks> pick_rows(const std::vector<int64_t>& assign, int64_t k, int p, int m, uint64_t seed,
                                    const PrototypeSource& src);

/// The rows of one cluster that question it.
struct ClusterDoubts {
  std::vector<int64_t> least;       ///< lowest confidence first (NaN lowest; ties: lower row), no prototype among them
  std::vector<int64_t> mismatched;  ///< label >= 0 and != the majority class: highest confidence first, else by member_key
};

/// For each cluster id in [0, k): up to nl least-confident rows (none when
/// confidence is empty) and up to nd rows whose label differs from
/// majority[c] (none when labels are empty or majority[c] < 0). The
/// mismatched rows are the confidently wrong ones first (what a reader
/// checks: is the label or the cluster wrong?); without confidence a keyed
/// random draw (seed) as for members. assign, confidence, labels: [n];
/// majority: [k] class ids; exclude[c].prototypes are kept out of `least`
/// (a small cluster would show its rows twice). One pass with bounded heaps.
std::vector<ClusterDoubts> pick_doubts(const std::vector<int64_t>& assign, int64_t k, int nl, int nd, uint64_t seed,
                                       const std::vector<float>& confidence, const std::vector<int64_t>& labels,
                                       const std::vector<int64_t>& majority, const std::vector<ClusterPicks>& exclude);

}  // namespace distclust::report
