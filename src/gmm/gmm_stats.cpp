#include "gmm/gmm_stats.h"

#include <limits>
#include <utility>

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>

#include "distclust/log.h"

namespace distclust {

namespace {

constexpr int64_t kTile = 64;  // rows per E-step tile (transposed, so the loops over rows vectorise)

double grid_step(const FixedGrid& g) { return std::ldexp(1.0, -g.shift()); }

/// Adds m rows' terms for component c, given transposed: dev [d x stride]
/// (dev[j * stride + u] = x_uj - mu_cj), r [m]; rd: d x stride scratch.
/// Each statistic is a reduction over the rows (vectorised); the terms are
/// rounded one by one, so the sums are those of any other order.
void add_component(const GMMStatsLayout& L, const GMMGrids& G, int64_t c, const double* dev, const double* r,
                   int64_t m, int64_t stride, bool full, double* rd, int64_t* acc) {
  const int64_t d = L.d;
  int64_t* s = acc + L.s() + c * d;
  int64_t* q = acc + L.q() + c * L.dq;
  int64_t* coarse = acc + L.coarse() + c * d;
  // A diagonal term: its grid units, counting a nonzero term held by fewer
  // than kFineSteps steps (coarse: rounded by more than 2^-20 of itself, up
  // to half a step; the terms of a constant column are exact 0s). Counting
  // only terms that rounded to 0 missed a grid of step 512 under terms of
  // ~400: each rounded to one step, and a variance of 399.5 came out 512.
  constexpr int64_t kFineSteps = int64_t(1) << 19;
  auto diagonal = [&](const FixedGrid& g, const double* a, const double* b) {
    int64_t t = 0, few = 0;
    for (int64_t u = 0; u < m; ++u) {
      const double v = a[u] * b[u];
      const int64_t f = g.to_fixed(v);
      t += f;
      few += (f < kFineSteps) & (v != 0.0);  // diagonal terms are >= 0
    }
    return std::make_pair(t, few);
  };
  int64_t n = 0;
  for (int64_t u = 0; u < m; ++u) n += G.r.to_fixed(r[u]);
  acc[c] += n;
  const FixedGrid *gs = G.s_of(c), *gq = G.q_of(c);
  for (int64_t j = 0; j < d; ++j) {
    const double* dj = dev + j * stride;
    double* rdj = rd + j * stride;
    int64_t sj = 0;
    for (int64_t u = 0; u < m; ++u) {
      rdj[u] = r[u] * dj[u];
      sj += gs[j].to_fixed(rdj[u]);
    }
    s[j] += sj;
    if (full) {
      for (int64_t l = 0; l < j; ++l) {
        const double* dl = dev + l * stride;
        const FixedGrid& g = gq[j * (j + 1) / 2 + l];
        int64_t t = 0;
        for (int64_t u = 0; u < m; ++u) t += g.to_fixed(rdj[u] * dl[u]);
        q[j * (j + 1) / 2 + l] += t;
      }
      const auto [t, few] = diagonal(gq[j * (j + 1) / 2 + j], rdj, dj);
      q[j * (j + 1) / 2 + j] += t;
      coarse[j] += few;
    } else {
      const auto [t, few] = diagonal(gq[j], rdj, dj);
      q[j] += t;
      coarse[j] += few;
    }
  }
}

/// Adds one row's log-likelihood in two exact parts (integer, remainder).
void add_loglik(const GMMStatsLayout& L, const GMMGrids& G, double v, int64_t* acc) {
  constexpr double kClamp = 1125899906842624.0;  // 2^50
  v = std::min(kClamp, std::max(-kClamp, v));
  const double hi = std::nearbyint(v);
  acc[L.ll()] += static_cast<int64_t>(hi);
  acc[L.ll() + 1] += G.ll.to_fixed(v - hi);
}

}  // namespace

GMMGrids::GMMGrids(double n, std::vector<double> dev, int64_t k, bool full, double skip) {
  n = std::max(n, 1.0);
  d = int64_t(dev.size()) / std::max<int64_t>(k, 1);
  dq = full ? d * (d + 1) / 2 : d;
  per_component = true;
  // 0: no row of the component in reach (or all at its mean): any grid.
  for (double& v : dev) v = v > 0 && std::isfinite(v) ? v : 1.0;
  r = FixedGrid(1.0, n);
  ll = FixedGrid(0.5, 0.5 * n);
  r_skip = skip;
  for (int64_t c = 0; c < k; ++c) {
    const double* dc = dev.data() + c * d;
    for (int64_t j = 0; j < d; ++j) {
      s.emplace_back(dc[j], n * dc[j]);
      for (int64_t l = full ? 0 : j; l <= j; ++l) q.emplace_back(dc[j] * dc[l], n * dc[j] * dc[l]);
    }
  }
}

GMMGrids::GMMGrids(double n, std::vector<double> dev, bool full) {
  n = std::max(n, 1.0);
  d = int64_t(dev.size());
  dq = full ? d * (d + 1) / 2 : d;
  for (double& v : dev) v = v > 0 && std::isfinite(v) ? v : 1.0;
  r = FixedGrid(1.0, n);
  ll = FixedGrid(0.5, 0.5 * n);
  // A term below a quarter step rounds to 0 (with margin for the rounding of
  // r x_j x_l itself): responsibilities below r_skip add nothing anywhere.
  r_skip = 0.25 * grid_step(r);
  for (int64_t j = 0; j < d; ++j) {
    s.emplace_back(dev[j], n * dev[j]);
    r_skip = std::min(r_skip, 0.25 * grid_step(s.back()) / dev[j]);
    for (int64_t l = full ? 0 : j; l <= j; ++l) {
      const double t = dev[j] * dev[l];
      q.emplace_back(t, n * t);
      r_skip = std::min(r_skip, 0.25 * grid_step(q.back()) / t);
    }
  }
}

ColumnRange column_range(const FeatureBlock& b, Communicator& comm) {
  const int64_t d = b.d;
  // hi and -lo in one max: [hi (d) | -lo (d)].
  std::vector<double> m(static_cast<size_t>(2 * d), -std::numeric_limits<double>::infinity());
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i])
      for (int64_t j = 0; j < d; ++j) {
        const double v = b.x[i * d + j];
        m[j] = std::max(m[j], v), m[d + j] = std::max(m[d + j], -v);
      }
  comm.allreduce_max(m.data(), m.size());
  ColumnRange out;
  for (int64_t j = 0; j < d; ++j) {
    const bool any = m[j] > -std::numeric_limits<double>::infinity();
    out.hi.push_back(any ? m[j] : 0.0);
    out.lo.push_back(any ? -m[d + j] : 0.0);
  }
  return out;
}

double ColumnRange::abs_max(int64_t j) const { return std::max(std::fabs(lo[j]), std::fabs(hi[j])); }

std::vector<double> deviation_bound(const ColumnRange& cols, const std::vector<double>& means) {
  // Means of rows lie in [lo, hi], but a given start may not: the farther end.
  const int64_t d = int64_t(cols.lo.size());
  std::vector<double> dev(static_cast<size_t>(d), 0.0);
  for (size_t i = 0; i < means.size(); ++i) {
    const int64_t j = int64_t(i) % d;
    dev[j] = std::max({dev[j], std::fabs(cols.hi[j] - means[i]), std::fabs(means[i] - cols.lo[j])});
  }
  for (double& v : dev) v *= 1 + 1e-9;  // x - mu rounded in double stays below
  return dev;
}

// Longer than a screen on purpose: the tile's buffers are per thread, made
// once inside the OpenMP region, and the three phases (gather, responsibilities,
// per-component sums) share them; split into functions they would be passed
// eight buffers each or reallocated per tile.
void gmm_e_step(const FeatureBlock& b, const GMMDensity& g, const GMMGrids* grids, std::vector<int64_t>* stats,
                const GMMRowOutput* out, const std::function<void(double)>& on_progress,
                std::vector<double>* deviations) {
  require(!stats == !grids && (!deviations || stats), "gmm_e_step: statistics need their grids");
  const int64_t k = g.k, d = g.d, n = b.local_rows();
  const GMMStatsLayout L(k, d, g.full);
  const bool sums = stats != nullptr;
  if (sums) stats->assign(size_t(L.size()), 0);
  if (deviations) deviations->assign(size_t(k * d), 0.0);
  const int64_t tiles = (n + kTile - 1) / kTile;
  std::atomic<int64_t> started{0};
#pragma omp parallel
  {
    std::vector<int64_t> acc(sums ? size_t(L.size()) : 0, 0);
    std::vector<double> dmax(deviations ? size_t(k * d) : 0, 0.0);
    std::vector<double> xt(static_cast<size_t>(d * kTile)), work(static_cast<size_t>(d * kTile + kTile)), lp(static_cast<size_t>(kTile * k));
    std::vector<double> dev(static_cast<size_t>(kTile * d)), rd(static_cast<size_t>(kTile * d)), rr(kTile);
    int64_t rows[kTile];
#pragma omp for schedule(static)
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t now = ++started;
      if (on_progress && omp_get_thread_num() == 0) on_progress(double(now) / double(tiles));
      int64_t t = 0;
      for (int64_t i = tile * kTile; i < std::min(n, (tile + 1) * kTile); ++i) {
        if (!b.valid[i]) {
          if (out) {
            std::fill_n(out->probabilities + i * k, k, 0.0f);
            out->assign[i] = -1;
            out->confidence[i] = 0;
          }
          continue;
        }
        for (int64_t j = 0; j < d; ++j) xt[j * kTile + t] = b.x[i * d + j];
        rows[t++] = i;
      }
      if (t == 0) continue;
      log_prob_tile(g, xt.data(), t, kTile, lp.data(), work.data());
      for (int64_t u = 0; u < t; ++u) {  // log-sum-exp, then responsibilities in place
        double* l = lp.data() + u * k;
        const double mx = *std::max_element(l, l + k);
        double sum = 0;
        for (int64_t c = 0; c < k; ++c) sum += (l[c] = std::exp(l[c] - mx));
        if (sums) add_loglik(L, *grids, mx + std::log(sum), acc.data());
        const double inv = 1.0 / sum;  // r = exp(l - mx) / sum: one exp per component, not two
        for (int64_t c = 0; c < k; ++c) l[c] *= inv;
        if (out) {
          const int64_t i = rows[u];
          int64_t best = 0;
          for (int64_t c = 0; c < k; ++c) {
            out->probabilities[i * k + c] = float(l[c]);
            if (l[c] > l[best]) best = c;
          }
          out->assign[i] = best;
          out->confidence[i] = float(l[best]);
        }
      }
      for (int64_t c = 0; sums && c < k; ++c) {
        const GMMGrids& G = *grids;
        const double* mu = g.means.data() + c * d;
        int64_t m = 0;
        for (int64_t u = 0; u < t; ++u) {
          const double r = lp[u * k + c];
          if (!(r >= G.r_skip)) continue;
          rr[m] = r;
          for (int64_t j = 0; j < d; ++j) dev[j * kTile + m] = xt[j * kTile + u] - mu[j];
          ++m;
        }
        if (m > 0) add_component(L, G, c, dev.data(), rr.data(), m, kTile, g.full, rd.data(), acc.data());
        for (int64_t j = 0; deviations && j < d; ++j)
          for (int64_t u = 0; u < m; ++u) dmax[c * d + j] = std::max(dmax[c * d + j], std::fabs(dev[j * kTile + u]));
      }
    }
#pragma omp critical
    {
      for (size_t j = 0; j < acc.size(); ++j) (*stats)[j] += acc[j];
      for (size_t j = 0; j < dmax.size(); ++j) (*deviations)[j] = std::max((*deviations)[j], dmax[j]);
    }
  }
}

void gmm_hard_stats(const FeatureBlock& b, const std::vector<int64_t>& labels, const std::vector<double>& centres,
                    int64_t k, bool full, const GMMGrids& G, std::vector<int64_t>& stats) {
  const int64_t d = b.d, n = b.local_rows();
  const GMMStatsLayout L(k, d, full);
  stats.assign(size_t(L.size()), 0);
#pragma omp parallel
  {
    std::vector<int64_t> acc(size_t(L.size()), 0);
    std::vector<double> dev(static_cast<size_t>(d)), rd(static_cast<size_t>(d));
    const double one = 1.0;
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = labels[i];
      if (c < 0 || !b.valid[i]) continue;
      for (int64_t j = 0; j < d; ++j) dev[j] = double(b.x[i * d + j]) - centres[c * d + j];
      add_component(L, G, c, dev.data(), &one, 1, 1, full, rd.data(), acc.data());
    }
#pragma omp critical
    for (size_t j = 0; j < acc.size(); ++j) stats[j] += acc[j];
  }
}

std::vector<double> gmm_hard_deviations(const FeatureBlock& b, const std::vector<int64_t>& labels,
                                        const std::vector<double>& centres, int64_t k) {
  const int64_t d = b.d;
  std::vector<double> dev(size_t(k * d), 0.0);
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    const int64_t c = labels[i];
    if (c < 0 || !b.valid[i]) continue;
    for (int64_t j = 0; j < d; ++j)  // as gmm_hard_stats computes it
      dev[c * d + j] = std::max(dev[c * d + j], std::fabs(double(b.x[i * d + j]) - centres[c * d + j]));
  }
  return dev;
}

double gmm_mean_loglik(const std::vector<int64_t>& stats, const GMMStatsLayout& L, const GMMGrids& G,
                       int64_t n_valid) {
  const double total = double(stats[L.ll()]) + G.ll.to_double(stats[L.ll() + 1]);
  return total / double(std::max<int64_t>(n_valid, 1));
}

namespace {

/// Adds jitter to a full covariance's diagonal until its Cholesky factor
/// exists (rounding can leave Q/N - delta delta^T + reg indefinite when a
/// component holds one or two distinct rows). Returns the repairs made.
int repair_full(double* cov, int64_t d, double reg_covar) {
  std::vector<double> c(cov, cov + d * d);
  if (cholesky_lower(c.data(), d)) return 0;
  double scale = 0;
  for (int64_t j = 0; j < d; ++j) scale += std::fabs(cov[j * d + j]);
  double jitter = std::max(reg_covar, 1e-12 * std::max(scale / double(d), 1e-300)) * 10;
  for (int tries = 1; tries <= 30; ++tries, jitter *= 10) {
    std::copy_n(cov, d * d, c.begin());
    for (int64_t j = 0; j < d; ++j) c[j * d + j] += jitter;
    std::vector<double> f = c;
    if (cholesky_lower(f.data(), d)) {
      std::copy_n(c.begin(), d * d, cov);
      return tries;
    }
  }
  return -1;
}

}  // namespace

GMMParamsFit gmm_m_step(const std::vector<int64_t>& stats, const GMMParamsFit& prev, const GMMGrids& G,
                        double reg_covar, int64_t* empty) {
  const int64_t k = prev.k, d = prev.d;
  const GMMStatsLayout L(k, d, prev.full);
  GMMParamsFit next = prev;
  const double eps10 = 10 * DBL_EPSILON;  // sklearn: nk + 10 eps
  std::vector<double> nk(static_cast<size_t>(k));
  double total = 0;
  for (int64_t c = 0; c < k; ++c) total += (nk[c] = G.r.to_double(stats[c]) + eps10);
  std::vector<double> delta(static_cast<size_t>(d));
  for (int64_t c = 0; c < k; ++c) {
    next.weights[c] = nk[c] / total;
    if (stats[c] == 0) {  // no responsibility mass: nothing to estimate from
      if (empty) ++*empty;
      continue;
    }
    const FixedGrid *gs = G.s_of(c), *gq = G.q_of(c);
    for (int64_t j = 0; j < d; ++j) {
      delta[j] = gs[j].to_double(stats[L.s() + c * d + j]) / nk[c];
      next.means[c * d + j] = prev.means[c * d + j] + delta[j];
    }
    const int64_t* q = stats.data() + L.q() + c * L.dq;
    if (prev.full) {
      double* cov = next.covariances.data() + c * d * d;
      for (int64_t j = 0; j < d; ++j)
        for (int64_t l = 0; l <= j; ++l) {
          const double v = gq[j * (j + 1) / 2 + l].to_double(q[j * (j + 1) / 2 + l]) / nk[c] - delta[j] * delta[l];
          cov[j * d + l] = cov[l * d + j] = v;
        }
      for (int64_t j = 0; j < d; ++j) cov[j * d + j] += reg_covar;
      const int rep = repair_full(cov, d, reg_covar);
      if (rep != 0) log::detail("gmm: component ", c, "'s covariance needed ", rep, " jitter steps to be positive definite");
    } else {
      for (int64_t j = 0; j < d; ++j) {
        double v = gq[j].to_double(q[j]) / nk[c] - delta[j] * delta[j] + reg_covar;
        if (!(v > 0)) v = std::max(reg_covar, 1e-300);  // one distinct row and reg 0
        next.covariances[c * d + j] = v;
      }
    }
  }
  return next;
}

}  // namespace distclust
