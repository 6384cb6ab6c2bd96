#include "gmm/gmm_model.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"

namespace distclust {

bool cholesky_lower(double* a, int64_t d) {
  for (int64_t j = 0; j < d; ++j) {
    double s = a[j * d + j];
    for (int64_t l = 0; l < j; ++l) s -= a[j * d + l] * a[j * d + l];
    if (!(s > 0) || !std::isfinite(s)) return false;
    const double c = std::sqrt(s);
    a[j * d + j] = c;
    for (int64_t i = j + 1; i < d; ++i) {
      double v = a[i * d + j];
      for (int64_t l = 0; l < j; ++l) v -= a[i * d + l] * a[j * d + l];
      a[i * d + j] = v / c;
    }
  }
  return true;
}

namespace {

/// P = C^-1 for lower-triangular C [d x d] (forward substitution, column by column).
void invert_lower(const double* c, int64_t d, double* p) {
  for (int64_t i = 0; i < d * d; ++i) p[i] = 0;
  for (int64_t col = 0; col < d; ++col) {
    p[col * d + col] = 1.0 / c[col * d + col];
    for (int64_t i = col + 1; i < d; ++i) {
      double s = 0;
      for (int64_t l = col; l < i; ++l) s += c[i * d + l] * p[l * d + col];
      p[i * d + col] = -s / c[i * d + i];
    }
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
