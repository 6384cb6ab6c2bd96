#include "gmm/gmm_model.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"

namespace distclust {

// Both factorisations below are written so that each step's inner loop
// runs along a row (an axpy the compiler vectorises) with the operations on
// every element in the same order as the textbook loops (the same bits
// with -ffp-contract=off; otherwise the compiler fuses other multiply-adds).
// The textbook forms ran down columns or summed in scalar dot products,
// and took 90% of a full-covariance GMM's time at D=1024 (1.6 s/iteration).

bool cholesky_lower(double* a, int64_t d) {
  // Right-looking on the upper triangle, U = L^T row by row: step j scales
  // row j and subtracts it from each later row, the products in increasing
  // j for every element, as L_ij = (a_ij - sum_{l<j} L_il L_jl) / L_jj.
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < i; ++j) a[j * d + i] = a[i * d + j];
  for (int64_t j = 0; j < d; ++j) {
    double* uj = a + j * d;
    const double s = uj[j];
    if (!(s > 0) || !std::isfinite(s)) return false;
    const double c = std::sqrt(s);
    uj[j] = c;
    for (int64_t l = j + 1; l < d; ++l) uj[l] /= c;
    for (int64_t i = j + 1; i < d; ++i) {
      const double f = uj[i];
      double* ui = a + i * d;
      for (int64_t l = i; l < d; ++l) ui[l] -= f * uj[l];
    }
  }
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < i; ++j) a[i * d + j] = a[j * d + i];
  return true;
}

namespace {

/// P = C^-1 for lower-triangular C [d x d], row by row: row i accumulates
/// C_il times row l of P for l < i (l increasing, as the sum over l of
/// P_ij = -sum_{l=j}^{i-1} C_il P_lj / C_ii).
void invert_lower(const double* c, int64_t d, double* p) {
  for (int64_t i = 0; i < d; ++i) {
    double* pi = p + i * d;
    const double* ci = c + i * d;
    std::fill(pi, pi + d, 0.0);
    for (int64_t l = 0; l < i; ++l) {
      const double f = ci[l];
      const double* pl = p + l * d;
      for (int64_t j = 0; j <= l; ++j) pi[j] += f * pl[j];
    }
    for (int64_t j = 0; j < i; ++j) pi[j] = -pi[j] / ci[i];
    pi[i] = 1.0 / ci[i];
  }
}

}  // namespace

GMMDensity make_density(const GMMParamsFit& m) {
  const int64_t k = m.k, d = m.d;
  GMMDensity g;
  g.k = k, g.d = d, g.full = m.full;
  g.means = m.means;
  g.log_norm.resize(size_t(k));
  g.prec.assign(size_t(m.full ? k * d * d : k * d), 0.0);
  const double half_log_2pi = 0.5 * std::log(2 * 3.14159265358979323846);
  // The Cholesky factor's room: full covariances only (diag at D=20000 held
  // 3.2 GB here for nothing, beyond gmm's memory check).
  std::vector<double> c(static_cast<size_t>(m.full ? d * d : 0));
  for (int64_t ci = 0; ci < k; ++ci) {
    double log_det_p = 0;
    if (m.full) {
      std::copy_n(m.covariances.begin() + ci * d * d, d * d, c.begin());
      require(cholesky_lower(c.data(), d), "gmm: the covariance of component ", ci,
              " is not positive definite (raise gmm.reg)");
      invert_lower(c.data(), d, g.prec.data() + ci * d * d);
      for (int64_t j = 0; j < d; ++j) log_det_p -= std::log(c[j * d + j]);
    } else {
      for (int64_t j = 0; j < d; ++j) {
        const double v = m.covariances[ci * d + j];
        require(v > 0 && std::isfinite(v), "gmm: variance ", j, " of component ", ci, " is ", v, " (raise gmm.reg)");
        g.prec[ci * d + j] = 1.0 / std::sqrt(v);
        log_det_p -= 0.5 * std::log(v);
      }
    }
    g.log_norm[ci] = std::log(m.weights[ci]) - double(d) * half_log_2pi + log_det_p;
  }
  return g;
}

void log_prob_tile(const GMMDensity& g, const double* xt, int64_t t, int64_t stride, double* lp, double* work) {
  const int64_t d = g.d;
  double* dt = work;               // [d x stride]: x - mu_c, transposed
  double* maha = work + d * stride;  // [stride]
  for (int64_t c = 0; c < g.k; ++c) {
    const double* mu = g.means.data() + c * d;
    for (int64_t j = 0; j < d; ++j)
      for (int64_t i = 0; i < t; ++i) dt[j * stride + i] = xt[j * stride + i] - mu[j];
    for (int64_t i = 0; i < t; ++i) maha[i] = 0;
    if (g.full) {
      // y_r = sum_{j <= r} P_rj (x_j - mu_j); the loops over the tile's rows vectorise.
      const double* p = g.prec.data() + c * d * d;
      for (int64_t r = 0; r < d; ++r) {
        double y[256];
        for (int64_t i0 = 0; i0 < t; i0 += 256) {
          const int64_t n = std::min<int64_t>(256, t - i0);
          for (int64_t i = 0; i < n; ++i) y[i] = 0;
          for (int64_t j = 0; j <= r; ++j) {
            const double pj = p[r * d + j];
            const double* dj = dt + j * stride + i0;
            for (int64_t i = 0; i < n; ++i) y[i] += pj * dj[i];
          }
          for (int64_t i = 0; i < n; ++i) maha[i0 + i] += y[i] * y[i];
        }
      }
    } else {
      const double* p = g.prec.data() + c * d;
      for (int64_t j = 0; j < d; ++j)
        for (int64_t i = 0; i < t; ++i) {
          const double y = dt[j * stride + i] * p[j];
          maha[i] += y * y;
        }
    }
    for (int64_t i = 0; i < t; ++i) lp[i * g.k + c] = g.log_norm[c] - 0.5 * maha[i];
  }
}

}  // namespace distclust
