// IVF helpers: probe lists, keyed samples with their exact neighbours, and
// the choice of nprobe from a target recall.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "cluster/knn_ivf_parts.h"
#include "cluster/knn_kernel.h"
#include "distclust/assign.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/rng.h"

namespace distclust::ivf {

namespace {

/// Indices of the np largest of s [nl], best first; ties to the lower index.
/// Sorted insertion: after the first few lists almost every score fails the
/// one compare against the current worst, so a row costs ~nl compares.
void top_insert(const float* s, int64_t nl, int np, int32_t* out, float* keep) {
  int cnt = 0;
  for (int64_t j = 0; j < nl; ++j) {
    const float v = s[j];
    if (cnt == np && !(v > keep[np - 1])) continue;
    int pos = cnt < np ? cnt++ : np - 1;
    for (; pos > 0 && v > keep[pos - 1]; --pos) keep[pos] = keep[pos - 1], out[pos] = out[pos - 1];
    keep[pos] = v;
    out[pos] = int32_t(j);
  }
}

/// The same for large np: a partial sort (insertion would shift ~np per hit).
void top_sort(const float* s, int64_t nl, int np, int32_t* out, std::vector<int32_t>& order) {
  order.resize(nl);
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](int32_t a, int32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); };
  std::nth_element(order.begin(), order.begin() + (np - 1), order.end(), better);
  std::sort(order.begin(), order.begin() + np, better);
  std::copy_n(order.begin(), np, out);
}

/// Scores of a tile of rows against all centroids into g [rn x nl].
void score_tile(const float* x, int64_t rn, int64_t d, const std::vector<float>& c, const std::vector<float>& cn,
                int64_t nl, bool l2, float* g) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rn), int(nl), int(d), l2 ? 2.0f : 1.0f, x, int(d),
              c.data(), int(d), 0.0f, g, int(nl));
  if (l2)
    for (int64_t i = 0; i < rn; ++i)
      for (int64_t j = 0; j < nl; ++j) g[i * nl + j] -= cn[j];
}

std::vector<float> centroid_norms(const std::vector<float>& c, int64_t nl, int64_t d, bool l2) {
  std::vector<float> cn(nl, 0.0f);
  if (l2) row_norms(c.data(), nl, d, cn.data());
  return cn;
}

}  // namespace

std::vector<float> list_scores(const float* x, int64_t n, int64_t d, const std::vector<float>& c, int64_t nl,
                               bool l2) {
  std::vector<float> g(static_cast<size_t>(n * nl));
  const auto cn = centroid_norms(c, nl, d, l2);
  if (n > 0) score_tile(x, n, d, c, cn, nl, l2, g.data());
  return g;
}

std::vector<int32_t> nearest_lists(const float* x, int64_t n, int64_t d, const std::vector<float>& c, int64_t nl,
                                   int np, bool l2) {
  np = int(std::min<int64_t>(np, nl));
  const auto cn = centroid_norms(c, nl, d, l2);
  std::vector<int32_t> out(static_cast<size_t>(n * np));
  const int64_t tr = 256;
#pragma omp parallel
  {
    std::vector<float> g(static_cast<size_t>(tr * nl)), keep(np);
    std::vector<int32_t> order;
#pragma omp for schedule(dynamic, 1)
    for (int64_t r0 = 0; r0 < n; r0 += tr) {
      const int64_t rn = std::min(tr, n - r0);
      score_tile(x + r0 * d, rn, d, c, cn, nl, l2, g.data());
      for (int64_t i = 0; i < rn; ++i) {
        int32_t* o = out.data() + (r0 + i) * np;
        if (np <= 64)
          top_insert(g.data() + i * nl, nl, np, o, keep.data());
        else
          top_sort(g.data() + i * nl, nl, np, o, order);
      }
    }
  }
  return out;
}

std::vector<int64_t> keyed_sample(const FeatureBlock& b, int64_t m, uint64_t seed, uint64_t salt,
                                  Communicator& comm) {
  auto key_less = [&](int64_t a, int64_t c) { return key_hash(seed, uint64_t(a), salt) < key_hash(seed, uint64_t(c), salt); };
  std::vector<int64_t> cand;
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i]) cand.push_back(b.rows.begin + i);
  // The m smallest keys of each rank, then the m smallest of those.
  const size_t keep = std::min<size_t>(cand.size(), size_t(std::max<int64_t>(m, 0)));
  std::partial_sort(cand.begin(), cand.begin() + keep, cand.end(), key_less);
  cand.resize(keep);
  auto all = comm.allgather(cand);
  std::sort(all.begin(), all.end(), key_less);
  all.resize(std::min<size_t>(all.size(), size_t(std::max<int64_t>(m, 0))));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<float> gather_rows(const FeatureBlock& b, const std::vector<int64_t>& rows, Communicator& comm) {
  // rows is sorted and ranks own consecutive ranges, so the allgather (in
  // rank order) returns the vectors in the order of rows.
  std::vector<float> mine;
  for (int64_t row : rows)
    if (row >= b.rows.begin && row < b.rows.end)
      mine.insert(mine.end(), b.x.begin() + (row - b.rows.begin) * b.d, b.x.begin() + (row - b.rows.begin + 1) * b.d);
  return comm.allgather(mine);
}

std::vector<int64_t> exact_sample_topk(const FeatureBlock& b, const std::vector<int64_t>& rows,
                                       const std::vector<float>& qx, const KnnParams& p, Communicator& comm) {
  const int64_t d = b.d, k = p.k, m = int64_t(rows.size());
  const bool l2 = p.metric == "l2";
  std::vector<float> bias(b.local_rows());
  for (int64_t j = 0; j < b.local_rows(); ++j) {
    float s = 0;
    if (l2)
      for (int64_t t = 0; t < d; ++t) s += b.x[j * d + t] * b.x[j * d + t];
    bias[j] = b.valid[j] ? -s : -INFINITY;
  }
  TopK top(m, static_cast<int>(k));
  KnnBlock blk{b.x.data(), bias.data(), b.local_rows(), b.rows.begin};
  knn_search_block(qx.data(), m, d, 0, blk, l2 ? 2.0f : 1.0f, p.tile_rows, p.tile_cols, top, rows.data());
  auto sc = comm.allgather(top.raw_scores());
  auto ix = comm.allgather(top.raw_indices());
  TopK merged(m, static_cast<int>(k));
  for (size_t r = 0; r < sc.size() / size_t(std::max<int64_t>(1, m * k)); ++r)
    for (int64_t q = 0; q < m; ++q)
      for (int64_t j = 0; j < k; ++j) {
        const size_t at = r * m * k + q * k + j;
        if (ix[at] != std::numeric_limits<int64_t>::max()) merged.push(q, sc[at], ix[at]);
      }
  std::vector<int64_t> out(static_cast<size_t>(m * k), -1);
  for (int64_t q = 0; q < m; ++q) {
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    const float* s = merged.scores(q);
    const int64_t* ix2 = merged.indices(q);
    std::sort(order.begin(), order.end(), [&](int a, int c) { return TopK::better(s[a], ix2[a], s[c], ix2[c]); });
    for (int64_t j = 0; j < k; ++j)
      if (ix2[order[j]] != std::numeric_limits<int64_t>::max()) out[q * k + j] = ix2[order[j]];
  }
  return out;
}

Tuned tune_nprobe(const FeatureBlock& b, const std::vector<float>& cent, int64_t nl, const std::vector<int32_t>& home,
                  const KnnParams& p, Communicator& comm) {
  const int64_t d = b.d, k = p.k;
  const bool l2 = p.metric == "l2";
  auto rows = keyed_sample(b, p.tune_sample, uint64_t(p.seed), 0x7e57, comm);
  const int64_t m = int64_t(rows.size());
  auto qx = gather_rows(b, rows, comm);
  auto truth = exact_sample_topk(b, rows, qx, p, comm);
  auto s = list_scores(qx.data(), m, d, cent, nl, l2);
  // hist[r]: true neighbours whose list is the query's (r+1)-th nearest list.
  // Each rank counts the neighbours it owns (it knows their lists).
  std::vector<double> hist(nl + 1, 0.0);
  for (int64_t q = 0; q < m; ++q)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t t = truth[q * k + j];
      if (t < b.rows.begin || t >= b.rows.end) continue;
      const int32_t L = home[t - b.rows.begin];
      const float* sq = s.data() + q * nl;
      int64_t rank = 0;
      for (int64_t c = 0; c < nl; ++c) rank += sq[c] > sq[L] || (sq[c] == sq[L] && c < L);
      hist[rank] += 1;
    }
  comm.allreduce_sum(hist.data(), hist.size());
  const double total = std::accumulate(hist.begin(), hist.end(), 0.0);
  Tuned t;
  double found = 0;
  for (int64_t r = 0; r < nl; ++r) {
    found += hist[r];
    t.nprobe = int(r + 1);
    t.predicted_recall = total > 0 ? found / total : 1.0;
    if (t.predicted_recall >= p.target_recall) break;
  }
  return t;
}

}  // namespace distclust::ivf
