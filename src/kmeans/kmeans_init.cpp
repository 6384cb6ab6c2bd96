// k-means initialisation: k-means++ (greedy, as scikit-learn) or random on a
// keyed global sample, or k-means|| (Bahmani et al.) over all rows. The
// sample is chosen by hashing (seed, global row), gathered in row order, and
// the seeding itself runs on rank 0 and is broadcast, so every rank starts
// from bit-identical centroids for any number of ranks.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "distclust/error.h"
#include "io/h5store.h"
#include "kmeans/kmeans.h"
#include "distclust/log.h"
#include "distclust/rng.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"

namespace distclust {
namespace {

constexpr uint64_t kSampleKey = 0x5a3b1e;
constexpr int64_t kChunk = 4096;  // fixed reduction chunks: sums independent of thread count

struct Points {
  std::vector<float> x;        // [m x d]
  std::vector<int64_t> rows;   // global row of each point
  std::vector<double> weight;  // [m] (k-means|| candidates); empty = 1
  int64_t m() const { return static_cast<int64_t>(rows.size()); }
};

/// Valid local rows whose keyed hash is below frac, gathered from all ranks in
/// global row order.
Points gather_sample(const FeatureBlock& b, double frac, uint64_t seed, Communicator& comm) {
  std::vector<int64_t> rows;
  std::vector<float> x;
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    int64_t g = b.rows.begin + i;
    if (!b.valid[i] || unit_double(key_hash(seed, g, kSampleKey)) >= frac) continue;
    rows.push_back(g);
    x.insert(x.end(), b.x.begin() + i * b.d, b.x.begin() + (i + 1) * b.d);
  }
  Points p;
  p.rows = comm.allgather(rows);
  p.x = comm.allgather(x);
  return p;
}

/// Squared distances [m x t] of points to t centres (rows of c), through the
/// search kernel with k = t (all of them): (|p|^2 + |c|^2) - 2<p, c>
/// (spherical: 2 - 2<p, c>), clamped at 0.
void distances(SearchKernel& kernel, const Points& p, int64_t d, const float* c, int64_t t,
               const std::vector<float>& pn, bool ip, std::vector<float>& out) {
  const int64_t m = p.m();
  out.resize(static_cast<size_t>(m * t));
  std::vector<float> cn(t);
  row_norms(c, t, d, cn.data());
  TopK top(m, static_cast<int>(t));
  kernel.search({p.x.data(), m, d, 0, nullptr}, {c, t, 0, nullptr, nullptr, nullptr, false}, Metric::inner_product, top);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t s = 0; s < t; ++s) {
      const int64_t j = top.indices(i)[s];
      const float v = (ip ? 2.0f : pn[i] + cn[j]) + -2.0f * top.scores(i)[s];
      out[i * t + j] = std::max(v, 0.0f);
    }
}

/// sum_i w_i * min(closest_i, cand_i) in fixed chunks (deterministic).
double potential(const std::vector<float>& closest, const float* cand, int64_t stride,
                 const std::vector<double>& w) {
  const int64_t m = static_cast<int64_t>(closest.size());
  std::vector<double> part((m + kChunk - 1) / kChunk, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < int64_t(part.size()); ++c) {
    double s = 0;
    for (int64_t i = c * kChunk; i < std::min(m, (c + 1) * kChunk); ++i) {
      double v = cand ? std::min(closest[i], cand[i * stride]) : closest[i];
      s += (w.empty() ? 1.0 : w[i]) * v;
    }
    part[c] = s;
  }
  return std::accumulate(part.begin(), part.end(), 0.0);
}

/// Index drawn with probability proportional to w_i * closest_i.
int64_t draw(const std::vector<float>& closest, const std::vector<double>& w, double total, double u) {
  double target = u * total, acc = 0;
  const int64_t m = static_cast<int64_t>(closest.size());
  for (int64_t i = 0; i < m; ++i) {
    acc += (w.empty() ? 1.0 : w[i]) * closest[i];
    if (acc > target) return i;
  }
  for (int64_t i = m - 1; i >= 0; --i)
    if (closest[i] > 0) return i;
  return m - 1;
}

/// Greedy k-means++ (2 + ln k candidates per step, the best kept) on points.
std::vector<float> kmeanspp(SearchKernel& kernel, const Points& p, int64_t d, int64_t k, uint64_t seed, bool ip) {
  const int64_t m = p.m();
  std::vector<float> pn(m), cent(static_cast<size_t>(k * d)), dist;
  row_norms(p.x.data(), m, d, pn.data());
  KeyedRng rng(seed, 0x1417);
  const int trials = 2 + static_cast<int>(std::log(double(k)));
  std::vector<float> closest(m, std::numeric_limits<float>::max());
  std::vector<float> ones(m, 1.0f);
  int64_t first = draw(ones, p.weight, potential(ones, nullptr, 0, p.weight), rng.uniform());
  std::copy_n(p.x.begin() + first * d, d, cent.begin());
  distances(kernel, p, d, cent.data(), 1, pn, ip, dist);
  closest = dist;
  std::vector<float> cand(static_cast<size_t>(trials * d));
  for (int64_t c = 1; c < k; ++c) {
    double pot = potential(closest, nullptr, 0, p.weight);
    std::vector<int64_t> idx(trials);
    for (int t = 0; t < trials; ++t) {
      idx[t] = pot > 0 ? draw(closest, p.weight, pot, rng.uniform()) : static_cast<int64_t>(rng.below(m));
      std::copy_n(p.x.begin() + idx[t] * d, d, cand.begin() + t * d);
    }
    distances(kernel, p, d, cand.data(), trials, pn, ip, dist);
    int best = 0;
    double best_pot = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      double v = potential(closest, dist.data() + t, trials, p.weight);
      if (v < best_pot) best_pot = v, best = t;
    }
    std::copy_n(cand.begin() + best * d, d, cent.begin() + c * d);
    for (int64_t i = 0; i < m; ++i) closest[i] = std::min(closest[i], dist[i * trials + best]);
  }
  return cent;
}

/// k rows of the sample with the smallest keyed hashes.
std::vector<float> random_init(const Points& p, int64_t d, int64_t k, uint64_t seed) {
  std::vector<int64_t> order(p.m());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](int64_t i) { return key_hash(seed, p.rows[i], 0x7a11); };
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) < key(b); });
  std::vector<float> cent(static_cast<size_t>(k * d));
  for (int64_t c = 0; c < k; ++c) std::copy_n(p.x.begin() + order[c] * d, d, cent.begin() + c * d);
  return cent;
}

/// k-means||: rounds of oversampling rows with probability l * d^2 / phi
/// (keyed by (seed, round, row)), candidates weighted by the rows nearest to
/// them, reduced to k by weighted greedy k-means++ on rank 0.
Points kmeans_parallel_candidates(const FeatureBlock& b, const std::vector<float>& norms,
                                  const KMeansParams& prm, uint64_t seed, Communicator& comm,
                                  SearchKernel& kernel, const Points& sample) {
  const int64_t d = b.d, n = b.local_rows();
  const bool ip = prm.spherical;
  Points cand;
  int64_t first = static_cast<int64_t>(KeyedRng(seed, 0x9a11).below(sample.m()));
  cand.rows.push_back(sample.rows[first]);
  cand.x.assign(sample.x.begin() + first * d, sample.x.begin() + (first + 1) * d);
  std::vector<float> closest(n), dist(n);
  std::vector<int64_t> lab(n);
  assign_nearest(kernel, b, norms.data(), cand.x.data(), 1, ip, lab.data(), closest.data());
  size_t done = 1;  // candidates whose distances are in `closest`
  const double l = prm.parallel_factor * prm.k;
  for (int round = 1; round <= prm.parallel_rounds; ++round) {
    double phi = 0;
    for (int64_t i = 0; i < n; ++i) phi += b.valid[i] ? closest[i] : 0.0;
    phi = comm.sum(phi);
    if (phi <= 0) break;
    std::vector<int64_t> rows;
    std::vector<float> x;
    for (int64_t i = 0; i < n; ++i) {
      int64_t g = b.rows.begin + i;
      if (!b.valid[i] || unit_double(key_hash(seed, g, 0x7777, round)) >= l * closest[i] / phi) continue;
      rows.push_back(g);
      x.insert(x.end(), b.x.begin() + i * d, b.x.begin() + (i + 1) * d);
    }
    auto new_rows = comm.allgather(rows);
    auto new_x = comm.allgather(x);
    cand.rows.insert(cand.rows.end(), new_rows.begin(), new_rows.end());
    cand.x.insert(cand.x.end(), new_x.begin(), new_x.end());
    int64_t added = static_cast<int64_t>(new_rows.size());
    if (added == 0) continue;
    assign_nearest(kernel, b, norms.data(), cand.x.data() + done * d, added, ip, lab.data(), dist.data());
    for (int64_t i = 0; i < n; ++i) closest[i] = std::min(closest[i], dist[i]);
    done += added;
  }
  // Weight of a candidate: valid rows nearest to it.
  const int64_t m = cand.m();
  assign_nearest(kernel, b, norms.data(), cand.x.data(), m, ip, lab.data(), dist.data());
  std::vector<double> w(m, 0.0);
  for (int64_t i = 0; i < n; ++i)
    if (lab[i] >= 0) w[lab[i]] += 1.0;
  comm.allreduce_sum(w.data(), w.size());
  cand.weight = w;
  return cand;
}

}  // namespace

std::vector<float> kmeans_init(const FeatureBlock& b, const std::vector<float>& norms, const KMeansParams& p,
                               uint64_t seed, Communicator& comm, SearchKernel& kernel) {
  const int64_t d = b.d, k = p.k;
  if (!p.init_centroids.empty()) {
    H5Reader r(p.init_centroids, comm);
    DatasetInfo ci = r.info("/centroids");
    require(ci.shape.size() == 2 && ci.shape[0] == k && ci.shape[1] == d, p.features.empty() ? "features" : p.features,
            ": /features is ", b.n_total, " x ", d, " and k=", k, " but ", p.init_centroids, ": /centroids is ",
            ci.describe(), " (expected ", k, " x ", d, ")");
    return r.read_all<float>("/centroids");
  }
  int64_t n_valid = 0;
  for (auto v : b.valid) n_valid += v ? 1 : 0;
  n_valid = comm.sum(n_valid);
  // Sample fraction: init_sample*k rows expected; at least enough for k.
  double frac = std::min(1.0, double(std::max<int64_t>(int64_t(p.init_sample) * k, 4 * k)) / double(n_valid));
  Points sample = gather_sample(b, frac, seed, comm);
  if (sample.m() < k) sample = gather_sample(b, 1.0, seed, comm);
  require(sample.m() >= k, "kmeans: k=", k, " exceeds the ", sample.m(), " valid rows");
  std::vector<float> cent(static_cast<size_t>(k * d));
  if (p.init == "kmeans-parallel") {
    Points cand = kmeans_parallel_candidates(b, norms, p, seed, comm, kernel, sample);
    if (cand.m() < k) cand = sample;  // too few candidates (tiny data): fall back to the sample
    log::debug("kmeans||: ", cand.m(), " candidates for k=", k);
    if (comm.rank() == 0) cent = kmeanspp(kernel, cand, d, k, seed, p.spherical);
  } else if (comm.rank() == 0) {
    cent = p.init == "random" ? random_init(sample, d, k, seed) : kmeanspp(kernel, sample, d, k, seed, p.spherical);
  }
  comm.broadcast(cent.data(), cent.size() * sizeof(float), 0);
  return cent;
}

}  // namespace distclust
