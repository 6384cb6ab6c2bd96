// Distributed Lloyd iterations, restarts and checkpoints.
#include "kmeans/kmeans.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/fault.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"
#include "kernels/exact_sum.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"
#include "io/state_file.h"
#include "kmeans/kmeans_state.h"

namespace distclust {

void KMeansParams::validate() const {
  require(k >= 1, "kmeans.k: ", k, " must be >= 1");
  require(iters >= 1, "kmeans.iters: ", iters, " must be >= 1");
  require(init == "kmeans++" || init == "random" || init == "kmeans-parallel", "kmeans.init: '", init,
          "' is not one of kmeans++|random|kmeans-parallel");
  require(restarts >= 1, "kmeans.restarts: ", restarts, " must be >= 1");
  require(tol >= 0, "kmeans.tol: ", tol, " must be >= 0");
  require(init_sample >= 1, "kmeans.init_sample: ", init_sample, " must be >= 1");
  require(parallel_rounds >= 1, "kmeans.parallel_rounds: ", parallel_rounds, " must be >= 1");
  require(parallel_factor > 0, "kmeans.parallel_factor: ", parallel_factor, " must be > 0");
  require(tile_rows >= 1 && tile_k >= 16, "kmeans.tile_rows/tile_k: ", tile_rows, "/", tile_k,
          " must be >= 1/16");
}

namespace {

/// The exact-sum grids of one k-means run (kernels/exact_sum.h): centroid
/// sums (terms: feature values) and inertia (terms: squared distances). The
/// bounds come from the data, so they are the same on every rank.
struct Grids {
  FixedGrid sums, dist;
};

Grids make_grids(const FeatureBlock& b, const std::vector<float>& norms, int64_t n_valid, bool spherical,
                 Communicator& comm) {
  double bounds[2] = {0, 0};  // max |x_ij|, max |x_i|^2 over valid rows
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    if (!b.valid[i]) continue;
    for (int64_t j = 0; j < b.d; ++j) bounds[0] = std::max(bounds[0], double(std::fabs(b.x[i * b.d + j])));
    bounds[1] = std::max(bounds[1], double(norms[i]));
  }
  comm.allreduce_max(bounds, 2);
  // A centroid is a mean of rows (|c| <= max |x|, x (1 + 2^-10) after an
  // empty-cluster split), so a squared distance is below 4.1 max |x|^2
  // (spherical: 2 - 2 cos <= 4).
  const double dmax = spherical ? 4.1 : 4.1 * bounds[1];
  const double n = double(std::max<int64_t>(n_valid, 1));
  return {FixedGrid(bounds[0], n * bounds[0]), FixedGrid(dmax, n * dmax)};
}

/// Adds each valid row to its centroid's sum and count, and its distance to
/// the inertia, all in exact grid units: out [k*d sums | k counts | inertia].
/// Per-thread partials merged by integer adds: the same for any split.
void accumulate(const FeatureBlock& b, const std::vector<int64_t>& lab, const std::vector<float>& dist, int64_t k,
                const Grids& g, std::vector<int64_t>& out) {
  const int64_t d = b.d, n = b.local_rows(), width = k * (d + 1) + 1;
  std::fill(out.begin(), out.end(), 0);
#pragma omp parallel
  {
    std::vector<int64_t> acc(static_cast<size_t>(width), 0);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      if (lab[i] < 0) continue;
      g.sums.add(acc.data() + lab[i] * d, b.x.data() + i * d, d);
      acc[k * d + lab[i]] += 1;
      acc[k * (d + 1)] += g.dist.to_fixed(dist[i]);
    }
#pragma omp critical
    for (int64_t j = 0; j < width; ++j) out[j] += acc[j];
  }
}

/// Sum of dist over valid rows in exact grid units.
int64_t exact_total(const std::vector<float>& dist, const std::vector<int64_t>& lab, const FixedGrid& g) {
  int64_t s = 0;
  for (size_t i = 0; i < dist.size(); ++i)
    if (lab[i] >= 0) s += g.to_fixed(dist[i]);
  return s;
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


}  // namespace

KMeansResult kmeans(FeatureBlock& b, const KMeansParams& p, Communicator& comm, SearchKernel& kernel,
                    const std::string& ckpt, const std::string& hash) {
  p.validate();
  const int64_t n = b.local_rows(), d = b.d, k = p.k;
  int64_t n_valid = 0;
  for (auto v : b.valid) n_valid += v ? 1 : 0;
  n_valid = comm.sum(n_valid);
  require(n_valid >= 1, "kmeans: no valid rows (all ", b.n_total, " rows are marked invalid)");
  require(k <= n_valid, "kmeans: k=", k, " exceeds the number of valid rows (", n_valid, " of ", b.n_total, ")");
  if (p.spherical) normalize_rows(b);
  std::vector<float> norms(n);
  row_norms(b.x.data(), n, d, norms.data());
  const Grids grids = make_grids(b, norms, n_valid, p.spherical, comm);
  auto assign = [&](const std::vector<float>& c, std::vector<int64_t>& lab, std::vector<float>& dist) {
    assign_nearest(kernel, b, norms.data(), c.data(), k, p.spherical, lab.data(), dist.data());
  };

  KMeansState st;
  st.params_hash = hash;
  KMeansResult res;
  auto usable = [&](const KMeansState& s) -> std::string {
    if (s.params_hash != hash) return fmt("made with other parameters (hash ", s.params_hash, " != ", hash, ")");
    for (const auto* c : {&s.centroids, &s.best_centroids})
      if (!c->empty() && int64_t(c->size()) != k * d) return fmt("its centroids do not match k=", k, " d=", d);
    return "";
  };
  if (!ckpt.empty() && load_state<KMeansState>(ckpt, st, comm, usable)) {
    res.resumed = true;
    log::info("kmeans: resuming from ", ckpt, " at restart ", st.restart, ", iteration ", st.next_iter);
  }
  std::vector<int64_t> lab(n);
  std::vector<float> dist(n);
  std::vector<int64_t> buf(static_cast<size_t>(k * (d + 1) + 1));
  int64_t done_iters = 0;
  // Upper bound: restarts x iters (tol may stop a restart early).
  Progress progress("kmeans (ETA if all iterations run)", "iterations", int64_t(p.restarts - st.restart) * p.iters - st.next_iter,
                    comm.rank() == 0);

  for (; st.restart < p.restarts; ++st.restart) {
    const uint64_t seed = key_hash(static_cast<uint64_t>(p.seed), static_cast<uint64_t>(st.restart), 0xC0FFEE);
    if (st.centroids.empty()) {
      st.centroids = kmeans_init(b, norms, p, seed, comm, kernel);
      if (p.spherical) normalize(st.centroids, d);
      st.next_iter = 0;
      st.history.clear();
      st.finished = false;
    }
    for (; !st.finished && st.next_iter < p.iters; ++st.next_iter) {
      auto t0 = std::chrono::steady_clock::now();
      assign(st.centroids, lab, dist);
      accumulate(b, lab, dist, k, grids, buf);
      comm.allreduce_sum(buf.data(), buf.size());  // sums, counts, inertia: one message, exact
      const double inertia = grids.dist.to_double(buf[k * (d + 1)]);
      res.iter_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      st.history.push_back(inertia);
      std::vector<double> counts(buf.begin() + k * d, buf.begin() + k * (d + 1));
      for (int64_t c = 0; c < k; ++c)
        if (counts[c] > 0)
          for (int64_t j = 0; j < d; ++j)
            st.centroids[c * d + j] = float(grids.sums.to_double(buf[c * d + j]) / counts[c]);
      int64_t splits = split_empty(st.centroids, counts, d, n_valid, seed, st.next_iter);
      st.empty_splits += splits;
      if (p.spherical) normalize(st.centroids, d);
      const size_t h = st.history.size();
      double rel = h >= 2 ? (st.history[h - 2] - inertia) / std::max(st.history[h - 2], 1e-300) : 1.0;
      log::info("kmeans: restart ", st.restart, " iter ", st.next_iter, " inertia ", inertia,
                splits ? fmt(" (", splits, " empty clusters split)") : std::string());
      st.finished = (p.tol > 0 && h >= 2 && rel >= 0 && rel < p.tol && splits == 0) || inertia == 0;
      if (st.finished || st.next_iter + 1 == p.iters) st.finished = true;
      if (!ckpt.empty() && p.checkpoint) {
        KMeansState save = st;
        save.next_iter = st.next_iter + 1;
        save_state(ckpt, save, comm);
      }
      progress.update(++done_iters);
      fault_point("DISTCLUST_FAULT_AFTER_ITER", done_iters, &comm);
    }
    // Final pass: inertia of the finished centroids decides between restarts.
    assign(st.centroids, lab, dist);
    const double fin = grids.dist.to_double(comm.sum(exact_total(dist, lab, grids.dist)));
    log::info("kmeans: restart ", st.restart, " finished after ", st.history.size(), " iterations, inertia ", fin);
    if (st.best_restart < 0 || fin < st.best_inertia) {
      st.best_restart = st.restart;
      st.best_inertia = fin;
      st.best_centroids = st.centroids;
      st.best_history = st.history;
    }
    st.centroids.clear();
    st.history.clear();
    st.finished = false;
    st.next_iter = 0;
    if (!ckpt.empty() && p.checkpoint) {
      KMeansState save = st;
      save.restart = st.restart + 1;
      save_state(ckpt, save, comm);
    }
  }
  res.k = k;
  res.d = d;
  res.spherical = p.spherical;
  res.centroids = st.best_centroids;
  res.inertia = st.best_history;
  res.best_restart = st.best_restart;
  res.final_inertia = st.best_inertia;
  res.empty_splits = st.empty_splits;
  res.iterations = static_cast<int>(st.best_history.size());
  res.assign.resize(n);
  res.distance.resize(n);
  assign(res.centroids, res.assign, res.distance);
  return res;
}

}  // namespace distclust
