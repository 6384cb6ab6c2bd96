// The L2 centre (row_centre.h).
#include "extract/row_centre.h"

#include <algorithm>

#include "distclust/error.h"
#include "distclust/log.h"
#include "extract/row_sample.h"

namespace distclust {

namespace {

/// The coordinate-wise median [d] of rows x [m x d], m odd: one of the
/// values, not a mean of two.
std::vector<float> column_median(const std::vector<float>& x, int64_t m, int64_t d) {
  std::vector<float> centre(size_t(d), 0.0f), col(static_cast<size_t>(m));
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t i = 0; i < m; ++i) col[size_t(i)] = x[size_t(i * d + j)];
    std::nth_element(col.begin(), col.begin() + m / 2, col.end());
    centre[size_t(j)] = col[size_t(m / 2)];
  }
  return centre;
}

}  // namespace

std::vector<float> l2_centre(const FeatureBlock& b, Communicator& comm) {
  // Up to 1025 rows: an odd count when the data has as many.
  const std::vector<int64_t> rows = keyed_sample(b, 1025, 0x63656e747265ULL, 0xce, comm);
  const std::vector<float> x = gather_rows(b, rows, comm);
  const int64_t m = int64_t(rows.size()), d = b.d;
  if (m == 0) return {};
  const std::vector<float> centre = column_median(x, m, d);
  std::vector<double> spread(size_t(m), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < d; ++j) {
      const double e = double(x[size_t(i * d + j)]) - centre[size_t(j)];
      spread[size_t(i)] += e * e;
    }
  std::nth_element(spread.begin(), spread.begin() + m / 2, spread.end());
  double offset = 0;
  for (float v : centre) offset += double(v) * v;
  // A spread of 0 (most sampled rows identical) says nothing about rounding.
  if (spread[size_t(m / 2)] <= 0 || offset <= 100.0 * spread[size_t(m / 2)]) return {};
  return centre;
}

void centre_far_rows(FeatureBlock& b, Communicator& comm, const std::string& stage) {
  centre_rows(b, l2_centre(b, comm));
  if (!b.centre.empty())
    log::info(stage, ": rows centred on their sample median (far from the origin for their spread: L2 distances ",
              "in float would round away)");
}

void centre_rows(FeatureBlock& b, const std::vector<float>& centre) {
  if (centre.empty()) return;
  require(b.centre.empty(), "centre_rows: the rows are centred already");
  subtract_centre(b.x.data(), b.local_rows(), b.d, centre);
  b.centre = centre;
}

void subtract_centre(float* rows, int64_t n, int64_t d, const std::vector<float>& centre) {
  if (centre.empty()) return;
  require(int64_t(centre.size()) == d, "subtract_centre: a centre of ", centre.size(), " values for rows of ", d);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) rows[i * d + j] -= centre[size_t(j)];
}

namespace {
template <class T>
void add(T* rows, int64_t n, int64_t d, const std::vector<float>& centre) {
  if (centre.empty()) return;
  require(int64_t(centre.size()) == d, "add_centre: a centre of ", centre.size(), " values for rows of ", d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) rows[i * d + j] = T(double(rows[i * d + j]) + double(centre[size_t(j)]));
}
}  // namespace

void add_centre(float* rows, int64_t n, int64_t d, const std::vector<float>& centre) { add(rows, n, d, centre); }
void add_centre(double* rows, int64_t n, int64_t d, const std::vector<float>& centre) { add(rows, n, d, centre); }

}  // namespace distclust
