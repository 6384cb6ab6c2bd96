// IVF kNN: coarse lists, rows sent to their list's owner rank (l mod P),
// queries sent once to each owner of their probe lists, searched there with
// one GEMM per (query batch, list), partial top-k sent home and merged.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "cluster/alltoall.h"
#include "cluster/knn_kernel.h"
#include "comm/local_comm.h"
#include "distclust/assign.h"
#include "distclust/error.h"
#include "distclust/h5store.h"
#include "distclust/kmeans.h"
#include "distclust/knn.h"
#include "distclust/log.h"
#include "distclust/rng.h"

namespace distclust {

namespace {

/// Coarse centroids [nlist x d]: from a kmeans.h5, or k-means on a keyed sample.
std::vector<float> coarse_centroids(const FeatureBlock& b, const KnnParams& p, int64_t nlist, bool cosine,
                                    int64_t n_valid, Communicator& comm) {
  if (!p.centroids.empty()) {
    H5Reader r(p.centroids, comm);
    DatasetInfo ci = r.info("/centroids");
    require(ci.shape.size() == 2 && ci.shape[1] == b.d, p.features, ": /features is ", b.n_total, " x ", b.d,
            " but ", p.centroids, ": /centroids is ", ci.describe());
    auto c = r.read_all<float>("/centroids");
    if (cosine) {
      FeatureBlock cb;
      cb.d = b.d, cb.x = c, cb.valid.assign(ci.shape[0], 1), cb.rows = {0, ci.shape[0]};
      normalize_rows(cb);
      c = cb.x;
    }
    return c;
  }
  // Train on a keyed sample of ~64 rows per list (rows are keyed by global row).
  const double frac = std::min(1.0, 64.0 * double(nlist) / double(n_valid));
  FeatureBlock s;
  s.d = b.d;
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if (b.valid[i] && unit_double(key_hash(uint64_t(p.seed), uint64_t(b.rows.begin + i), 0x1f1f)) < frac)
      s.x.insert(s.x.end(), b.x.begin() + i * b.d, b.x.begin() + (i + 1) * b.d);
  int64_t mine = int64_t(s.x.size() / b.d);
  auto counts = comm.allgather(std::vector<int64_t>{mine});
  int64_t before = 0;
  for (int r = 0; r < comm.rank(); ++r) before += counts[r];
  s.n_total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  s.rows = {before, before + mine};
  s.valid.assign(mine, 1);
  s.labels.assign(mine, -1);
  require(s.n_total >= nlist, "knn: nlist=", nlist, " exceeds the ", s.n_total, " sampled rows");
  KMeansParams kp;
  kp.k = static_cast<int>(nlist), kp.iters = 12, kp.spherical = cosine, kp.seed = p.seed, kp.init_sample = 8;
  auto a = make_cpu_assigner();
  return kmeans(s, kp, comm, *a).centroids;
}

/// Top `np` lists for each row of x [n x d] against centroids [nl x d].
std::vector<int32_t> probes(const float* x, int64_t n, int64_t d, const std::vector<float>& c, int64_t nl, int np,
                            bool l2) {
  std::vector<float> cn(nl, 0.0f);
  if (l2) row_norms(c.data(), nl, d, cn.data());
  std::vector<int32_t> out(static_cast<size_t>(n * np));
  const int64_t tr = 256;
#pragma omp parallel
  {
    std::vector<float> g(static_cast<size_t>(tr * nl));
    std::vector<int32_t> order(nl);
#pragma omp for schedule(dynamic, 1)
    for (int64_t r0 = 0; r0 < n; r0 += tr) {
      int64_t rn = std::min(tr, n - r0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rn), int(nl), int(d), 2.0f, x + r0 * d, int(d),
                  c.data(), int(d), 0.0f, g.data(), int(nl));
      for (int64_t i = 0; i < rn; ++i) {
        float* s = g.data() + i * nl;
        for (int64_t j = 0; j < nl; ++j) s[j] -= cn[j];
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + np, order.end(),
                          [&](int32_t a, int32_t b2) { return s[a] > s[b2] || (s[a] == s[b2] && a < b2); });
        std::copy_n(order.begin(), np, out.begin() + (r0 + i) * np);
      }
    }
  }
  return out;
}

}  // namespace

KnnGraph knn_ivf(FeatureBlock& b, const KnnParams& p, Communicator& comm) {
  p.validate();
  const int P = comm.size(), me = comm.rank();
  const int64_t n = b.local_rows(), d = b.d, k = p.k;
  int64_t n_valid = 0;
  for (auto v : b.valid) n_valid += v ? 1 : 0;
  n_valid = comm.sum(n_valid);
  require(k < n_valid, "knn: k=", k, " must be below the number of valid rows (", n_valid, " of ", b.n_total, ")");
  const bool l2 = p.metric == "l2";
  if (!l2) normalize_rows(b);
  auto t0 = std::chrono::steady_clock::now();
  int64_t nlist = p.nlist > 0 ? p.nlist : std::max<int64_t>(1, std::llround(4.0 * std::sqrt(double(n_valid))));
  nlist = std::min(nlist, std::max<int64_t>(1, n_valid / 8));
  std::vector<float> cent = coarse_centroids(b, p, nlist, !l2, n_valid, comm);
  nlist = int64_t(cent.size() / d);
  const int np = static_cast<int>(std::min<int64_t>(nlist, p.nprobe > 0 ? p.nprobe : std::max<int64_t>(16, nlist / 8)));
  log::info("knn ivf: ", nlist, " lists, nprobe ", np);

  // 1. Rows to the owners of their lists: record = [row int64][x d floats].
  std::vector<int32_t> home = probes(b.x.data(), n, d, cent, nlist, 1, l2);
  std::vector<std::vector<uint8_t>> out(P);
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[i]) continue;
    int64_t row = b.rows.begin + i;
    auto& buf = out[home[i] % P];
    int32_t list = home[i];
    put_bytes(buf, &list, 1);
    put_bytes(buf, &row, 1);
    put_bytes(buf, b.x.data() + i * d, d);
  }
  auto in = alltoallv(out, comm);
  // Owned lists: rows grouped by list (sorted by row within a list).
  struct Entry { int32_t list; int64_t row; size_t at; int src; };
  std::vector<Entry> entries;
  const size_t rec = sizeof(int32_t) + sizeof(int64_t) + d * sizeof(float);
  for (int s = 0; s < P; ++s)
    for (size_t at = 0; at < in[s].size(); at += rec) {
      Entry e{0, 0, at, s};
      get_bytes(get_bytes(in[s].data() + at, &e.list, 1), &e.row, 1);
      entries.push_back(e);
    }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& c) {
    return a.list < c.list || (a.list == c.list && a.row < c.row);
  });
  std::vector<int64_t> list_begin(nlist + 1, 0);
  std::vector<float> lx(entries.size() * d), lbias(entries.size(), 0.0f);
  std::vector<int64_t> lrow(entries.size());
  for (size_t e = 0; e < entries.size(); ++e) {
    const uint8_t* at = in[entries[e].src].data() + entries[e].at + sizeof(int32_t) + sizeof(int64_t);
    get_bytes(at, lx.data() + e * d, d);
    lrow[e] = entries[e].row;
    list_begin[entries[e].list + 1]++;
    if (l2) {
      float s = 0;
      for (int64_t t = 0; t < d; ++t) s += lx[e * d + t] * lx[e * d + t];
      lbias[e] = -s;
    }
  }
  for (int64_t l = 0; l < nlist; ++l) list_begin[l + 1] += list_begin[l];
  in.clear();

  // 2. Queries to the owners of their probe lists: [row][nprobes_for_owner int32][lists...][x].
  std::vector<int32_t> pr = probes(b.x.data(), n, d, cent, nlist, np, l2);
  for (auto& o : out) o.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (!b.valid[i]) continue;
    int64_t row = b.rows.begin + i;
    for (int o = 0; o < P; ++o) {
      std::vector<int32_t> mine;
      for (int j = 0; j < np; ++j)
        if (pr[i * np + j] % P == o) mine.push_back(pr[i * np + j]);
      if (mine.empty()) continue;
      int32_t cnt = int32_t(mine.size());
      put_bytes(out[o], &row, 1);
      put_bytes(out[o], &cnt, 1);
      put_bytes(out[o], mine.data(), mine.size());
      put_bytes(out[o], b.x.data() + i * d, d);
    }
  }
  auto qin = alltoallv(out, comm);
  struct Query { int64_t row; std::vector<int32_t> lists; const float* x; int src; };
  std::vector<Query> qs;
  for (int s = 0; s < P; ++s) {
    const uint8_t* at = qin[s].data();
    const uint8_t* end = at + qin[s].size();
    while (at < end) {
      Query q;
      int32_t cnt = 0;
      at = get_bytes(get_bytes(at, &q.row, 1), &cnt, 1);
      q.lists.resize(cnt);
      at = get_bytes(at, q.lists.data(), cnt);
      q.x = reinterpret_cast<const float*>(at);  // records are float-aligned? copy below
      q.src = s;
      at += d * sizeof(float);
      qs.push_back(std::move(q));
    }
  }
  // Queries in order of their first probe list: a batch then shares lists.
  std::sort(qs.begin(), qs.end(), [](const Query& a, const Query& c) {
    return a.lists[0] < c.lists[0] || (a.lists[0] == c.lists[0] && a.row < c.row);
  });
  const int64_t nq = int64_t(qs.size());
  std::vector<float> qx(static_cast<size_t>(nq * d));
  std::vector<int64_t> qrow(nq);
  for (int64_t i = 0; i < nq; ++i) {
    std::copy_n(reinterpret_cast<const uint8_t*>(qs[i].x), d * sizeof(float),
                reinterpret_cast<uint8_t*>(qx.data() + i * d));
    qrow[i] = qs[i].row;
  }
  TopK top(nq, static_cast<int>(k));
  const int64_t batch = 2048;
#pragma omp parallel
  {
    std::vector<float> g, bx;
    std::vector<int64_t> members, bq;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b0 = 0; b0 < nq; b0 += batch) {
      const int64_t b1 = std::min(nq, b0 + batch);
      // Lists probed by this batch -> the batch's queries probing each.
      std::vector<std::pair<int32_t, int64_t>> pairs;
      for (int64_t i = b0; i < b1; ++i)
        for (int32_t l : qs[i].lists) pairs.emplace_back(l, i);
      std::sort(pairs.begin(), pairs.end());
      for (size_t a = 0; a < pairs.size();) {
        size_t z = a;
        while (z < pairs.size() && pairs[z].first == pairs[a].first) ++z;
        const int32_t l = pairs[a].first;
        const int64_t lb = list_begin[l], ln = list_begin[l + 1] - lb;
        if (ln > 0) {
          const int64_t m = int64_t(z - a);
          bx.resize(m * d);
          for (int64_t t = 0; t < m; ++t) std::copy_n(qx.data() + pairs[a + t].second * d, d, bx.data() + t * d);
          g.resize(m * ln);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(ln), int(d), l2 ? 2.0f : 1.0f, bx.data(),
                      int(d), lx.data() + lb * d, int(d), 0.0f, g.data(), int(ln));
          for (int64_t t = 0; t < m; ++t) {
            const int64_t q = pairs[a + t].second;
            for (int64_t j = 0; j < ln; ++j) {
              float v = g[t * ln + j] + lbias[lb + j];
              if (lrow[lb + j] != qrow[q] && v >= top.threshold(q)) top.push(q, v, lrow[lb + j]);
            }
          }
        }
        a = z;
      }
    }
  }
  // 3. Partial results home: [row][k scores][k indices].
  for (auto& o : out) o.clear();
  for (int64_t i = 0; i < nq; ++i) {
    auto& buf = out[qs[i].src];
    put_bytes(buf, &qs[i].row, 1);
    put_bytes(buf, top.scores(i), k);
    put_bytes(buf, top.indices(i), k);
  }
  qs.clear();
  auto res = alltoallv(out, comm);
  TopK mine(n, static_cast<int>(k));
  for (int s = 0; s < P; ++s) {
    const uint8_t* at = res[s].data();
    const uint8_t* end = at + res[s].size();
    std::vector<float> sc(k);
    std::vector<int64_t> ix(k);
    while (at < end) {
      int64_t row = 0;
      at = get_bytes(get_bytes(get_bytes(at, &row, 1), sc.data(), k), ix.data(), k);
      for (int64_t j = 0; j < k; ++j)
        if (ix[j] != std::numeric_limits<int64_t>::max()) mine.push(row - b.rows.begin, sc[j], ix[j]);
    }
  }
  KnnGraph gr;
  gr.k = k;
  gr.rows = b.rows;
  gr.indices.assign(static_cast<size_t>(n * k), -1);
  gr.values.assign(static_cast<size_t>(n * k), 0.0f);
  for (int64_t q = 0; q < n; ++q) {
    if (!b.valid[q]) continue;
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    const float* s = mine.scores(q);
    const int64_t* ix = mine.indices(q);
    std::sort(order.begin(), order.end(), [&](int a, int c) { return TopK::better(s[a], ix[a], s[c], ix[c]); });
    float qn = 0;
    if (l2)
      for (int64_t t = 0; t < d; ++t) qn += b.x[q * d + t] * b.x[q * d + t];
    for (int64_t j = 0; j < k; ++j) {
      const bool filled = ix[order[j]] != std::numeric_limits<int64_t>::max();
      gr.indices[q * k + j] = filled ? ix[order[j]] : -1;
      gr.values[q * k + j] = filled ? (l2 ? std::max(0.0f, qn - s[order[j]]) : s[order[j]]) : 0.0f;
    }
  }
  gr.seconds_search = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // 4. recall@k on a keyed sample of valid rows.
  if (p.recall_sample > 0) {
    std::vector<int64_t> cand;
    for (int64_t i = 0; i < n; ++i)
      if (b.valid[i]) cand.push_back(b.rows.begin + i);
    std::sort(cand.begin(), cand.end(), [&](int64_t a, int64_t c) {
      return key_hash(uint64_t(p.seed), uint64_t(a), 0x5ec) < key_hash(uint64_t(p.seed), uint64_t(c), 0x5ec);
    });
    // Smallest hashes globally: take up to recall_sample per rank, then the global smallest.
    cand.resize(std::min<size_t>(cand.size(), size_t(p.recall_sample)));
    auto all = comm.allgather(cand);
    std::sort(all.begin(), all.end(), [&](int64_t a, int64_t c) {
      return key_hash(uint64_t(p.seed), uint64_t(a), 0x5ec) < key_hash(uint64_t(p.seed), uint64_t(c), 0x5ec);
    });
    all.resize(std::min<size_t>(all.size(), size_t(p.recall_sample)));
    std::sort(all.begin(), all.end());
    gr.recall = knn_recall(b, gr, all, p, comm);
  }
  (void)me;
  return gr;
}

double knn_recall(const FeatureBlock& b, const KnnGraph& g, const std::vector<int64_t>& sample, const KnnParams& p,
                  Communicator& comm) {
  const int64_t d = b.d, k = g.k, m = int64_t(sample.size());
  if (m == 0) return -1;
  const bool l2 = p.metric == "l2";
  // The sample's vectors, from their owners (rows are replicated in order).
  std::vector<float> mx;
  for (int64_t row : sample)
    if (row >= b.rows.begin && row < b.rows.end) mx.insert(mx.end(), b.x.begin() + (row - b.rows.begin) * d, b.x.begin() + (row - b.rows.begin + 1) * d);
  std::vector<float> qx = comm.allgather(mx);
  // Exact top-k of the sample against this rank's rows, then merged.
  std::vector<float> bias(b.local_rows());
  for (int64_t j = 0; j < b.local_rows(); ++j) {
    float s = 0;
    if (l2)
      for (int64_t t = 0; t < d; ++t) s += b.x[j * d + t] * b.x[j * d + t];
    bias[j] = b.valid[j] ? -s : -INFINITY;
  }
  TopK top(m, static_cast<int>(k));
  KnnBlock blk{b.x.data(), bias.data(), b.local_rows(), b.rows.begin};
  knn_search_block(qx.data(), m, d, 0, blk, l2 ? 2.0f : 1.0f, p.tile_rows, p.tile_cols, top, sample.data());
  auto sc = comm.allgather(top.raw_scores());
  auto ix = comm.allgather(top.raw_indices());
  TopK merged(m, static_cast<int>(k));
  for (size_t r = 0; r < sc.size() / (m * k); ++r)
    for (int64_t q = 0; q < m; ++q)
      for (int64_t j = 0; j < k; ++j) {
        size_t at = r * m * k + q * k + j;
        if (ix[at] != std::numeric_limits<int64_t>::max()) merged.push(q, sc[at], ix[at]);
      }
  double hits = 0, total = 0;
  for (int64_t q = 0; q < m; ++q) {
    const int64_t row = sample[q];
    if (row < g.rows.begin || row >= g.rows.end) continue;
    const int64_t* got = &g.indices[(row - g.rows.begin) * k];
    const int64_t* truth = merged.indices(q);
    for (int64_t j = 0; j < k; ++j) hits += std::find(got, got + k, truth[j]) != got + k;
    total += double(k);
  }
  hits = comm.sum(hits);
  total = comm.sum(total);
  return total > 0 ? hits / total : -1;
}

}  // namespace distclust
