// IVF helpers: probe lists, keyed samples with their exact neighbours, and
// the choice of nprobe from a target recall.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/compute_target.h"
#include "knn/ivf_parts.h"
#include "distclust/search.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/rng.h"

namespace distclust::ivf {

namespace {

Metric metric_of(bool l2) { return l2 ? Metric::l2 : Metric::inner_product; }

/// The np best lists of each row, best first, through the search kernel.
TopK best_lists(const float* x, int64_t n, int64_t d, int64_t first_row, const std::vector<float>& c, int64_t nl,
                int np, bool l2) {
  TopK top(n, np);
  auto kernel = make_search();
  kernel->search({x, n, d, first_row}, {c.data(), nl, 0, nullptr, nullptr, nullptr, false}, metric_of(l2), top);
  return top;
}

}  // namespace

std::vector<int32_t> list_ranks(const float* x, int64_t n, int64_t d, const std::vector<float>& c, int64_t nl,
                                bool l2) {
  TopK top = best_lists(x, n, d, 0, c, nl, int(nl), l2);
  std::vector<int32_t> rank(static_cast<size_t>(n * nl));
#pragma omp parallel
  {
    std::vector<int64_t> ids(nl);
    std::vector<float> sc(nl);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      sorted_results(top, i, ids.data(), sc.data());
      for (int64_t r = 0; r < nl; ++r) rank[i * nl + ids[r]] = int32_t(r);
    }
  }
  return rank;
}

std::vector<int32_t> nearest_lists(const float* x, int64_t n, int64_t d, int64_t first_row, const std::vector<float>& c,
                                   int64_t nl, int np, bool l2) {
  np = int(std::min<int64_t>(np, nl));
  TopK top = best_lists(x, n, d, first_row, c, nl, np, l2);
  std::vector<int32_t> out(static_cast<size_t>(n * np));
#pragma omp parallel
  {
    std::vector<int64_t> ids(np);
    std::vector<float> sc(np);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      sorted_results(top, i, ids.data(), sc.data());
      for (int j = 0; j < np; ++j) out[i * np + j] = int32_t(ids[j]);
    }
  }
  return out;
}

std::vector<int64_t> exact_sample_topk(const FeatureBlock& b, const std::vector<int64_t>& rows,
                                       const std::vector<float>& qx, const KnnParams& p, Communicator& comm) {
  const int64_t d = b.d, k = p.k, m = int64_t(rows.size());
  const bool l2 = p.metric == "l2";
  TopK top(m, static_cast<int>(k));
  auto kernel = make_search({p.tile_rows, p.tile_cols});
  const SearchBase base{b.x.data(), b.local_rows(), b.rows.begin, nullptr, nullptr, b.valid.data(), true};
  kernel->search({qx.data(), m, d, 0, rows.data()}, base, metric_of(l2), top);
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

Tuned tune_nprobe(const FeatureBlock& b, const std::vector<float>& cent, int64_t nl, const KnnParams& p,
                  Communicator& comm) {
  const int64_t d = b.d, k = p.k;
  const bool l2 = p.metric == "l2";
  auto rows = keyed_sample(b, p.tune_sample, uint64_t(p.seed), 0x7e57, comm);
  const int64_t m = int64_t(rows.size());
  auto qx = gather_rows(b, rows, comm);
  auto truth = exact_sample_topk(b, rows, qx, p, comm);
  auto ranks = list_ranks(qx.data(), m, d, cent, nl, l2);
  // The lists of the true neighbours this rank owns (their vectors are here).
  std::vector<int64_t> mine;
  for (const int64_t t : truth)
    if (t >= b.rows.begin && t < b.rows.end) mine.push_back(t);
  std::sort(mine.begin(), mine.end());
  mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
  std::vector<float> mx(mine.size() * size_t(d));
  for (size_t i = 0; i < mine.size(); ++i)
    std::copy_n(b.x.data() + (mine[i] - b.rows.begin) * d, d, mx.data() + i * size_t(d));
  const auto home = nearest_lists(mx.data(), int64_t(mine.size()), d, 0, cent, nl, 1, l2);
  // hist[r]: true neighbours whose list is the query's (r+1)-th nearest list.
  // Each rank counts the neighbours it owns.
  std::vector<double> hist(nl + 1, 0.0);
  for (int64_t q = 0; q < m; ++q)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t t = truth[q * k + j];
      if (t < b.rows.begin || t >= b.rows.end) continue;
      const size_t at = size_t(std::lower_bound(mine.begin(), mine.end(), t) - mine.begin());
      hist[ranks[q * nl + home[at]]] += 1;
    }
  comm.allreduce_sum(hist.data(), hist.size());
  const double total = std::accumulate(hist.begin(), hist.end(), 0.0);
  Tuned t;
  t.sample_rows = m;
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
