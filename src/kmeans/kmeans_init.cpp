// k-means initialisation: k-means++ (greedy, as scikit-learn) on a keyed
// sample of the rows, spread over ranks (kmeans_pp.h), the sample then
// joined by the rows it misrepresents (heavy_rows) and seeded again;
// random (k sampled rows); or k-means|| (Bahmani et al.) over all rows, its
// weighted candidates reduced to k by the same greedy k-means++. Samples
// are chosen by hashing (seed, global row), so every rank starts from
// bit-identical centroids for any number of ranks.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "distclust/error.h"
#include "io/finite.h"
#include "distclust/log.h"
#include "distclust/rng.h"
#include "io/h5store.h"
#include "extract/row_centre.h"
#include "kernels/rows.h"
#include "kmeans/assign.h"
#include "kmeans/kmeans.h"
#include "kernels/exact_total.h"
#include "knn/graph_value.h"  // exact_score: the exact d^2 the kNN rescoring uses
#include "kmeans/kmeans_pp.h"

namespace distclust {
namespace {

constexpr uint64_t kSampleKey = 0x5a3b1e;
/// Heavy rows (heavy_rows) join the k-means++ sample in at most
/// kHeavyRounds rounds, each a pass over the rows and a seeding. A heavy row
/// holds 1/(kHeavyDraws k) of the potential left: full k-means++ would draw
/// it with a chance of ~1/10 or more. 1/(sample size) also took in clusters
/// the seeds had missed, on clean data: 2,066 rows of 200k x 256 at
/// k = 1000, then 2,843, then 2,411, three seedings for nothing.
constexpr int kHeavyRounds = 3;
constexpr int64_t kHeavyDraws = 10;
/// Points to seed from: this rank's share, in global order.
struct Points {
  std::vector<float> x;        // [m x d]
  std::vector<int64_t> rows;   // global row of each point
  std::vector<double> weight;  // [m] (k-means|| candidates; a sample with heavy rows); empty = 1
  int64_t first = 0;           // index of this rank's first point among all ranks' points
  int64_t total = 0;           // points on all ranks
  int64_t m() const { return static_cast<int64_t>(rows.size()); }
  SeedPoints seed_points(int64_t d) const {
    return {x.data(), weight.empty() ? nullptr : weight.data(), m(), d, first};
  }
};

/// This rank's valid rows whose keyed hash is below frac (collective: the
/// counts of all ranks give each its first index). With `always` ([local
/// rows], may be null), the rows it flags are taken too, whatever their
/// hash, each weighted frac: it stands for itself where a hashed row stands
/// for 1/frac rows, so the sample still weighs the data as it is.
Points local_sample(const FeatureBlock& b, double frac, uint64_t seed, Communicator& comm,
                    const std::vector<char>* always = nullptr) {
  Points p;
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    int64_t g = b.rows.begin + i;
    const bool forced = always && (*always)[size_t(i)];
    if (!b.valid[i] || (!forced && unit_double(key_hash(seed, g, kSampleKey)) >= frac)) continue;
    p.rows.push_back(g);
    p.x.insert(p.x.end(), b.x.begin() + i * b.d, b.x.begin() + (i + 1) * b.d);
    if (always) p.weight.push_back(forced ? frac : 1.0);
  }
  const std::vector<int64_t> counts = comm.allgather(std::vector<int64_t>{p.m()});
  for (int r = 0; r < comm.size(); ++r) (r < comm.rank() ? p.first : p.total) += counts[r];
  p.total += p.first;
  return p;
}

/// The point of the sample at global index `key`'s draw below the sample's
/// total, on every rank (its owner sends it; collective).
std::vector<float> keyed_point(const Points& sample, int64_t d, uint64_t seed, uint64_t key, Communicator& comm,
                               int64_t* row = nullptr) {
  const int64_t at = static_cast<int64_t>(KeyedRng(seed, key).below(uint64_t(sample.total))) - sample.first;
  const bool mine = at >= 0 && at < sample.m();
  const std::vector<int64_t> rows = comm.allgather(mine ? std::vector<int64_t>{sample.rows[size_t(at)]}
                                                        : std::vector<int64_t>{});
  if (row) *row = rows.at(0);
  return comm.allgather(mine ? std::vector<float>(sample.x.begin() + at * d, sample.x.begin() + (at + 1) * d)
                             : std::vector<float>{});
}

/// Each valid row's d^2 to the seed it is nearest to [local rows] (-1:
/// invalid), from the rows themselves in double: the Lloyd step's GEMM form
/// |x|^2 - 2 x.c + |c|^2 in float erred by ~100 at |x| ~ 4e4, and rows of
/// a far group that had its seed still looked far from it.
std::vector<double> seed_distances(const FeatureBlock& b, const std::vector<float>& norms,
                                   const std::vector<float>& cent, int64_t k, bool ip, SearchKernel& kernel) {
  const int64_t n = b.local_rows(), d = b.d;
  std::vector<int64_t> lab(static_cast<size_t>(n));
  std::vector<float> approx(static_cast<size_t>(n));
  assign_nearest(kernel, b, norms.data(), cent.data(), k, ip, lab.data(), approx.data());
  std::vector<double> d2(static_cast<size_t>(n), -1.0);
#pragma omp parallel for schedule(static) if (n * d > (1 << 20))
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[size_t(i)] || lab[size_t(i)] < 0) continue;
    d2[size_t(i)] = -exact_score(b.x.data() + i * d, cent.data() + lab[size_t(i)] * d, d, /*l2=*/true);
  }
  return d2;
}

/// Flags [local rows] of the heavy rows and returns how many there are on
/// all ranks. The sample holds a row only by chance (probability frac),
/// while k-means++ on all rows, drawing k times by share of the potential,
/// draws a row holding 1/m of it with a chance of about k/m: a lone row at
/// 1e8 the sample missed took a centre from a real cluster (inertia x2 at
/// k = 8). Heavy: the rows, farthest first (d2 [local rows], ties to the
/// lower global row), each holding 1/m or more of the potential that it and
/// the rows after it leave, up to the first that does not (so lone rows at
/// 1e2, 3e3, ..., 8e7 are heavy at once: each outweighs the nearer rows),
/// at most k. The potential is an exact total and the order global, so the
/// same rows for any rank count; each rank's farthest rows are gathered 64
/// at a time, then 4x as many, until where the run ends is known.
int64_t heavy_rows(const FeatureBlock& b, const std::vector<double>& d2, int64_t k, double m, Communicator& comm,
                   std::vector<char>& flag) {
  const int64_t n = b.local_rows();
  const double phi = exact_nonnegative_total(n, [&](int64_t i) { return d2[size_t(i)]; }, comm);
  flag.assign(size_t(n), 0);
  if (phi <= 0) return 0;
  using Key = std::pair<double, int64_t>;  // (d^2, global row)
  auto before = [](const Key& a, const Key& c) {
    return a.first > c.first || (a.first == c.first && a.second < c.second);
  };
  std::vector<Key> mine;
  for (int64_t i = 0; i < n; ++i)
    if (d2[size_t(i)] >= 0) mine.emplace_back(d2[size_t(i)], b.rows.begin + i);
  std::vector<int64_t> heavy;
  for (size_t t = 64;; t *= 4) {
    const size_t sent = std::min(t, mine.size());
    std::partial_sort(mine.begin(), mine.begin() + sent, mine.end(), before);
    std::vector<double> md;
    std::vector<int64_t> mr;
    for (size_t i = 0; i < sent; ++i) md.push_back(mine[i].first), mr.push_back(mine[i].second);
    // A rank's rows not sent are at most its last one sent: past the
    // largest such value over ranks, the global order is not known here.
    const double unknown = comm.max(sent < mine.size() ? mine[sent - 1].first : -1.0);
    const std::vector<double> all_d = comm.allgather(md);
    const std::vector<int64_t> all_r = comm.allgather(mr);
    std::vector<Key> all;
    for (size_t i = 0; i < all_d.size(); ++i) all.emplace_back(all_d[i], all_r[i]);
    std::sort(all.begin(), all.end(), before);
    heavy.clear();
    double rest = phi;  // the potential of the rows not taken
    bool known = true;
    for (const Key& e : all) {
      if (e.first <= unknown) {
        known = false;
        break;
      }
      if (e.first * m < rest || int64_t(heavy.size()) >= k) break;
      heavy.push_back(e.second);
      rest -= e.first;
    }
    if (known) break;
  }
  for (int64_t g : heavy)
    if (g >= b.rows.begin && g < b.rows.end) flag[size_t(g - b.rows.begin)] = 1;
  return int64_t(heavy.size());
}

/// Every rank's points on every rank, in global order.
Points gathered(const Points& mine, Communicator& comm) {
  Points p;
  p.rows = comm.allgather(mine.rows);
  p.x = comm.allgather(mine.x);
  p.total = p.m();
  return p;
}

/// Rows [begin, end) of replicated points as one rank's share.
Points share(const Points& all, int64_t d, Communicator& comm) {
  const RowRange r = row_block(all.m(), comm.rank(), comm.size());
  Points p;
  p.rows.assign(all.rows.begin() + r.begin, all.rows.begin() + r.end);
  p.x.assign(all.x.begin() + r.begin * d, all.x.begin() + r.end * d);
  if (!all.weight.empty()) p.weight.assign(all.weight.begin() + r.begin, all.weight.begin() + r.end);
  p.first = r.begin;
  p.total = all.m();
  return p;
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

/// One k-means|| round's draw: every rank's valid rows whose keyed hash for
/// the round is below l * closest / phi, appended to cand in global order
/// (collective); returns how many.
int64_t oversample(const FeatureBlock& b, const std::vector<float>& closest, double l, double phi, uint64_t seed,
                   int round, Communicator& comm, Points& cand) {
  const int64_t d = b.d;
  std::vector<int64_t> rows;
  std::vector<float> x;
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    const int64_t g = b.rows.begin + i;
    if (!b.valid[size_t(i)] || unit_double(key_hash(seed, g, 0x7777, round)) >= l * closest[size_t(i)] / phi) continue;
    rows.push_back(g);
    x.insert(x.end(), b.x.begin() + i * d, b.x.begin() + (i + 1) * d);
  }
  const std::vector<int64_t> new_rows = comm.allgather(rows);
  const std::vector<float> new_x = comm.allgather(x);
  cand.rows.insert(cand.rows.end(), new_rows.begin(), new_rows.end());
  cand.x.insert(cand.x.end(), new_x.begin(), new_x.end());
  return static_cast<int64_t>(new_rows.size());
}

/// k-means||: rounds of oversampling rows with probability l * d^2 / phi
/// (keyed by (seed, round, row)), candidates weighted by the rows nearest to
/// them, reduced to k by weighted greedy k-means++ spread over the ranks
/// (share, then kmeanspp).
Points kmeans_parallel_candidates(const FeatureBlock& b, const std::vector<float>& norms,
                                  const KMeansParams& prm, uint64_t seed, Communicator& comm,
                                  SearchKernel& kernel, const Points& sample) {
  const int64_t d = b.d, n = b.local_rows();
  const bool ip = prm.spherical;
  Points cand;
  cand.rows.resize(1);
  cand.x = keyed_point(sample, d, seed, 0x9a11, comm, &cand.rows[0]);
  std::vector<float> closest(n), dist(n);
  std::vector<int64_t> lab(n);
  assign_nearest(kernel, b, norms.data(), cand.x.data(), 1, ip, lab.data(), closest.data());
  // The candidate each row is nearest to, kept through the rounds: the
  // weights then need no final pass over the data against all candidates
  // (that pass cost as much as all the rounds: ~50 of 105 s at 1.28M x 512).
  // A later candidate takes a row only when strictly nearer, so ties go to
  // the earliest, as an argmin over all candidates would.
  std::vector<int64_t> owner(n, -1);
  for (int64_t i = 0; i < n; ++i)
    if (b.valid[i]) owner[i] = 0;
  size_t done = 1;  // candidates whose distances are in `closest`
  const double l = prm.parallel_factor * prm.k;
  for (int round = 1; round <= prm.parallel_rounds; ++round) {
    // Exact: each row's draw compares with l * closest / phi, and a phi
    // summed in double over ranks differed in its last bits with the rank
    // count (so could a draw).
    const double phi = exact_nonnegative_total(
        n, [&](int64_t i) { return b.valid[size_t(i)] ? double(closest[size_t(i)]) : -1.0; }, comm);
    if (phi <= 0) break;
    const int64_t added = oversample(b, closest, l, phi, seed, round, comm, cand);
    if (added == 0) continue;
    assign_nearest(kernel, b, norms.data(), cand.x.data() + done * d, added, ip, lab.data(), dist.data());
    for (int64_t i = 0; i < n; ++i)
      if (b.valid[i] && lab[i] >= 0 && dist[i] < closest[i]) {
        closest[i] = dist[i];
        owner[i] = int64_t(done) + lab[i];
      }
    done += added;
    // Each round is a pass over the data: at ImageNet size ~10 s, silent before.
    log::info("kmeans||: round ", round, "/", prm.parallel_rounds, ", ", done, " candidates");
  }
  // Weight of a candidate: valid rows nearest to it.
  const int64_t m = cand.m();
  std::vector<double> w(m, 0.0);
  for (int64_t i = 0; i < n; ++i)
    if (owner[i] >= 0) w[owner[i]] += 1.0;
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
    std::vector<float> c = r.read_all<float>("/centroids");
    require_finite_rows(c.data(), k, d, p.init_centroids + ": /centroids");
    subtract_centre(c.data(), k, d, b.centre);  // into the rows' coordinates (extract/row_centre.h)
    return c;
  }
  const int64_t n_valid = count_valid(b, comm);
  // Sample fraction: init_sample*k rows expected; at least enough for k.
  double frac = std::min(1.0, double(std::max<int64_t>(int64_t(p.init_sample) * k, 4 * k)) / double(n_valid));
  Points sample = local_sample(b, frac, seed, comm);
  if (sample.total < k) frac = 1.0, sample = local_sample(b, 1.0, seed, comm);
  require(sample.total >= k, "kmeans: k=", k, " exceeds the ", sample.total, " valid rows");
  if (p.init == "random") {
    // Every rank gathers the sample and takes the same k rows.
    return random_init(gathered(sample, comm), d, k, seed);
  }
  if (p.init == "kmeans-parallel") {
    Points cand = kmeans_parallel_candidates(b, norms, p, seed, comm, kernel, sample);
    log::debug("kmeans||: ", cand.m(), " candidates for k=", k);
    // Too few candidates (tiny data): seed from the sample instead.
    if (cand.m() >= k) return kmeanspp(share(cand, d, comm).seed_points(d), k, seed, p.spherical, comm);
  }
  std::vector<float> cent = kmeanspp(sample.seed_points(d), k, seed, p.spherical, comm);
  // The rows the sample misrepresents (heavy_rows) join it as themselves
  // and it is seeded again, while new ones appear (a far cluster seeded in
  // one round can leave a lone row heavy in the next): on clean data one
  // pass over the rows finds none and the seeds stand.
  std::vector<char> certain(size_t(b.local_rows()), 0), heavy;
  for (int round = 1; frac < 1 && round <= kHeavyRounds; ++round) {
    const std::vector<double> d2 = seed_distances(b, norms, cent, k, p.spherical, kernel);
    const int64_t found = heavy_rows(b, d2, k, kHeavyDraws * double(k), comm, heavy);
    int64_t added = 0;
    for (size_t i = 0; i < heavy.size(); ++i)
      if (heavy[i] && !certain[i]) certain[i] = 1, ++added;
    added = comm.sum(added);
    if (added == 0) break;
    sample = local_sample(b, frac, seed, comm, &certain);
    log::info("kmeans++: ", found, " rows far from the seeds each hold 1/", kHeavyDraws * k,
              " or more of the potential the nearer rows leave; ", added, " new join the sample (", sample.total,
              " rows), seeded again (round ", round, "/", kHeavyRounds, ")");
    cent = kmeanspp(sample.seed_points(d), k, seed, p.spherical, comm);
    // Each round costs a pass and a seeding; nested far structures could
    // ask for more, and a silent stop would hide that they were not looked for.
    if (round == kHeavyRounds)
      log::info("kmeans++: no more rounds: rows far from these seeds, if any, are not looked for again ",
                "(Lloyd starts from them)");
  }
  return cent;
}

}  // namespace distclust
