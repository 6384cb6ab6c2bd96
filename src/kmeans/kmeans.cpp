// Distributed Lloyd iterations, restarts and checkpoints.
#include "kmeans/kmeans.h"
#include "extract/row_centre.h"
#include "kmeans/kmeans_sweep.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>

#include "core/fault.h"
#include "distclust/error.h"
#include "distclust/runtime.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "kernels/compute_target.h"
#include "kernels/exact_sum.h"
#include "kernels/lloyd_grids.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"
#include "io/checkpoint_pace.h"
#include "io/state_file.h"
#include "kmeans/kmeans_state.h"

namespace distclust {

void KMeansParams::validate() const {
  require(k >= 1, "kmeans.k: ", k, " must be >= 1");
  if (!sweep.empty()) parse_sweep("kmeans.sweep", sweep);  // throws naming a bad value
  require(sweep_sample >= 2, "kmeans.sweep_sample: ", sweep_sample, " must be >= 2");
  require(iters >= 1, "kmeans.iters: ", iters, " must be >= 1");
  require(init == "kmeans++" || init == "random" || init == "kmeans-parallel", "kmeans.init: '", init,
          "' is not one of kmeans++|random|kmeans-parallel");
  require(restarts >= 1, "kmeans.restarts: ", restarts, " must be >= 1");
  require(tol >= 0, "kmeans.tol: ", tol, " must be >= 0");
  require(init_sample >= 1, "kmeans.init_sample: ", init_sample, " must be >= 1");
  // k-means|| needs a handful of rounds (Bahmani et al. use 5); each round is
  // a pass over the data, so a huge count is a mistake that would run for hours.
  require(parallel_rounds >= 1 && parallel_rounds <= 100, "kmeans.parallel_rounds: ", parallel_rounds,
          " must be in [1, 100]");
  require(parallel_factor > 0 && parallel_factor <= 100, "kmeans.parallel_factor: ", parallel_factor,
          " must be in (0, 100] (candidates per round = factor x k)");
  require(tile_rows >= 1 && tile_k >= 16 && tile_rows <= (1 << 20) && tile_k <= (1 << 20), "kmeans.tile_rows/tile_k: ",
          tile_rows, "/", tile_k, " must be in [1, 1048576]/[16, 1048576]");
  // Their memory depends on D and k: checked where those are known (kmeans()).
}

namespace {

/// Adds each valid row to its centroid's sum and count, and its distance to
/// the inertia, all in exact grid units (kernels/lloyd_grids.h: a grid per
/// centroid and column): out [k*d sums | k counts | inertia coarse | inertia fine]
/// (SplitGrid's two limbs).
/// Per-thread partials merged by integer adds: the same for any split.
void accumulate(const FeatureBlock& b, const std::vector<int64_t>& lab, const std::vector<float>& dist, int64_t k,
                const LloydGrids& g, std::vector<int64_t>& out) {
  const int64_t d = b.d, n = b.local_rows(), width = k * (d + 1) + 2;
  std::fill(out.begin(), out.end(), 0);
#pragma omp parallel
  {
    std::vector<int64_t> acc(static_cast<size_t>(width), 0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      if (lab[i] < 0) continue;
      g.add(acc.data() + lab[i] * d, lab[i], b.x.data() + i * d);
      acc[k * d + lab[i]] += 1;
      g.dist.add(acc[k * (d + 1)], acc[k * (d + 1) + 1], dist[i]);
    }
#pragma omp critical
    for (int64_t j = 0; j < width; ++j) out[j] += acc[j];
  }
}

/// Sum of dist over valid rows (collective): exact grid units on a grid
/// sized by the largest of them, then their value.
double exact_total(const std::vector<float>& dist, const std::vector<int64_t>& lab, int64_t n_valid,
                   Communicator& comm) {
  double top = 0;
  for (size_t i = 0; i < dist.size(); ++i)
    if (lab[i] >= 0) top = std::max(top, double(dist[i]));
  top = comm.max(top);
  const double n = double(std::max<int64_t>(n_valid, 1));
  const SplitGrid g(top, n * top, n);
  int64_t s[2] = {0, 0};
  for (size_t i = 0; i < dist.size(); ++i)
    if (lab[i] >= 0) g.add(s[0], s[1], dist[i]);
  comm.allreduce_sum(s, 2);
  return g.to_double(s[0], s[1]);
}

/// FAISS-style re-seeding of empty clusters: copy a cluster chosen with
/// probability ~ (size - 1), perturb both copies symmetrically, split counts.
int64_t split_empty(std::vector<float>& cent, std::vector<double>& counts, int64_t d, int64_t n,
                    uint64_t seed, int iter) {
  const int64_t k = static_cast<int64_t>(counts.size());
  constexpr float kEps = 1.0f / 1024.0f;
  int64_t splits = 0;
  for (int64_t ci = 0; ci < k; ++ci) {
    if (counts[ci] > 0) continue;
    KeyedRng rng(key_hash(seed, 0xE3717), uint64_t(iter) * uint64_t(k) + ci);
    int64_t cj = 0;
    for (int64_t guard = 0;; cj = (cj + 1) % k, ++guard) {
      double p = (counts[cj] - 1.0) / double(std::max<int64_t>(1, n - k));
      if (rng.uniform() < p || guard > 100 * k) break;
    }
    if (counts[cj] < 2) continue;  // nothing to split (degenerate data)
    std::copy_n(cent.begin() + cj * d, d, cent.begin() + ci * d);
    for (int64_t j = 0; j < d; ++j) {
      float s = (j % 2 == 0) ? kEps : -kEps;
      cent[ci * d + j] *= 1 + s;
      cent[cj * d + j] *= 1 - s;
    }
    counts[ci] = std::floor(counts[cj] / 2);
    counts[cj] -= counts[ci];
    ++splits;
  }
  return splits;
}

void normalize(std::vector<float>& c, int64_t d) { normalize_rows(c.data(), int64_t(c.size()) / d, d); }


/// One k-means run: its data, exact-sum grids, checkpointable state and
/// work buffers; kmeans() below drives it restart by restart.
class Lloyd {
 public:
  Lloyd(FeatureBlock& b, const KMeansParams& p, Communicator& comm, SearchKernel& kernel, const std::string& ckpt,
        const std::string& hash)
      : b_(b), p_(p), comm_(comm), kernel_(kernel), ckpt_(ckpt), hash_(hash), k_(p.k), d_(b.d) {
    if (!compute_target().torch)  // (LibTorch kernels size their blocks by memory)
      require_memory(cpu_search_bytes({p.tile_rows, p.tile_k}, d_, k_),
                     fmt("kmeans.tile_rows x tile_k = ", p.tile_rows, " x ", p.tile_k, " at D=", d_, ", k=", k_,
                         " (a score tile and a padded row tile per thread)"));
    n_valid_ = count_valid(b, comm);
    require(n_valid_ >= 1, "kmeans: no valid rows (all ", b.n_total, " rows are marked invalid)");
    require(k_ <= n_valid_, "kmeans: k=", k_, " exceeds the number of valid rows (", n_valid_, " of ", b.n_total, ")");
    if (p.spherical) normalize_rows(b);
    norms_.resize(b.local_rows());
    row_norms(b.x.data(), b.local_rows(), d_, norms_.data());
    // The grids' fixed parts (kernels/lloyd_grids.h): each row's and each
    // column's largest |value|, the columns' over all ranks.
    row_max_.resize(b.local_rows());
    row_abs_max(b.x.data(), b.local_rows(), d_, row_max_.data());
    col_max_.assign(size_t(d_), 0.0f);
    for (int64_t i = 0; i < b.local_rows(); ++i)
      if (b.valid[i])
        for (int64_t j = 0; j < d_; ++j) col_max_[size_t(j)] = std::max(col_max_[size_t(j)], std::fabs(b.x[i * d_ + j]));
    comm.allreduce_max(col_max_.data(), col_max_.size());
    maxima_.resize(size_t(k_ + 1));
    lab_.resize(b.local_rows());
    dist_.resize(b.local_rows());
    buf_.resize(static_cast<size_t>(k_ * (d_ + 1) + 2));
    st_.params_hash = hash;
    // The rows and norms stay as they are from here on: a kernel on a GPU
    // keeps them there for every iteration instead of uploading them each time.
    held_.emplace_back(std::make_unique<HeldRows>(kernel_, b.x.data(), b.local_rows(), d_));
    held_.emplace_back(std::make_unique<HeldRows>(kernel_, norms_.data(), b.local_rows(), 1));
  }

  /// Continues from the checkpoint when one was made with these settings.
  void resume() {
    auto usable = [&](const KMeansState& s) -> std::string {
      if (s.params_hash != hash_) return fmt("made with other parameters (hash ", s.params_hash, " != ", hash_, ")");
      for (const auto* c : {&s.centroids, &s.best_centroids})
        if (!c->empty() && int64_t(c->size()) != k_ * d_) return fmt("its centroids do not match k=", k_, " d=", d_);
      return "";
    };
    if (ckpt_.empty() || !load_state<KMeansState>(ckpt_, st_, comm_, usable)) return;
    res_.resumed = true;
    log::info("kmeans: resuming from ", ckpt_, " at restart ", st_.restart, ", iteration ", st_.next_iter);
  }

  void run() {
    // Upper bound: restarts x iters (tol may stop a restart early).
    Progress progress("kmeans (ETA if all iterations run)", "iterations",
                      int64_t(p_.restarts - st_.restart) * p_.iters - st_.next_iter, comm_.rank() == 0);
    for (; st_.restart < p_.restarts; ++st_.restart) {
      const uint64_t seed = key_hash(static_cast<uint64_t>(p_.seed), static_cast<uint64_t>(st_.restart), 0xC0FFEE);
      if (st_.centroids.empty()) start_restart(seed);
      if (done_iters_ == 0) progress.restart_clock();  // the rate counts Lloyd iterations, not the first init
      for (; !st_.finished && st_.next_iter < p_.iters; ++st_.next_iter) {
        iterate(seed);
        progress.update(++done_iters_);
        fault_point("DISTCLUST_FAULT_AFTER_ITER", done_iters_, &comm_);
      }
      finish_restart();
    }
  }

  KMeansResult result() {
    res_.k = k_;
    res_.d = d_;
    res_.spherical = p_.spherical;
    res_.centroids = st_.best_centroids;
    if (!b_.centre.empty()) {
      // kmeans.h5 holds the centroids in the file's coordinates and assign
      // subtracts /centre from them again: the final assignment uses them
      // as read back, so that assign on these rows gives /assign bit for bit.
      res_.file_centroids = res_.centroids;
      add_centre(res_.file_centroids.data(), k_, d_, b_.centre);
      res_.centroids = res_.file_centroids;
      subtract_centre(res_.centroids.data(), k_, d_, b_.centre);
    }
    res_.inertia = st_.best_history;
    res_.best_restart = st_.best_restart;
    res_.final_inertia = st_.best_inertia;
    res_.empty_splits = st_.empty_splits;
    res_.iterations = static_cast<int>(st_.best_history.size());
    res_.assign.resize(b_.local_rows());
    res_.distance.resize(b_.local_rows());
    assign(res_.centroids, res_.assign, res_.distance);
    // /distance from each row and its own centroid, in double: the search's
    // |x|^2 - 2x.c + |c|^2 in float is off by ~100 for rows near 1e4 in
    // every column (sum 1.48e5 where the distances sum to 2.61e4).
    own_centroid_distances(b_, res_.centroids, res_.assign, p_.spherical, res_.distance);
    // The file's float32 centroids rounded them (rows very far from the
    // origin): the inertia of what is written, as the restarts' was taken.
    if (res_.centroids != st_.best_centroids) res_.final_inertia = exact_total(res_.distance, res_.assign, n_valid_, comm_);
    return std::move(res_);
  }

 private:
  void assign(const std::vector<float>& c, std::vector<int64_t>& lab, std::vector<float>& dist) {
    assign_nearest(kernel_, b_, norms_.data(), c.data(), k_, p_.spherical, lab.data(), dist.data());
  }

  void save(KMeansState& s) {
    if (ckpt_.empty() || !p_.checkpoint) return;
    pace_.save([&] { save_state(ckpt_, s, comm_); });
    log::debug("kmeans: checkpoint at restart ", s.restart, ", iteration ", s.next_iter, " (", pace_.last_seconds(),
               " s)");
  }

  void start_restart(uint64_t seed) {
    st_.centroids = kmeans_init(b_, norms_, p_, seed, comm_, kernel_);
    if (p_.spherical) normalize(st_.centroids, d_);
    st_.next_iter = 0;
    st_.history.clear();
    st_.finished = false;
  }

  /// One Lloyd iteration: assign, one exact allreduce of sums, counts and
  /// inertia, new centroids (empty clusters split), the stopping rule.
  void iterate(uint64_t seed) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!device_ || !device_step()) {
      assign(st_.centroids, lab_, dist_);
      lloyd_maxima(row_max_.data(), lab_.data(), dist_.data(), b_.local_rows(), k_, maxima_.data());
      comm_.allreduce_max(maxima_.data(), maxima_.size());  // the grids: the same on every rank
      grids_ = LloydGrids(col_max_.data(), maxima_.data(), k_, d_, n_valid_);
      accumulate(b_, lab_, dist_, k_, grids_, buf_);
      comm_.allreduce_sum(buf_.data(), buf_.size());  // sums, counts, inertia: one message, exact
    }
    const double inertia = grids_.dist.to_double(buf_[k_ * (d_ + 1)], buf_[k_ * (d_ + 1) + 1]);
    res_.iter_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    st_.history.push_back(inertia);
    if (inertia == 0) return finish_iteration(0, 1.0);  // every row on its centroid: these are the answer
    std::vector<double> counts(buf_.begin() + k_ * d_, buf_.begin() + k_ * (d_ + 1));
    for (int64_t c = 0; c < k_; ++c)
      if (counts[c] > 0)
        for (int64_t j = 0; j < d_; ++j)
          st_.centroids[c * d_ + j] = float(grids_.to_double(buf_[c * d_ + j], c, j) / counts[c]);
    const int64_t splits = split_empty(st_.centroids, counts, d_, n_valid_, seed, st_.next_iter);
    st_.empty_splits += splits;
    if (p_.spherical) normalize(st_.centroids, d_);
    const size_t h = st_.history.size();
    finish_iteration(splits, h >= 2 ? (st_.history[h - 2] - inertia) / std::max(st_.history[h - 2], 1e-300) : 1.0);
  }

  /// Logs the iteration, applies the stopping rule (rel: relative inertia
  /// drop) and checkpoints. A perfect fit (inertia 0) stops before its
  /// update: moving the centroids then (an empty cluster's split perturbs
  /// them) would return centroids whose inertia is not the last one logged.
  void finish_iteration(int64_t splits, double rel) {
    const double inertia = st_.history.back();
    const size_t h = st_.history.size();
    log::detail("kmeans: restart ", st_.restart, " iter ", st_.next_iter, " inertia ", inertia, ", ",
                res_.iter_seconds.back(), " s", splits ? fmt(" (", splits, " empty clusters split)") : std::string());
    // A device kernel's phases early on: a run cut short by a time limit
    // still says where its time goes (-v; the whole run's at the end).
    if (st_.restart == 0 && st_.next_iter < 2)
      if (const std::string t = kernel_.time_report(); !t.empty())
        log::detail("kmeans: kernel time after iteration ", st_.next_iter, ": ", t);
    st_.finished = (p_.tol > 0 && h >= 2 && rel >= 0 && rel < p_.tol && splits == 0) || inertia == 0;
    if (st_.finished || st_.next_iter + 1 == p_.iters) st_.finished = true;
    // A finished restart is saved by finish_restart, after its final pass
    // (saved here too, it was written twice in a row).
    if (st_.finished || !checkpoint_due()) return;
    KMeansState next = st_;  // a copy of the centroids: only when saved
    next.next_iter = st_.next_iter + 1;
    save(next);
  }

  /// Whether this iteration's state is saved (io/checkpoint_pace.h). Collective.
  bool checkpoint_due() { return !ckpt_.empty() && p_.checkpoint && pace_.due(comm_); }

  /// The same buffer computed where the kernel's data lives (a GPU), when
  /// the kernel offers it (SearchKernel::lloyd_step): false where it has
  /// none, or declines (rows its float scores cannot tell), and from then on.
  bool device_step() {
    LloydStep s;
    s.x = b_.x.data(), s.n = b_.local_rows(), s.d = d_, s.first_row = b_.rows.begin;
    s.valid = b_.valid.data(), s.norms = norms_.data(), s.c = st_.centroids.data(), s.k = k_;
    s.spherical = p_.spherical, s.n_valid = n_valid_, s.col_max = col_max_.data(), s.maxima = maxima_.data();
    int64_t unsure = 0;
    s.unsure_rows = &unsure;
    if (kernel_.lloyd_step(s, comm_, buf_.data())) {
      grids_ = LloydGrids(col_max_.data(), maxima_.data(), k_, d_, n_valid_);
      return true;
    }
    // No device step, or one whose float scores could not tell some rows'
    // centroids: the host step from here on (its assign_nearest decides
    // those again), said once.
    if (unsure > 0)
      log::info("kmeans: ", unsure, " rows' float scores on ", kernel_.name(),
                " may not tell their nearest centroid (rows far from the origin for their distances): "
                "iterations on the host step, which decides them again");
    return device_ = false;
  }

  /// Final pass: the inertia of the finished centroids decides between restarts.
  void finish_restart() {
    assign(st_.centroids, lab_, dist_);
    own_centroid_distances(b_, st_.centroids, lab_, p_.spherical, dist_);
    const double fin = exact_total(dist_, lab_, n_valid_, comm_);
    log::detail("kmeans: restart ", st_.restart, " finished after ", st_.history.size(), " iterations, inertia ", fin);
    if (st_.best_restart < 0 || fin < st_.best_inertia) {
      st_.best_restart = st_.restart;
      st_.best_inertia = fin;
      st_.best_centroids = st_.centroids;
      st_.best_history = st_.history;
    }
    st_.centroids.clear();
    st_.history.clear();
    st_.finished = false;
    st_.next_iter = 0;
    KMeansState next = st_;
    next.restart = st_.restart + 1;
    save(next);
  }

  FeatureBlock& b_;
  const KMeansParams& p_;
  Communicator& comm_;
  SearchKernel& kernel_;
  const std::string ckpt_, hash_;
  const int64_t k_, d_;
  int64_t n_valid_ = 0, done_iters_ = 0;
  bool device_ = true;          ///< the device step is used (until the kernel has none or declines)
  std::vector<float> norms_, dist_;
  std::vector<float> row_max_, col_max_;  ///< [n], [d]: the grids' fixed bounds (kernels/lloyd_grids.h)
  std::vector<float> maxima_;   ///< the last step's grid maxima [k + 1]
  std::vector<int64_t> lab_, buf_;
  LloydGrids grids_;            ///< the last step's grids: buf_'s units
  std::vector<std::unique_ptr<HeldRows>> held_;
  KMeansState st_;
  KMeansResult res_;
  CheckpointPace pace_;
};

}  // namespace

KMeansResult kmeans(FeatureBlock& b, const KMeansParams& p, Communicator& comm, SearchKernel& kernel,
                    const std::string& ckpt, const std::string& hash) {
  p.validate();
  Lloyd lloyd(b, p, comm, kernel, ckpt, hash);
  lloyd.resume();
  lloyd.run();
  // Where a device kernel's time went (empty for the CPU kernel): rank 0's.
  if (const std::string t = kernel.time_report(); !t.empty()) log::info("kmeans: kernel time (", kernel.name(), "): ", t);
  return lloyd.result();
}

}  // namespace distclust
