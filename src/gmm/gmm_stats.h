// The EM step's sufficient statistics, summed exactly (kernels/exact_sum.h)
// so that they are bit-identical for any rank and thread count. Each term is
// rounded once to a fixed grid and the grid counts are added as int64: the
// per-component sums are centred on the component's current mean mu_c,
//   N_c = sum_i r_ic,  S_c = sum_i r_ic (x_i - mu_c),  Q_c = sum_i r_ic (x_i - mu_c)(x_i - mu_c)^T
// (diag: Q's diagonal), so the update mu' = mu + S/N, Sigma' = Q/N - (S/N)(S/N)^T
// cancels no more than scikit-learn's two-pass covariance does, in one pass.
// Why exact sums rather than double in a fixed order: a fixed order across
// ranks needs every block partial gathered (K d^2 each); the grid keeps the
// one small allreduce per iteration, and its rounding (below 2^-40 of the
// largest sum) is far below what the fit resolves. The log-likelihood has no
// a-priori bound: it is split into an integer part and a remainder on a fine
// grid (two int64 slots, exact for |log p(x)| < 2^50, clamped beyond).
// Terms that would round to 0 on every grid (a responsibility below
// GMMGrids::r_skip) are skipped: the same sums, faster. The grids are per
// column, or, for an iteration those cannot resolve (a far value), per
// component as well (GMMGrids).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "extract/features_file.h"
#include "gmm/gmm.h"
#include "gmm/gmm_model.h"
#include "kernels/exact_sum.h"

namespace distclust {

/// Where each statistic sits in the one int64 message:
/// [N (k) | S (k x d) | Q (k x dq) | loglik integer part | loglik remainder |
///  coarse (k x d)]. coarse: per component and column, the nonzero diagonal Q
/// terms held by fewer than 2^19 steps of their grid, each rounded by up to
/// half a step (gmm.cpp's require_resolved).
struct GMMStatsLayout {
  int64_t k = 0, d = 0, dq = 0;  ///< dq: d (d + 1) / 2 (full, packed lower triangle) or d (diag)
  GMMStatsLayout(int64_t k_, int64_t d_, bool full) : k(k_), d(d_), dq(full ? d_ * (d_ + 1) / 2 : d_) {}
  int64_t s() const { return k; }
  int64_t q() const { return k + k * d; }
  int64_t ll() const { return k + k * d + k * dq; }
  int64_t coarse() const { return ll() + 2; }
  int64_t size() const { return coarse() + k * d; }
};

/// The grids of one iteration, from bounds every rank shares: n_valid and,
/// per column, the largest |x_ij - mu_cj| (dev [d]). A grid per column (S)
/// and per column pair (Q): one far-out value coarsens only the sums it is
/// a term of. With one grid sized by the largest deviation of all, a value
/// of 1e12 in one column set Q's step to 2^31 and zeroed every covariance
/// (ARI 0). Per component as well (per_component): from each component's
/// own largest deviations, measured by a first E-step pass, so a far value
/// coarsens only the component that takes it (gmm.cpp uses them once a
/// column's grid has proved too coarse).
struct GMMGrids {
  FixedGrid r, ll;
  std::vector<FixedGrid> s;  ///< [d] column j's (term bound dev_j); per_component: [k x d]
  std::vector<FixedGrid> q;  ///< [dq] pair (j, l)'s, packed lower triangle (full), or column j's (diag); per_component: [k x dq]
  double r_skip = 0;         ///< responsibilities below this are skipped (per column: they add 0 to every sum)
  int64_t d = 0, dq = 0;     ///< columns, and Q's entries per component
  bool per_component = false;
  GMMGrids() = default;
  GMMGrids(double n_valid, std::vector<double> dev, bool full);
  /// Per component: dev [k x d] each component's largest |x_ij - mu_cj| over
  /// the rows it took with r >= r_skip (gmm_e_step's deviations), and that
  /// r_skip, kept, so that no row beyond those measured adds a term.
  GMMGrids(double n_valid, std::vector<double> dev, int64_t k, bool full, double r_skip);
  /// Component c's S grids [d] and Q grids [dq].
  const FixedGrid* s_of(int64_t c) const { return s.data() + (per_component ? c * d : 0); }
  const FixedGrid* q_of(int64_t c) const { return q.data() + (per_component ? c * dq : 0); }
};

/// Each column's smallest and largest value over valid rows [d] (0, 0: no
/// valid row).
struct ColumnRange {
  std::vector<double> lo, hi;
  double abs_max(int64_t j) const;  ///< max(|lo_j|, |hi_j|)
};
ColumnRange column_range(const FeatureBlock& b, Communicator& comm);  ///< collective

/// A bound on |x_ij - mu_cj| per column [d] for rows in `cols` and the means
/// [k x d] given.
std::vector<double> deviation_bound(const ColumnRange& cols, const std::vector<double>& means);

/// What the E-step writes per row (the final pass): may be null.
struct GMMRowOutput {
  float* probabilities = nullptr;  ///< [local rows x k]
  int64_t* assign = nullptr;       ///< [local rows], -1 for invalid rows
  float* confidence = nullptr;     ///< [local rows]
};

/// E-step over this rank's valid rows: responsibilities under g (centred on
/// g.means) summed into *stats on `grids` (resized to layout.size(), local
/// sums; the caller allreduces). Writes rows' outputs when `out` is given.
/// stats and grids null: the outputs only (applying a fitted mixture).
/// deviations (with stats): [k x d] this rank's largest |x_ij - mu_cj| over
/// the rows each component took (r >= r_skip), for per-component grids.
/// on_progress: called now and then from one thread with the fraction of
/// this rank's rows taken so far (a full-covariance pass at large D takes
/// a minute: progress lines come from inside it).
void gmm_e_step(const FeatureBlock& b, const GMMDensity& g, const GMMGrids* grids, std::vector<int64_t>* stats,
                const GMMRowOutput* out = nullptr, const std::function<void(double)>& on_progress = {},
                std::vector<double>* deviations = nullptr);

/// The statistics of a hard assignment (labels [local rows], -1 = none)
/// centred on `centres` [k x d]: the k-means initialisation.
void gmm_hard_stats(const FeatureBlock& b, const std::vector<int64_t>& labels, const std::vector<double>& centres,
                    int64_t k, bool full, const GMMGrids& grids, std::vector<int64_t>& stats);

/// [k x d] this rank's largest |x_ij - centre_cj| over the valid rows
/// labelled c: gmm_hard_stats' per-component grids.
std::vector<double> gmm_hard_deviations(const FeatureBlock& b, const std::vector<int64_t>& labels,
                                        const std::vector<double>& centres, int64_t k);

/// The mean log-likelihood per row from allreduced stats.
double gmm_mean_loglik(const std::vector<int64_t>& stats, const GMMStatsLayout& layout, const GMMGrids& grids,
                       int64_t n_valid);

/// M-step (sklearn's formulas: N + 10 eps, weights N / sum N): the new
/// model from allreduced stats centred on prev's means. A component without
/// any responsibility mass keeps prev's mean and covariance (counted in
/// *empty); a covariance that rounding left not positive definite gets
/// reg_covar x 10, 100, ... more on its diagonal until it is.
GMMParamsFit gmm_m_step(const std::vector<int64_t>& stats, const GMMParamsFit& prev, const GMMGrids& grids,
                        double reg_covar, int64_t* empty);

}  // namespace distclust
