#include "kmeans/kmeans_pp.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "distclust/error.h"
#include "distclust/rng.h"
#include "kernels/exact_sum.h"
#include "kernels/rows.h"

namespace distclust {
namespace {

constexpr double kFloatUnit = 5.9604644775390625e-08;  // 2^-24

/// Where a global draw position falls: the rank holding it and its local point.
struct Pick {
  int rank = 0;
  int64_t local = 0;
};

class Seeder {
 public:
  Seeder(const SeedPoints& pts, int64_t k, uint64_t seed, bool ip, Communicator& comm, bool prune)
      : p_(pts), k_(k), d_(pts.d), ip_(ip), prune_(prune), comm_(comm), rng_(seed, 0x1417),
        trials_(2 + static_cast<int>(std::log(double(k)))) {
    std::vector<float> pn(size_t(p_.m));  // |x|^2: the grid's and the slack's scale
    row_norms(p_.x, p_.m, d_, pn.data());
    // Global facts: points per rank, largest |x|^2 and weight, total weight.
    counts_ = comm.allgather(std::vector<int64_t>{p_.m});
    double mx[2] = {0, 0}, w_total = 0;
    for (int64_t i = 0; i < p_.m; ++i) {
      mx[0] = std::max(mx[0], double(pn[i]));
      mx[1] = std::max(mx[1], weight(i));
      w_total += weight(i);
    }
    comm.allreduce_max(mx, 2);
    w_total_ = std::max(comm.sum(w_total), 1.0);  // only sizes the grid: its rounding does not matter
    // A squared distance is below 4.1 max|x|^2 (unit rows: 4): the first
    // draw's value below. Each centre's grid is sized by the distances there
    // are then (size_grid).
    const double dmax = ip ? 4.1 : 4.1 * std::max(mx[0], 1e-30);
    slack_ = 64.0 * double(d_ + 8) * kFloatUnit * (ip ? 1.0 : mx[0]);
    // The first draw: every point by its weight alone, times one value
    // that scales with the grid: half of dmax's power of two. A fixed 1.0
    // exceeded the grid's term bound once 4.1 max|x|^2 < 1 (the sums
    // overflowed, differently for each rank count), and fell below its
    // step once the data was large (x 3e7 on unit rows: every term 0, the
    // uniform branch, other seeds). Any exact value gives the same picks
    // (the prefix sums scale with it), so these are a 1.0's seeds wherever
    // a 1.0 was exact, and they scale exactly with the rows.
    int e = 0;
    std::frexp(dmax, &e);
    closest_.assign(size_t(p_.m), float(std::ldexp(1.0, e - 1)));
    owner_.assign(size_t(p_.m), -1);
    cent_.assign(size_t(k * d_), 0.f);
    cn_.assign(size_t(k), 0.f);
  }

  std::vector<float> run() {
    // First centre: a point drawn by weight.
    size_grid();
    std::vector<float> first = candidates({draw(1)[0]});
    add_centre(0, first.data());
    std::vector<int64_t> all(size_t(p_.m));
    for (int64_t i = 0; i < p_.m; ++i) all[i] = i;
    std::vector<float> dist = distances(all, first.data(), 1);
    for (int64_t i = 0; i < p_.m; ++i) closest_[i] = dist[i], owner_[i] = 0;
    for (int64_t c = 1; c < k_; ++c) step(c);
    return cent_;
  }

 private:
  double weight(int64_t i) const { return p_.weight ? p_.weight[i] : 1.0; }

  /// The exact-sum grid of this centre's draws and potentials, from the
  /// largest weighted distance and distance now (collective; the same on
  /// every rank): terms are at most that, sums the total weight times the
  /// largest distance. Sized up front by 4.1 max|x|^2, one far row (1e17,
  /// picked first) left every other term 0 and the rest drawn uniformly.
  void size_grid() {
    double mx[2] = {0, 0};  // max weight x closest, max closest (serial: a parallel region per centre cost more)
    for (int64_t i = 0; i < p_.m; ++i) {
      mx[0] = std::max(mx[0], weight(i) * double(closest_[i]));
      mx[1] = std::max(mx[1], double(closest_[i]));
    }
    comm_.allreduce_max(mx, 2);
    grid_ = FixedGrid(mx[0], w_total_ * mx[1]);
  }
  int64_t term(int64_t i, float v) const { return grid_.to_fixed(weight(i) * double(v)); }

  /// `n` draws, each a point with probability proportional to weight x
  /// closest (uniform when every point sits on a centre), as positions in
  /// the exact prefix sums of all ranks' points in global order.
  std::vector<Pick> draw(int n) {
    // Terms in parallel (the costly part), then the integer scan: the same
    // sums for any thread count.
    prefix_.resize(size_t(p_.m));
#pragma omp parallel for schedule(static) if (p_.m > 4096)
    for (int64_t i = 0; i < p_.m; ++i) prefix_[i] = term(i, closest_[i]);
    int64_t acc = 0;
    for (int64_t i = 0; i < p_.m; ++i) prefix_[i] = acc += prefix_[i];
    const std::vector<int64_t> totals = comm_.allgather(std::vector<int64_t>{acc});
    int64_t total = 0;
    for (int64_t t : totals) total += t;
    int64_t points = 0;
    for (int64_t c : counts_) points += c;
    std::vector<Pick> out;
    for (int t = 0; t < n; ++t) {
      // One draw from the stream per pick, whatever the branch (as before).
      int64_t pos = 0;
      const bool uniform = total <= 0;
      if (uniform)
        pos = int64_t(rng_.below(uint64_t(points)));
      else
        pos = std::min(total - 1, int64_t(rng_.uniform() * double(total)));
      Pick pk;
      const std::vector<int64_t>& w = uniform ? counts_ : totals;
      while (pk.rank + 1 < int(w.size()) && pos >= w[pk.rank]) pos -= w[pk.rank++];
      if (pk.rank == comm_.rank())
        pk.local = uniform ? pos
                           : int64_t(std::upper_bound(prefix_.begin(), prefix_.end(), pos) - prefix_.begin());
      out.push_back(pk);
    }
    return out;
  }

  /// The picked points' vectors [picks x d] on every rank (collective).
  std::vector<float> candidates(const std::vector<Pick>& picks) {
    std::vector<int64_t> which;
    std::vector<float> rows;
    for (size_t t = 0; t < picks.size(); ++t)
      if (picks[t].rank == comm_.rank()) {
        which.push_back(int64_t(t));
        rows.insert(rows.end(), p_.x + picks[t].local * d_, p_.x + (picks[t].local + 1) * d_);
      }
    const std::vector<int64_t> all_which = comm_.allgather(which);
    const std::vector<float> all_rows = comm_.allgather(rows);
    std::vector<float> out(picks.size() * size_t(d_));
    for (size_t j = 0; j < all_which.size(); ++j)
      std::copy_n(all_rows.begin() + j * d_, d_, out.begin() + all_which[j] * d_);
    return out;
  }

  /// Squared distances [rows x t] of the listed points to t vectors c.
  /// L2: summed from the differences (kernels/rows.h diff_rows). The float
  /// form |x|^2 - 2x.c + |c|^2 is off by up to ~2(d + 4) u (|x|^2 + |c|^2):
  /// for rows near 1e4 in every column that is ~100, where the rows of a
  /// tight group lie ~0.1 apart, so their potentials were rounding noise
  /// and drew the group more seeds. Spherical: 2 - 2 cos of unit rows,
  /// whose error is ~d u whatever the rows.
  std::vector<float> distances(const std::vector<int64_t>& rows, const float* c, int64_t t) {
    std::vector<float> out(rows.size() * static_cast<size_t>(t));
    if (!ip_) {
      diff_rows(p_.x, d_, rows.data(), int64_t(rows.size()), c, t, out.data());
      return out;
    }
    dot_rows(p_.x, d_, rows.data(), int64_t(rows.size()), c, t, out.data());
#pragma omp parallel for schedule(static) if (rows.size() > 4096)
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t j = 0; j < t; ++j) out[r * t + j] = std::max(2.0f + -2.0f * out[r * t + j], 0.0f);
    return out;
  }

  void add_centre(int64_t c, const float* x) {
    std::copy_n(x, d_, cent_.begin() + c * d_);
    row_norms(x, 1, d_, &cn_[c]);
  }

  /// Points that a candidate may come closer to than their centre: those
  /// the triangle inequality does not rule out for some candidate.
  std::vector<int64_t> in_reach(const std::vector<float>& cand, int64_t c) {
    std::vector<int64_t> rows;
    if (!prune_) {
      for (int64_t i = 0; i < p_.m; ++i) rows.push_back(i);
      return rows;
    }
    std::vector<int64_t> centres(static_cast<size_t>(c));
    for (int64_t a = 0; a < c; ++a) centres[a] = a;
    std::vector<float> dc = distances_between(centres, cand);  // [c x trials]
    // A point is in reach when some candidate is near its centre: the
    // nearest candidate to each centre decides it (one lookup per point).
    std::vector<float> near(static_cast<size_t>(c));
    for (int64_t a = 0; a < c; ++a)
      near[a] = *std::min_element(dc.begin() + a * trials_, dc.begin() + (a + 1) * trials_);
    const double f = (2.01) * (2.01);
    // Marked in parallel, gathered in order: the same list for any thread count.
    keep_.resize(size_t(p_.m));
#pragma omp parallel for schedule(static) if (p_.m > 4096)
    for (int64_t i = 0; i < p_.m; ++i)
      keep_[i] = double(near[owner_[i]]) < f * double(closest_[i]) + slack_;
    for (int64_t i = 0; i < p_.m; ++i)
      if (keep_[i]) rows.push_back(i);
    return rows;
  }

  /// Squared distances [centres x trials] between centres and candidates.
  std::vector<float> distances_between(const std::vector<int64_t>& centres, const std::vector<float>& cand) {
    std::vector<float> cc(static_cast<size_t>(trials_)), dot(centres.size() * static_cast<size_t>(trials_));
    row_norms(cand.data(), trials_, d_, cc.data());
    dot_rows(cent_.data(), d_, centres.data(), int64_t(centres.size()), cand.data(), trials_, dot.data());
    for (size_t a = 0; a < centres.size(); ++a)
      for (int t = 0; t < trials_; ++t)
        dot[a * trials_ + t] = std::max(0.0f, (cn_[centres[a]] + cc[t]) + -2.0f * dot[a * trials_ + t]);
    return dot;
  }

  /// Centre c: draw the candidates, measure the points within their reach,
  /// keep the candidate with the lowest potential (ties: the first drawn).
  void step(int64_t c) {
    size_grid();
    const std::vector<float> cand = candidates(draw(trials_));
    const std::vector<int64_t> rows = in_reach(cand, c);
    measured += int64_t(rows.size());
    const std::vector<float> dist = distances(rows, cand.data(), trials_);
    // Potential of each candidate, minus that of the current centres: only
    // the points in reach can change it.
    // Integer sums: exact, so the same for any thread count and order.
    std::vector<int64_t> delta(size_t(trials_), 0);
    int64_t* dl = delta.data();
    const int nt = trials_;
#pragma omp parallel for reduction(+ : dl[:nt]) schedule(static) if (rows.size() > 4096)
    for (size_t r = 0; r < rows.size(); ++r) {
      const int64_t i = rows[r];
      const int64_t now = term(i, closest_[i]);
      for (int t = 0; t < nt; ++t) dl[t] += term(i, std::min(closest_[i], dist[r * nt + t])) - now;
    }
    comm_.allreduce_sum(delta.data(), delta.size());  // exact: integers
    const int best = int(std::min_element(delta.begin(), delta.end()) - delta.begin());
    add_centre(c, cand.data() + best * d_);
#pragma omp parallel for schedule(static) if (rows.size() > 4096)
    for (size_t r = 0; r < rows.size(); ++r) {
      const int64_t i = rows[r];
      const float v = dist[r * trials_ + best];
      if (v < closest_[i]) closest_[i] = v, owner_[i] = int32_t(c);
    }
  }

  const SeedPoints& p_;
  const int64_t k_, d_;
  const bool ip_, prune_;
  Communicator& comm_;
  KeyedRng rng_;
  const int trials_;
  std::vector<float> closest_, cent_, cn_;
  std::vector<int32_t> owner_;
  std::vector<uint8_t> keep_;  // in_reach's marks, [m]
  std::vector<int64_t> counts_, prefix_;
  FixedGrid grid_;
  double w_total_ = 1, slack_ = 0;

 public:
  int64_t measured = 0;  ///< points measured against candidates, all centres
};

}  // namespace

std::vector<float> kmeanspp(const SeedPoints& pts, int64_t k, uint64_t seed, bool ip, Communicator& comm,
                            bool prune, int64_t* measured) {
  int64_t total = comm.sum(pts.m);
  require(total >= k, "kmeans: k=", k, " exceeds the ", total, " points to seed from");
  Seeder s(pts, k, seed, ip, comm, prune);
  std::vector<float> out = s.run();
  if (measured) *measured = s.measured;
  return out;
}

}  // namespace distclust
