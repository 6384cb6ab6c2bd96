// Greedy k-means++ seeding (2 + ln k candidate draws per centre, the one that
// lowers the potential most is kept, as scikit-learn does), spread over
// ranks and threads: each rank seeds from its own share of the points; per
// centre, the grid's maxima, the draws, the candidates (two) and the
// candidates' potentials cross ranks in five small collectives.
//
// The same centres for any rank and thread count, by construction: the
// random stream is one keyed sequence every rank draws alike; potentials and
// draw positions are exact sums (kernels/exact_sum.h), in the points' global
// order; a point's distances are fixed-order sums of squared differences
// (kernels/rows.h diff_rows; spherical: dot products, dot_rows) that do not
// depend on which other points are measured. Summed from the differences,
// rows far from the origin in every column that lie 0.1 apart keep their
// distances (|x|^2 - 2x.c + |c|^2 in float left them rounding noise, and
// such a group drew more seeds).
//
// Most points need not be measured against a candidate at all: with a the
// point's nearest centre so far, |x - cand| >= |cand - a| - |x - a| (the
// triangle inequality), so when the candidate is more than (2 + 1%) times
// the point's current distance from a, it cannot come closer (the 1% and an
// absolute slack cover float rounding). Late in the seeding almost every
// point is skipped; the result is the one measuring every point would give.
#pragma once

#include <cstdint>
#include <vector>

#include "distclust/comm.h"

namespace distclust {

/// This rank's share of the points to seed from.
struct SeedPoints {
  const float* x = nullptr;        ///< [m x d]
  const double* weight = nullptr;  ///< [m] non-negative weights (null: all 1)
  int64_t m = 0, d = 0;
  int64_t first = 0;               ///< global index of x[0] among all ranks' points (rank order)
};

/// k centres [k x d], the same on every rank (collective). ip: the points are
/// unit vectors compared by 2 - 2 cos (spherical k-means). Needs at least k
/// points in all. prune = false measures every point against every
/// candidate (the reference the pruning is tested against); measured (when
/// given) receives how many of this rank's points were measured, summed
/// over the centres.
std::vector<float> kmeanspp(const SeedPoints& pts, int64_t k, uint64_t seed, bool ip, Communicator& comm,
                            bool prune = true, int64_t* measured = nullptr);

}  // namespace distclust
