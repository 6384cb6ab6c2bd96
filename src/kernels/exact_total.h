// A sum of non-negative values over every rank's rows that is the same bits
// for any rank count: a double summed per rank and then over ranks is not
// (its last bits follow the split), and a value compared with it (a draw's
// threshold, a floor) could then differ with the rank count.
#pragma once

#include <algorithm>
#include <cstdint>

#include "distclust/comm.h"
#include "kernels/exact_sum.h"

namespace distclust {

/// The sum of value(i) over this rank's i < n and every other rank's,
/// skipping those where value(i) < 0 (e.g. invalid rows), on a FixedGrid
/// of the largest value and the count (steps of at most 2^-50 of the
/// largest value). Collective: one allreduce_max and two allreduce_sums.
template <class Value>
double exact_nonnegative_total(int64_t n, Value value, Communicator& comm) {
  double mx = 0;
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = value(i);
    if (v >= 0) mx = std::max(mx, v), ++m;
  }
  mx = comm.max(mx);
  const FixedGrid grid(mx, mx * double(std::max<int64_t>(1, comm.sum(m))));
  int64_t acc = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = value(i);
    if (v >= 0) acc += grid.to_fixed(v);
  }
  return grid.to_double(comm.sum(acc));
}

}  // namespace distclust
