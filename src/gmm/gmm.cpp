// Distributed EM: restarts, iterations, checkpoints (gmm.h).
#include "kernels/compute_target.h"
#include "gmm/gmm.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/fault.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "gmm/gmm_model.h"
#include "gmm/gmm_state.h"
#include "gmm/gmm_stats.h"
#include "io/checkpoint_pace.h"
#include "extract/row_centre.h"
#include "io/state_file.h"
#include "kernels/exact_sum.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"
#include "kmeans/kmeans.h"

namespace distclust {

void GMMParams::validate() const {
  require(k >= 1, "gmm.k: ", k, " must be >= 1");
  require(covariance == "full" || covariance == "diag", "gmm.covariance: '", covariance, "' is not one of full|diag");
  require(reg >= 0 && std::isfinite(reg), "gmm.reg: ", reg, " must be a finite value >= 0");
  require(iters >= 1, "gmm.iters: ", iters, " must be >= 1");
  require(tol >= 0, "gmm.tol: ", tol, " must be >= 0");
  require(restarts >= 1 && restarts <= 10000, "gmm.restarts: ", restarts, " must be in [1, 10000]");
  require(init_iters >= 0 && init_iters <= 10000, "gmm.init_iters: ", init_iters, " must be in [0, 10000]");
}

double GMMResult::n_parameters() const {
  const double k = double(model.k), d = double(model.d);
  return (k - 1) + k * d + (model.full ? k * d * (d + 1) / 2 : k * d);
}
double GMMResult::bic() const {
  const double n = double(std::max<int64_t>(n_valid, 1));
  return -2 * final_log_likelihood * n + n_parameters() * std::log(n);
}
double GMMResult::aic() const {
  return -2 * final_log_likelihood * double(n_valid) + 2 * n_parameters();
}

namespace {

/// Per-dimension variance of the valid rows, exact (two passes with
/// fixed-point sums): the same on every rank count. Scales gmm.reg.
/// A grid per column: one far-out value in one column (1e12; one grid
/// sized by the largest column) zeroed every other column's variance.
std::vector<double> column_variance(const FeatureBlock& b, const ColumnRange& cols, int64_t n_valid,
                                    Communicator& comm) {
  const int64_t d = b.d;
  const double n = double(std::max<int64_t>(n_valid, 1));
  std::vector<FixedGrid> gs, gq;
  for (int64_t j = 0; j < d; ++j) {
    const double m = std::max(cols.abs_max(j), 1e-30), w = std::max(cols.hi[j] - cols.lo[j], 1e-30) * (1 + 1e-9);
    gs.emplace_back(m, n * m);
    gq.emplace_back(w * w, n * w * w);  // (x - mean)^2 <= (hi - lo)^2
  }
  std::vector<int64_t> s(size_t(d), 0), q(size_t(d), 0);
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i])
      for (int64_t j = 0; j < d; ++j) s[j] += gs[j].to_fixed(double(b.x[i * d + j]));
  comm.allreduce_sum(s.data(), s.size());
  std::vector<double> mean(static_cast<size_t>(d)), var(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) mean[j] = gs[j].to_double(s[j]) / n;
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i])
      for (int64_t j = 0; j < d; ++j) {
        const double v = double(b.x[i * d + j]) - mean[j];
        q[j] += gq[j].to_fixed(v * v);
      }
  comm.allreduce_sum(q.data(), q.size());
  for (int64_t j = 0; j < d; ++j) var[j] = gq[j].to_double(q[j]) / n;
  return var;
}

/// The variance gmm.reg is relative to: the lower median of the columns'
/// variances. Their mean let one far-out value (or one wide column of
/// noise) set it: a row with 1e6 in one column of three made reg_covar 67
/// against clusters of variance ~1, and the mixture collapsed to one
/// component (ARI 0; scikit-learn's absolute 1e-6 gave 0.86). The median
/// keeps features' scale out of reg (scaled features, the same fit) without
/// letting a few columns decide. Constant columns alone: their mean, then 1.
double reg_scale(std::vector<double> var) {
  const size_t mid = (var.size() - 1) / 2;
  double mean = 0;
  for (double v : var) mean += v / double(var.size());
  std::nth_element(var.begin(), var.begin() + mid, var.end());
  return var[mid] > 0 ? var[mid] : mean > 0 ? mean : 1.0;
}

/// One GMM fit: data, bounds, checkpointable state; gmm() drives it.
class EM {
 public:
  EM(FeatureBlock& b, const GMMParams& p, Communicator& comm, const std::string& ckpt, const std::string& hash)
      : b_(b), p_(p), comm_(comm), ckpt_(ckpt), hash_(hash), k_(p.k), d_(b.d), full_(p.covariance == "full") {
    // The model is replicated: every thread holds its own statistics, one
    // K x D x D block each, and the state keeps a few copies.
    // And the per-component grids (S and Q, k x (D + D(D+1)/2) of them)
    // that an iteration beside a far value sums on (gmm_stats.h GMMGrids).
    const double cov_bytes = double(k_) * double(d_) * (full_ ? double(d_) : 1.0) * 8.0;
    const double grid_bytes =
        double(k_) * double(d_) * (1.0 + (full_ ? double(d_ + 1) / 2 : 1.0)) * double(sizeof(FixedGrid));
    require_memory(cov_bytes * (compute_threads() + 8) + grid_bytes,
                   fmt("gmm: k x D x D = ", k_, " x ", d_, " x ", full_ ? d_ : 1, " (", p.covariance,
                       " covariances, their statistics per thread, and per-component grids)"));
    require_memory(double(b.local_rows()) * double(k_) * 4.0,
                   fmt("gmm: the responsibilities, rows x k = ", b.local_rows(), " x ", k_, " floats"));
    n_valid_ = count_valid(b, comm);
    require(n_valid_ >= 1, "gmm: no valid rows (all ", b.n_total, " rows are marked invalid)");
    require(k_ <= n_valid_, "gmm: k=", k_, " exceeds the number of valid rows (", n_valid_, " of ", b.n_total, ")");
    if (full_ && d_ > 128 && comm.rank() == 0)  // the same on every rank: said once
      log::warn("gmm: D=", d_, " with full covariances costs D^2/2 per row and component; gmm is meant for an ",
                "embedding or a PCA of a few dimensions (or use gmm.covariance=diag)");
    centre_ = l2_centre(b, comm);
    if (!centre_.empty()) {
      // Each restart's k-means start works on a centred copy of the rows.
      require_memory(double(b.x.size()) * 4.0,
                     fmt("gmm: a centred copy of the rows for the k-means start (", b.local_rows(), " x ", d_, ")"));
      log::info("gmm: its k-means start works on rows centred on their sample median (far from the origin for "
                "their spread: L2 distances in float would round away)");
    }
    cols_ = column_range(b, comm);
    var_ = column_variance(b, cols_, n_valid_, comm);
    reg_covar_ = p.reg * reg_scale(var_);
    st_.params_hash = hash;
  }

  double reg_covar() const { return reg_covar_; }

  void resume() {
    const size_t kd = size_t(k_ * d_), kc = size_t(full_ ? k_ * d_ * d_ : k_ * d_);
    auto usable = [&](const GMMState& s) -> std::string {
      if (s.params_hash != hash_) return fmt("made with other parameters (hash ", s.params_hash, " != ", hash_, ")");
      auto fits = [&](const std::vector<double>& w, const std::vector<double>& m, const std::vector<double>& c) {
        return (w.empty() && m.empty() && c.empty()) || (w.size() == size_t(k_) && m.size() == kd && c.size() == kc);
      };
      if (!fits(s.weights, s.means, s.covariances) || !fits(s.best_weights, s.best_means, s.best_covariances))
        return fmt("its model does not match k=", k_, " d=", d_, " covariance=", p_.covariance);
      return "";
    };
    if (ckpt_.empty() || !load_state<GMMState>(ckpt_, st_, comm_, usable)) return;
    resumed_ = true;
    log::info("gmm: resuming from ", ckpt_, " at restart ", st_.restart, ", iteration ", st_.next_iter);
  }

  void run() {
    Progress progress("gmm (ETA if all iterations run)", "iterations",
                      int64_t(p_.restarts - st_.restart) * p_.iters - st_.next_iter, comm_.rank() == 0);
    progress_ = &progress;
    for (; st_.restart < p_.restarts; ++st_.restart) {
      if (st_.means.empty()) start_restart();
      // The rate counts EM iterations: the first restart's k-means init
      // (15 s of 18 at 1e7 rows) stays out of it.
      if (done_iters_ == 0) progress.restart_clock();
      for (; !st_.finished && st_.next_iter < p_.iters; ++st_.next_iter) {
        iterate();
        progress.update(++done_iters_);
        // Its own name: the in-process k-means init counts DISTCLUST_FAULT_AFTER_ITER.
        fault_point("DISTCLUST_FAULT_AFTER_EM_ITERS", done_iters_, &comm_);
      }
      finish_restart();
    }
    progress.finish();
    progress_ = nullptr;
  }

  GMMResult result() {
    GMMResult r;
    r.model = model_of(st_.best_weights, st_.best_means, st_.best_covariances);
    r.log_likelihood = st_.best_history;
    r.restart_log_likelihood = st_.restart_loglik;
    r.reg_covar = reg_covar_;
    r.n_valid = n_valid_;
    r.best_restart = st_.best_restart;
    r.iterations = int(st_.best_history.size());
    r.converged = st_.best_converged;
    r.empty_components = st_.empty_components;
    r.resumed = resumed_;
    r.iter_seconds = iter_seconds_;
    const int64_t n = b_.local_rows();
    r.probabilities.resize(size_t(n * k_));
    r.assign.resize(size_t(n));
    r.confidence.resize(size_t(n));
    GMMRowOutput out{r.probabilities.data(), r.assign.data(), r.confidence.data()};
    r.final_log_likelihood = pass(r.model, &out);
    return r;
  }

 private:
  GMMParamsFit model_of(const std::vector<double>& w, const std::vector<double>& m,
                        const std::vector<double>& c) const {
    GMMParamsFit f;
    f.k = k_, f.d = d_, f.full = full_;
    f.weights = w, f.means = m, f.covariances = c;
    return f;
  }
  GMMParamsFit current() const { return model_of(st_.weights, st_.means, st_.covariances); }
  void set_current(GMMParamsFit&& f) {
    st_.weights = std::move(f.weights);
    st_.means = std::move(f.means);
    st_.covariances = std::move(f.covariances);
  }

  void save(GMMState& s) {
    if (!ckpt_.empty() && p_.checkpoint) pace_.save([&] { save_state(ckpt_, s, comm_); });
  }

  /// An E-step pass of m over the data: the mean log-likelihood (collective).
  /// per_component: with grids per component (GMMGrids), from a first pass
  /// that measures each component's deviations on the column grids: two
  /// passes, for an iteration whose column grids proved too coarse.
  double pass(const GMMParamsFit& m, const GMMRowOutput* out, std::vector<int64_t>* stats_out = nullptr,
              GMMGrids* grids_out = nullptr, const std::function<void(double)>& on_progress = {},
              bool per_component = false) {
    GMMGrids grids(double(n_valid_), deviation_bound(cols_, m.means), full_);
    std::vector<int64_t> stats;
    std::vector<double> dev;
    auto part = [&](double a) {  // progress: each of two passes is half
      return on_progress && per_component ? std::function<void(double)>([&, a](double f) { on_progress(a + f / 2); })
                                          : on_progress;
    };
    gmm_e_step(b_, make_density(m), &grids, &stats, out, part(0), per_component ? &dev : nullptr);
    if (per_component) {
      comm_.allreduce_max(dev.data(), dev.size());
      grids = GMMGrids(double(n_valid_), std::move(dev), k_, full_, grids.r_skip);
      gmm_e_step(b_, make_density(m), &grids, &stats, nullptr, part(0.5));
    }
    comm_.allreduce_sum(stats.data(), stats.size());  // N, S, Q, log-likelihood: one message, exact
    const double ll = gmm_mean_loglik(stats, GMMStatsLayout(k_, d_, full_), grids, n_valid_);
    if (stats_out) *stats_out = std::move(stats);
    if (grids_out) *grids_out = std::move(grids);  // moved: the memory check counts one copy
    return ll;
  }

  /// k-means (in process, on the same rows; src/kmeans), then the M-step
  /// of its hard assignment: sklearn's init_params="kmeans".
  void start_restart() {
    const uint64_t seed = key_hash(uint64_t(p_.seed), uint64_t(st_.restart), 0x6A11);
    KMeansParams kp;
    kp.features = p_.features;
    kp.k = p_.k;
    kp.iters = std::max(1, p_.init_iters);
    kp.seed = int64_t(seed >> 1);
    kp.init_centroids = p_.init_centroids;
    kp.checkpoint = false;
    std::vector<float> cent;
    std::vector<int64_t> labels;
    // Rows far from the origin for their spread: the k-means start measures
    // L2 distances on a centred copy (extract/row_centre.h; the EM's own sums
    // subtract the means in double and need none).
    FeatureBlock centred;
    if (!centre_.empty()) centred = b_, centre_rows(centred, centre_);
    FeatureBlock& rows = centre_.empty() ? b_ : centred;
    if (p_.init_iters == 0) {  // the initial centroids as they are: their nearest rows
      auto kernel = make_search();
      std::vector<float> norms(size_t(rows.local_rows())), dist(size_t(rows.local_rows()));
      row_norms(rows.x.data(), rows.local_rows(), d_, norms.data());
      cent = kmeans_init(rows, norms, kp, key_hash(uint64_t(kp.seed), 0, 0xC0FFEE), comm_, *kernel);
      labels.resize(size_t(rows.local_rows()));
      assign_nearest(*kernel, rows, norms.data(), cent.data(), k_, false, labels.data(), dist.data());
    } else {
      auto kernel = make_search();
      KMeansResult km = kmeans(rows, kp, comm_, *kernel);
      cent = std::move(km.centroids);
      labels = std::move(km.assign);
      // Centred: the centroids in b_'s coordinates, rounded once.
      if (!km.file_centroids.empty()) cent = std::move(km.file_centroids);
    }
    if (p_.init_iters == 0) add_centre(cent.data(), k_, d_, centre_);  // back in b_'s coordinates
    GMMParamsFit prev;
    prev.k = k_, prev.d = d_, prev.full = full_;
    prev.weights.assign(size_t(k_), 1.0 / double(k_));
    prev.means.assign(cent.begin(), cent.end());
    // A cluster k-means left empty keeps its centroid and the data's variance.
    prev.covariances.assign(size_t(full_ ? k_ * d_ * d_ : k_ * d_), 0.0);
    for (int64_t c = 0; c < k_; ++c)
      for (int64_t j = 0; j < d_; ++j)
        prev.covariances[full_ ? c * d_ * d_ + j * d_ + j : c * d_ + j] = var_[j] + reg_covar_;
    GMMGrids grids(double(n_valid_), deviation_bound(cols_, prev.means), full_);
    std::vector<int64_t> stats;
    gmm_hard_stats(b_, labels, prev.means, k_, full_, grids, stats);
    comm_.allreduce_sum(stats.data(), stats.size());
    GMMParamsFit fit = gmm_m_step(stats, prev, grids, reg_covar_, nullptr);
    if (!unresolved(fit, grids, stats, kRetryShare).empty()) {  // per-component grids (see iterate)
      std::vector<double> dev = gmm_hard_deviations(b_, labels, prev.means, k_);
      comm_.allreduce_max(dev.data(), dev.size());
      grids = GMMGrids(double(n_valid_), std::move(dev), k_, full_, grids.r_skip);
      gmm_hard_stats(b_, labels, prev.means, k_, full_, grids, stats);
      comm_.allreduce_sum(stats.data(), stats.size());
      fit = gmm_m_step(stats, prev, grids, reg_covar_, nullptr);
      say_per_component();
    }
    set_current(std::move(fit));
    require_resolved(current(), grids, stats);
    st_.next_iter = 0;
    st_.history.clear();
    st_.finished = st_.converged = false;
  }

  /// Refuses a fit whose variances its exact sums could not resolve. The
  /// column grids are a-priori (gmm/gmm_stats.h: per column, from its
  /// range), so one value far from the rest of its column makes that
  /// column's step coarse: a component's terms there round to 0 and its
  /// variance with them, and the fit went wrong without a word (a value of
  /// 1e8 among 8,000 rows of spread 1: ARI 0.34; 1e7 beside four tight
  /// clusters: ARI 0). So the E-step counts, per component and column, the
  /// nonzero diagonal terms held by fewer than 2^19 steps (exact, like the
  /// sums): each rounded by at most half a step, so they moved the variance
  /// by at most coarse x step / 2 / N_c (the finer terms by at most 2^-20 of
  /// theirs). Past kRetryShare of the fitted variance
  /// (or reg_covar, or float32's resolution at the mean: the largest), the
  /// iteration is summed again on per-component grids (iterate); past
  /// kRefuseShare on those, the fit stops. A component constant in a
  /// column loses nothing (its terms are 0), so its exact 0 passes (a first
  /// guard on variance < step / 2 refused it, and any constant column with
  /// reg = 0). The same on every rank.
  static constexpr double kRetryShare = 1e-6, kRefuseShare = 0.25;
  void require_resolved(const GMMParamsFit& m, const GMMGrids& g, const std::vector<int64_t>& stats) const {
    const std::string why = unresolved(m, g, stats, kRefuseShare);
    require(why.empty(), why);
  }

  /// Why the fit m from stats on grids g is not resolved to `share` of its
  /// variances ("" when it is).
  std::string unresolved(const GMMParamsFit& m, const GMMGrids& g, const std::vector<int64_t>& stats,
                         double share) const {
    const GMMStatsLayout L(k_, d_, full_);
    for (int64_t c = 0; c < k_; ++c) {
      const double n_c = g.r.to_double(stats[size_t(c)]);
      for (int64_t j = 0; j < d_; ++j) {
        const int64_t coarse = stats[size_t(L.coarse() + c * d_ + j)];
        if (coarse == 0 || n_c <= 0) continue;
        const double step = std::ldexp(1.0, -g.q_of(c)[size_t(full_ ? j * (j + 1) / 2 + j : j)].shift());
        const double var = m.covariances[size_t(full_ ? c * d_ * d_ + j * d_ + j : c * d_ + j)] - reg_covar_;
        const double missing = double(coarse) * step / 2 / n_c;
        // Below float32's resolution at the component's mean (2 ulps,
        // squared) a variance means nothing: identical rows whose mean
        // rounds 1e-16 off leave terms of 1e-32 to lose.
        const double floor = std::pow(std::ldexp(std::fabs(m.means[size_t(c * d_ + j)]), -22), 2);
        if (missing <= share * std::max({var, reg_covar_, floor})) continue;
        return fmt("gmm: column ", j, " holds values from ", cols_.lo[size_t(j)], " to ", cols_.hi[size_t(j)],
                   ": its exact sums' grid step (", step, ", from ",
                   g.per_component ? "the component's own rows' range" : "that range", " over ", n_valid_,
                   " rows) held ", coarse, " of component ", c, "'s terms there in a few steps each: up to ",
                   missing, " of a variance fitted as ", var,
                   " (a value far from the rest of the column?); mark the far rows invalid in /valid, or clip that "
                   "column");
      }
    }
    return "";
  }

  /// Said once per process (rank 0): the iterations that need them cost two
  /// E-step passes (three with the one that found the column grids short).
  void say_per_component() {
    if (said_per_component_ || comm_.rank() != 0) return;
    said_per_component_ = true;
    log::info("gmm: a column's range is too wide for the spread of a component in it (a value far from the rest, "
              "or tight clusters far apart) to sum it exactly on the column's grid: such iterations sum on "
              "per-component grids (two more E-step passes each)");
  }

  /// One EM iteration: E-step on every rank's rows, one exact allreduce of
  /// the statistics and the log-likelihood, M-step, the stopping rule.
  void iterate() {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> stats;
    GMMGrids grids;
    const GMMParamsFit m = current();
    // Rank 0's share of the pass as part of the iteration (ranks hold equal shares).
    const auto on_progress = [&](double f) {
      if (progress_) progress_->update_partial(double(done_iters_) + f);
    };
    double ll = pass(m, nullptr, &stats, &grids, on_progress);
    int64_t empty = 0;
    GMMParamsFit fit = gmm_m_step(stats, m, grids, reg_covar_, &empty);
    // A column's grid too coarse for a component (a value far from the rest
    // of the column): the iteration again on per-component grids. Decided
    // per iteration from its state alone, so a resumed run takes the same path.
    if (!unresolved(fit, grids, stats, kRetryShare).empty()) {
      ll = pass(m, nullptr, &stats, &grids, {}, /*per_component=*/true);  // progress already at the iteration's end
      empty = 0;
      fit = gmm_m_step(stats, m, grids, reg_covar_, &empty);
      say_per_component();
    }
    st_.empty_components += empty;
    set_current(std::move(fit));
    require_resolved(current(), grids, stats);
    iter_seconds_.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    st_.history.push_back(ll);
    const size_t h = st_.history.size();
    const double change = h >= 2 ? ll - st_.history[h - 2] : INFINITY;
    log::detail("gmm: restart ", st_.restart, " iter ", st_.next_iter, " mean log-likelihood ", ll,
                h >= 2 ? fmt(" (change ", change, ")") : std::string());
    st_.converged = p_.tol > 0 && h >= 2 && std::fabs(change) < p_.tol;
    st_.finished = st_.converged || st_.next_iter + 1 == p_.iters;
    // Paced (io/checkpoint_pace.h): a small GMM's iteration is shorter than
    // its save (two fsyncs), which every iteration doubled the time of. A
    // finished restart is saved by finish_restart, after its final pass.
    if (st_.finished || ckpt_.empty() || !p_.checkpoint || !pace_.due(comm_)) return;
    GMMState next = st_;
    next.next_iter = st_.next_iter + 1;
    save(next);
  }

  /// Final pass: the log-likelihood of the finished model decides between restarts.
  void finish_restart() {
    const double fin = pass(current(), nullptr);
    log::detail("gmm: restart ", st_.restart, " finished after ", st_.history.size(), " iterations",
                st_.converged ? " (converged)" : " (iteration limit)", ", mean log-likelihood ", fin);
    st_.restart_loglik.push_back(fin);
    if (st_.best_restart < 0 || fin > st_.best_loglik) {
      st_.best_restart = st_.restart;
      st_.best_loglik = fin;
      st_.best_converged = st_.converged;
      st_.best_weights = st_.weights;
      st_.best_means = st_.means;
      st_.best_covariances = st_.covariances;
      st_.best_history = st_.history;
    }
    st_.weights.clear(), st_.means.clear(), st_.covariances.clear(), st_.history.clear();
    st_.finished = st_.converged = false;
    st_.next_iter = 0;
    GMMState next = st_;
    next.restart = st_.restart + 1;
    save(next);
  }

  FeatureBlock& b_;
  const GMMParams& p_;
  Communicator& comm_;
  const std::string ckpt_, hash_;
  const int64_t k_, d_;
  const bool full_;
  int64_t n_valid_ = 0, done_iters_ = 0;
  Progress* progress_ = nullptr;  // run()'s, for the lines from inside an iteration
  bool said_per_component_ = false;
  ColumnRange cols_;
  std::vector<double> var_;
  std::vector<float> centre_;  // of the k-means start's rows (extract/row_centre.h); empty: none
  double reg_covar_ = 0;
  bool resumed_ = false;
  std::vector<double> iter_seconds_;
  GMMState st_;
  CheckpointPace pace_;
};

}  // namespace

GMMResult gmm(FeatureBlock& b, const GMMParams& p, Communicator& comm, const std::string& ckpt,
              const std::string& hash) {
  p.validate();
  EM em(b, p, comm, ckpt, hash);
  em.resume();
  em.run();
  return em.result();
}

}  // namespace distclust
