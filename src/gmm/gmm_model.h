// The densities of a mixture, as the E-step evaluates them: per component
// the inverse P of the covariance's lower Cholesky factor C (Sigma = C C^T),
// so that the Mahalanobis distance |P (x - mu)|^2 is a triangular mat-vec
// without divisions, and the log normaliser log w - d/2 log 2 pi - log det C.
// Hand-written for the small d a mixture is fitted in (d^3/6 per component
// per iteration; the rows' d^2/2 per component dominate): no BLAS call, so a
// row's densities are the same whatever the rank split or the thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "gmm/gmm.h"

namespace distclust {

struct GMMDensity {
  int64_t k = 0, d = 0;
  bool full = true;
  std::vector<double> means;     ///< [k x d]
  std::vector<double> prec;      ///< full: [k x d x d] lower-triangular P = C^-1; diag: [k x d] 1 / sqrt(variance)
  std::vector<double> log_norm;  ///< [k] log w_k - d/2 log(2 pi) + log det P
};

/// In-place lower Cholesky factor of the symmetric a [d x d], read from its
/// lower triangle; the upper triangle is overwritten (scratch). False when a
/// is not positive definite.
bool cholesky_lower(double* a, int64_t d);

/// The densities of m. Throws naming the component when a covariance is not
/// positive definite (the M-step repairs that before: gmm_stats.h).
GMMDensity make_density(const GMMParamsFit& m);

/// Log-densities of a tile of t rows given transposed: xt [d x stride]
/// (column i = row i, i < t). lp [t x k]: log w_c + log N(x_i | mu_c, Sigma_c).
/// work: d x stride + stride doubles.
void log_prob_tile(const GMMDensity& g, const double* xt, int64_t t, int64_t stride, double* lp, double* work);

}  // namespace distclust
