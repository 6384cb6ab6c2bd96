// IVF kNN: coarse lists, rows sent to their list's owner rank (l mod P);
// queries, in rounds of bounded size, sent once to each owner of their probe
// lists, searched there with one GEMM per (query batch, list), partial top-k
// sent home and merged. nprobe is chosen from a target recall on a keyed
// sample unless given (ivf_tune.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include <omp.h>

#include "kernels/compute_target.h"
#include "io/finite.h"
#include "comm/alltoall.h"
#include "knn/graph_value.h"
#include "extract/row_centre.h"
#include "knn/ivf_parts.h"
#include "distclust/topk.h"
#include "distclust/search.h"
#include "kernels/rows.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "kmeans/kmeans.h"
#include "knn/knn.h"
#include "distclust/log.h"
#include "distclust/progress.h"
#include "distclust/rng.h"

namespace distclust {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

/// Coarse centroids [nlist x d]: from a kmeans.h5, or k-means on a keyed
/// sample of ~64 rows per list with random initialisation (as FAISS trains
/// its coarse quantizer: k-means++ at thousands of lists costs more than the
/// iterations and buys nothing measurable in recall).
std::vector<float> coarse_centroids(const FeatureBlock& b, const KnnParams& p, int64_t nlist, bool cosine,
                                    int64_t n_valid, Communicator& comm) {
  if (!p.centroids.empty()) {
    H5Reader r(p.centroids, comm);
    DatasetInfo ci = r.info("/centroids");
    require(ci.shape.size() == 2 && ci.shape[1] == b.d, p.features, ": /features is ", b.n_total, " x ", b.d,
            " but ", p.centroids, ": /centroids is ", ci.describe());
    auto c = r.read_all<float>("/centroids");
    require_finite_rows(c.data(), ci.shape[0], b.d, p.centroids + ": /centroids");
    if (cosine) normalize_rows(c.data(), ci.shape[0], b.d);
    subtract_centre(c.data(), ci.shape[0], b.d, b.centre);  // l2: into the centred rows' coordinates
    return c;
  }
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
  kp.k = static_cast<int>(nlist), kp.iters = 10, kp.spherical = cosine, kp.seed = p.seed, kp.init = "random";
  kp.tol = 0;
  auto kernel = make_search();
  return kmeans(s, kp, comm, *kernel).centroids;
}

/// The lists this rank owns (list l lives on rank l mod P), rows sorted by
/// (list, row): list l is rows [begin[l], begin[l+1]).
struct OwnedLists {
  std::vector<int64_t> begin;  ///< [nlist + 1]
  std::vector<float> x;        ///< [rows x d]
  std::vector<float> norms;    ///< [rows] |x|^2 (l2; empty for cosine)
  std::vector<int64_t> row;    ///< [rows] global row
  /// Where each global row lies in `row`: open addressing with linear
  /// probing, a power of two >= 2 x rows of {row, position} slots (row -1:
  /// empty). The rescoring finds its candidates here in about one probe;
  /// binary searches through the query's lists took ~30 dependent loads a
  /// candidate, half of the rescoring's time.
  std::vector<std::pair<int64_t, int64_t>> slots;

  static uint64_t hash(int64_t g) { return uint64_t(g) * 0x9E3779B97F4A7C15ull; }
  void index_rows() {
    size_t cap = 2;
    while (cap < 2 * row.size()) cap *= 2;
    slots.assign(cap, {-1, -1});
    for (size_t p = 0; p < row.size(); ++p)
      for (size_t h = hash(row[p]) & (cap - 1);; h = (h + 1) & (cap - 1))
        if (slots[h].first < 0) {
          slots[h] = {row[p], int64_t(p)};
          break;
        }
  }
  /// The position of global row g in `row`; -1 when this rank holds none.
  int64_t position(int64_t g) const {
    const size_t m = slots.size() - 1;
    for (size_t h = hash(g) & m;; h = (h + 1) & m) {
      if (slots[h].first == g) return slots[h].second;
      if (slots[h].first < 0) return -1;
    }
  }
};

OwnedLists distribute_lists(const FeatureBlock& b, const std::vector<int32_t>& home, int64_t nlist, bool l2,
                            Communicator& comm) {
  const int P = comm.size();
  const int64_t d = b.d;
  std::vector<std::vector<uint8_t>> out(P);
  for (int64_t i = 0; i < b.local_rows(); ++i) {
    if (!b.valid[i]) continue;
    const int64_t row = b.rows.begin + i;
    auto& buf = out[home[i] % P];
    put_bytes(buf, &home[i], 1);
    put_bytes(buf, &row, 1);
    put_bytes(buf, b.x.data() + i * d, d);
  }
  auto in = alltoallv(out, comm);
  out.clear();
  struct Entry { int32_t list; int64_t row; const uint8_t* at; };
  std::vector<Entry> entries;
  const size_t rec = sizeof(int32_t) + sizeof(int64_t) + d * sizeof(float);
  for (int s = 0; s < P; ++s)
    for (size_t at = 0; at < in[s].size(); at += rec) {
      Entry e{0, 0, in[s].data() + at + sizeof(int32_t) + sizeof(int64_t)};
      get_bytes(get_bytes(in[s].data() + at, &e.list, 1), &e.row, 1);
      entries.push_back(e);
    }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& c) {
    return a.list < c.list || (a.list == c.list && a.row < c.row);
  });
  OwnedLists L;
  L.begin.assign(nlist + 1, 0);
  L.x.resize(entries.size() * d);
  L.row.resize(entries.size());
  for (size_t e = 0; e < entries.size(); ++e) {
    get_bytes(entries[e].at, L.x.data() + e * d, d);
    L.row[e] = entries[e].row;
    L.begin[entries[e].list + 1]++;
  }
  if (l2) {
    L.norms.resize(entries.size());
    row_norms(L.x.data(), int64_t(entries.size()), d, L.norms.data());
  }
  for (int64_t l = 0; l < nlist; ++l) L.begin[l + 1] += L.begin[l];
  L.index_rows();
  return L;
}

/// Queries a list owner received in one round, flat.
struct Queries {
  std::vector<int64_t> row;     ///< [nq] global row
  std::vector<int32_t> src;     ///< [nq] rank that asked
  std::vector<int64_t> lbegin;  ///< [nq + 1] offsets into lists
  std::vector<int32_t> lists;   ///< probe lists owned here, nearest first
  std::vector<float> x;         ///< [nq x d]
  int64_t size() const { return int64_t(row.size()); }
};

/// Sends rows [r0, r0+rn) of b with their probe lists pr [rn x np] to the
/// owners of those lists; returns what this rank received (collective).
Queries exchange_queries(const FeatureBlock& b, int64_t r0, int64_t rn, const std::vector<int32_t>& pr, int np,
                         Communicator& comm) {
  const int P = comm.size();
  const int64_t d = b.d;
  std::vector<std::vector<uint8_t>> out(P);
  std::vector<int32_t> mine;
  for (int64_t i = 0; i < rn; ++i) {
    if (!b.valid[r0 + i]) continue;
    const int64_t row = b.rows.begin + r0 + i;
    for (int o = 0; o < P; ++o) {
      mine.clear();
      for (int j = 0; j < np; ++j)
        if (pr[i * np + j] % P == o) mine.push_back(pr[i * np + j]);
      if (mine.empty()) continue;
      const int32_t cnt = int32_t(mine.size());
      put_bytes(out[o], &row, 1);
      put_bytes(out[o], &cnt, 1);
      put_bytes(out[o], mine.data(), mine.size());
      put_bytes(out[o], b.x.data() + (r0 + i) * d, d);
    }
  }
  auto in = alltoallv(out, comm);
  Queries q;
  q.lbegin.push_back(0);
  for (int s = 0; s < P; ++s) {
    const uint8_t* at = in[s].data();
    const uint8_t* end = at + in[s].size();
    while (at < end) {
      int64_t row = 0;
      int32_t cnt = 0;
      at = get_bytes(get_bytes(at, &row, 1), &cnt, 1);
      q.row.push_back(row);
      q.src.push_back(s);
      q.lists.resize(q.lists.size() + cnt);
      at = get_bytes(at, q.lists.data() + q.lists.size() - cnt, cnt);
      q.lbegin.push_back(int64_t(q.lists.size()));
      q.x.resize(q.x.size() + d);
      at = get_bytes(at, q.x.data() + q.x.size() - d, d);
    }
  }
  return q;
}

/// The received queries in the order they are searched and rescored: by
/// their nearest list (owned here), then global row. Neighbours in it share
/// lists, whose rows then stay in cache.
std::vector<int64_t> search_order(const Queries& q) {
  std::vector<int64_t> order(size_t(q.size()));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
    const int32_t la = q.lists[q.lbegin[a]], lc = q.lists[q.lbegin[c]];
    return la < lc || (la == lc && q.row[a] < q.row[c]);
  });
  return order;
}

/// Queries per batch of the scan: each list is one product with the batch's
/// queries that probe it, so the batch must hold enough of them for a GEMM
/// of some height: ~40 queries a list (N=1M, 4000 lists, nprobe 5: 4096
/// queries gave 5 a list and a scan of 11.0 s; 32768, 41 a list, 6.6-7.0 s;
/// 65536, 6.7 s). Between 4096 and 65536 queries (the batch's lists of
/// candidates, [batch x k], stay small), and at least two batches a thread
/// where the round has that many.
int64_t scan_batch(const Queries& q, const OwnedLists& L) {
  const int64_t nq = q.size(), pairs = q.lbegin.empty() ? 0 : q.lbegin.back();
  int64_t lists = 0;
  for (size_t l = 0; l + 1 < L.begin.size(); ++l) lists += L.begin[l + 1] > L.begin[l];
  if (nq == 0 || pairs == 0) return 4096;
  const int64_t want = 40 * std::max<int64_t>(lists, 1) * nq / pairs;  // 40 x lists / (lists a query)
  const int64_t spread = nq / (2 * std::max(1, omp_get_max_threads()));
  return std::clamp<int64_t>(std::min(want, spread), 4096, 65536);
}

/// Top-k of every received query over its probe lists (self excluded), in
/// arrival order. Queries are taken in `order` (search_order), in batches,
/// so the queries of a batch share lists and each (batch, list) is one
/// search kernel call (its rows: the list's rows, held by the kernel for the
/// scan). The calls come from several threads, in batches of scan_batch()
/// queries; a kernel with a cost per call (a GPU's:
/// SearchKernel::min_call_rows) gets batches of that many from one thread,
/// so that each list is searched by few, large calls.
TopK search_lists(const Queries& q, const std::vector<int64_t>& order, const OwnedLists& L, int64_t d, int k,
                  bool l2) {
  const int64_t nq = q.size();
  // The heaps in that order too (row o: query order[o]): a batch's heaps
  // are one block of memory, not scattered over the round's [nq x k].
  TopK top(nq, k);
  auto kernel = make_search();
  // The lists stay where the kernel computes (a GPU) for the whole scan:
  // each list meets many query batches, and is uploaded once, not per call.
  const HeldRows held(*kernel, L.x.data(), int64_t(L.row.size()), d);
  const Metric metric = l2 ? Metric::l2 : Metric::inner_product;
  const int64_t per_call = kernel->min_call_rows(), batch = std::max<int64_t>(scan_batch(q, L), per_call);
#pragma omp parallel if (per_call == 0)
  {
    std::vector<float> bx;
    std::vector<int64_t> ids, slots;
    std::vector<std::pair<int32_t, int64_t>> pairs;
#pragma omp for schedule(dynamic, 1)
    for (int64_t b0 = 0; b0 < nq; b0 += batch) {
      pairs.clear();
      for (int64_t o = b0; o < std::min(nq, b0 + batch); ++o)
        for (int64_t t = q.lbegin[order[o]]; t < q.lbegin[order[o] + 1]; ++t) pairs.emplace_back(q.lists[t], o);
      std::sort(pairs.begin(), pairs.end());
      for (size_t a = 0; a < pairs.size();) {
        size_t z = a;
        while (z < pairs.size() && pairs[z].first == pairs[a].first) ++z;
        const int64_t lb = L.begin[pairs[a].first], ln = L.begin[pairs[a].first + 1] - lb, m = int64_t(z - a);
        if (ln > 0) {
          bx.resize(m * d);
          ids.resize(m);
          slots.resize(m);
          for (int64_t t = 0; t < m; ++t) {
            slots[t] = pairs[a + t].second;
            const int64_t i = order[slots[t]];
            ids[t] = q.row[i];
            std::copy_n(q.x.data() + i * d, d, bx.data() + t * d);
          }
          const SearchBase base{L.x.data() + lb * d, ln, 0, L.row.data() + lb, l2 ? L.norms.data() + lb : nullptr,
                                nullptr, true};
          kernel->search({bx.data(), m, d, 0, ids.data(), slots.data(), false}, base, metric, top);
        }
        a = z;
      }
    }
  }
  if (const std::string t = kernel->time_report(); !t.empty())
    log::info("knn ivf: kernel time (", kernel->name(), "): ", t);  // this rank's (the line's r<rank>)
  TopK out(nq, k);  // back in arrival order
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < nq; ++o) {
    std::copy_n(top.scores(o), k, out.scores_mut(order[o]));
    std::copy_n(top.indices(o), k, out.indices_mut(order[o]));
  }
  return out;
}

/// Each received query's candidates in `top` rescored in double from the
/// rows this rank holds (graph_value.h's exact_score), as exact mode
/// rescores its picks: the kernel's float l2 score 2<q,b> - |b|^2 cancels
/// against |q|^2, and a copy's distance was stored as 4 instead of 0 on
/// pixel features. [queries x k]; an empty slot keeps its score.
std::vector<float> rescore(const Queries& q, const std::vector<int64_t>& order, const OwnedLists& L, const TopK& top,
                           int64_t d, int k, bool l2) {
  std::vector<float> out(size_t(q.size()) * size_t(k));
  // In search order: the candidates' rows stay in cache (in arrival order
  // they were read from memory, 15% of the IVF search's time at N=200,000).
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < q.size(); ++o) {
    const int64_t i = order[size_t(o)];
    for (int j = 0; j < k; ++j) {
      const int64_t g = top.indices(i)[j];
      float& s = out[size_t(i) * size_t(k) + size_t(j)];
      s = top.scores(i)[j];
      if (g == std::numeric_limits<int64_t>::max()) continue;
      const int64_t at = L.position(g);  // in one of the query's lists here
      if (at >= 0) s = float(exact_score(q.x.data() + i * d, L.x.data() + at * d, d, l2));
    }
  }
  return out;
}

/// Partial results (scores rescored) back to the asking ranks, merged into `mine` (collective).
void return_results(const Queries& q, const TopK& top, const std::vector<float>& scores, const FeatureBlock& b, int k,
                    TopK& mine, Communicator& comm) {
  std::vector<std::vector<uint8_t>> out(comm.size());
  for (int64_t i = 0; i < q.size(); ++i) {
    auto& buf = out[q.src[i]];
    put_bytes(buf, &q.row[i], 1);
    put_bytes(buf, scores.data() + size_t(i) * size_t(k), k);
    put_bytes(buf, top.indices(i), k);
  }
  auto res = alltoallv(out, comm);
  std::vector<float> sc(k);
  std::vector<int64_t> ix(k);
  for (const auto& r : res)
    for (const uint8_t* at = r.data(); at < r.data() + r.size();) {
      int64_t row = 0;
      at = get_bytes(get_bytes(get_bytes(at, &row, 1), sc.data(), k), ix.data(), k);
      for (int j = 0; j < k; ++j)
        if (ix[j] != std::numeric_limits<int64_t>::max()) mine.push(row - b.rows.begin, sc[j], ix[j]);
    }
}

/// The graph rows from the merged heaps: sorted best first, l2 distances.
KnnGraph finish_graph(const FeatureBlock& b, const TopK& mine, int64_t k, bool l2) {
  const int64_t n = b.local_rows();
  KnnGraph gr;
  gr.k = k;
  gr.rows = b.rows;
  gr.indices.assign(static_cast<size_t>(n * k), -1);
  gr.values.assign(static_cast<size_t>(n * k), 0.0f);
  std::vector<int> order(k);
  for (int64_t q = 0; q < n; ++q) {
    if (!b.valid[q]) continue;
    std::iota(order.begin(), order.end(), 0);
    const float* s = mine.scores(q);
    const int64_t* ix = mine.indices(q);
    std::sort(order.begin(), order.end(), [&](int a, int c) { return TopK::better(s[a], ix[a], s[c], ix[c]); });
    for (int64_t j = 0; j < k; ++j) {
      const bool filled = ix[order[j]] != std::numeric_limits<int64_t>::max();
      gr.indices[q * k + j] = filled ? ix[order[j]] : -1;
      gr.values[q * k + j] = filled ? graph_value(s[order[j]], l2) : 0.0f;
    }
  }
  return gr;
}

/// Says how many valid rows found fewer than k neighbours in their probed
/// lists (their lists end in -1, which otherwise marks invalid rows).
void warn_short_lists(const FeatureBlock& b, const KnnGraph& g, Communicator& comm) {
  int64_t rows = 0, missing = 0;
  for (int64_t q = 0; q < b.local_rows(); ++q) {
    if (!b.valid[q]) continue;
    const int64_t m = std::count(g.indices.begin() + q * g.k, g.indices.begin() + (q + 1) * g.k, int64_t(-1));
    rows += m > 0;
    missing += m;
  }
  rows = comm.sum(rows);
  missing = comm.sum(missing);
  if (rows > 0 && comm.rank() == 0)
    log::warn("knn ivf: ", rows, " valid rows found fewer than k=", g.k, " neighbours in their probed lists (", missing,
              " entries are -1, similarity 0): raise --nprobe or --target-recall");
}

/// nprobe: given, or the smallest reaching the target recall on a sample.
int choose_nprobe(const FeatureBlock& b, const std::vector<float>& cent, int64_t nlist, const KnnParams& p,
                  Communicator& comm) {
  if (p.nprobe > 0) {
    const int np = int(std::min<int64_t>(nlist, p.nprobe));
    log::info("knn ivf: ", nlist, " lists, nprobe ", np,
              np < p.nprobe ? fmt(" (given ", p.nprobe, ", capped at the list count: every list is searched)")
                            : std::string(" (given)"));
    return np;
  }
  if (p.tune_sample == 0) {
    const int np = int(std::min<int64_t>(nlist, std::max<int64_t>(16, nlist / 16)));
    log::info("knn ivf: ", nlist, " lists, nprobe ", np, " (max(16, nlist/16): tune_sample is 0)");
    return np;
  }
  auto t0 = Clock::now();
  ivf::Tuned t = ivf::tune_nprobe(b, cent, nlist, p, comm);
  log::info("knn ivf: ", nlist, " lists, nprobe ", t.nprobe, ": the smallest whose predicted recall@", p.k, " (",
            t.predicted_recall, " on ", t.sample_rows, " sampled rows) reaches ",
            p.target_recall, " (", since(t0), " s)");
  // Each query then scans ~nprobe/nlist of the rows, at a lower GEMM rate
  // than exact mode's (small per-list GEMMs): past ~10% IVF gains little.
  if (t.nprobe * 10 > nlist && comm.rank() == 0)  // the same on every rank: said once
    log::warn("knn ivf: nprobe ", t.nprobe, " of ", nlist, " lists: each query scans ~",
              100.0 * double(t.nprobe) / double(nlist), "% of the rows; on data this weakly clustered IVF is ",
              "not much faster than --mode exact (or lower --target-recall)");
  return t.nprobe;
}

/// The coarse centroids [nlist x d]: knn.nlist (or 4 sqrt(valid rows)), at
/// least 8 valid rows a list, or the lists of knn.centroids.
std::vector<float> coarse_lists(FeatureBlock& b, const KnnParams& p, int64_t n_valid, bool l2, Communicator& comm) {
  const int64_t d = b.d;
  auto t0 = Clock::now();
  int64_t nlist = p.nlist > 0 ? p.nlist : std::max<int64_t>(1, std::llround(4.0 * std::sqrt(double(n_valid))));
  nlist = std::min(nlist, std::max<int64_t>(1, n_valid / 8));
  if (p.nlist > nlist)  // said, not silently changed
    log::info("knn ivf: knn.nlist=", p.nlist, " lowered to ", nlist, " (at least 8 valid rows per list; ", n_valid,
              " valid rows)");
  std::vector<float> cent = coarse_centroids(b, p, nlist, !l2, n_valid, comm);
  if (!p.centroids.empty() && p.nlist > 0 && p.nlist != int64_t(cent.size() / d) && comm.rank() == 0)
    log::warn("knn ivf: knn.nlist=", p.nlist, " ignored: the lists are the ", cent.size() / d, " centroids of ",
              p.centroids);
  log::info("knn ivf: ", cent.size() / d, " coarse lists ready (", since(t0), " s)");
  return cent;
}

/// Every local row's k best (rescored) neighbours from its np probed lists,
/// searched in rounds by the lists' owners (collective).
TopK search_rounds(FeatureBlock& b, const std::vector<float>& cent, int np, const KnnParams& p, int64_t n_valid,
                   Communicator& comm) {
  const int64_t n = b.local_rows(), d = b.d, k = p.k, nlist = int64_t(cent.size() / d);
  const bool l2 = p.metric == "l2";
  // One product of the rows with the centroids gives each row its home list
  // and, when nprobe <= 16, its nprobe nearest lists, which the rounds take
  // instead of a second product as large (N=1M, D=128: 45.7 -> 42.5 s). The
  // lists come in one total order (TopK), so the first is the home
  // (KnnIvf.FewerProbesAreAPrefixOfMore). A larger nprobe keeps the k = 1
  // product (its argmax path) and computes the probes round by round.
  const int kept = np <= 16 ? np : 1;
  std::vector<int32_t> nearest = ivf::nearest_lists(b.x.data(), n, d, b.rows.begin, cent, nlist, kept, l2);
  std::vector<int32_t> home(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) home[size_t(i)] = nearest[size_t(i * kept)];
  OwnedLists lists = distribute_lists(b, home, nlist, l2, comm);
  home = {};
  if (np > kept) nearest = {};
  auto probes = [&](int64_t r0, int64_t rn) {  // [rn x np]
    if (np > kept) return ivf::nearest_lists(b.x.data() + r0 * d, rn, d, b.rows.begin + r0, cent, nlist, np, l2);
    return std::vector<int32_t>(nearest.begin() + r0 * np, nearest.begin() + (r0 + rn) * np);  // kept == np
  };

  // Rounds of at most `chunk` local queries: memory stays bounded by the
  // round, not by N * nprobe, nor by the rank count (ivf_parts.h).
  const int64_t chunk = ivf::round_queries(np, comm.size());
  const int64_t rounds = comm.max((n + chunk - 1) / chunk);
  TopK mine(n, static_cast<int>(k));
  Progress progress("knn ivf", "rows", n * comm.size(), comm.rank() == 0);
  double phase[5] = {0, 0, 0, 0, 0};  // probe lists, send queries, scan, rescore, return: this rank's seconds
  auto lap = [&](int i, Clock::time_point& t) { phase[i] += since(t), t = Clock::now(); };
  for (int64_t r = 0; r < rounds; ++r) {
    const int64_t r0 = std::min(n, r * chunk), rn = std::min(chunk, n - r0);
    auto tp = Clock::now();
    auto pr = probes(r0, rn);
    lap(0, tp);
    Queries q = exchange_queries(b, r0, rn, pr, np, comm);
    lap(1, tp);
    // k + 4 candidates per query and owner, as exact mode keeps: float
    // near-ties at the k-th place come out in another order for another
    // batching of the queries (another rank count); the double rescoring
    // then puts them in one order.
    const int cap = static_cast<int>(std::min<int64_t>(k + 4, n_valid - 1));
    const std::vector<int64_t> order = search_order(q);
    TopK top = search_lists(q, order, lists, d, cap, l2);
    lap(2, tp);
    const std::vector<float> scores = rescore(q, order, lists, top, d, cap, l2);
    lap(3, tp);
    return_results(q, top, scores, b, cap, mine, comm);
    lap(4, tp);
    progress.update((r0 + rn) * comm.size());  // rank 0's share times P: ranks hold equal shares
  }
  progress.finish();
  log::debug("knn ivf: this rank's rounds: probe lists ", phase[0], " s, send queries ", phase[1], " s, scan lists ",
             phase[2], " s, rescore ", phase[3], " s, results home ", phase[4], " s");
  return mine;
}

}  // namespace

KnnGraph knn_ivf(FeatureBlock& b, const KnnParams& p, Communicator& comm) {
  p.validate();
  const int64_t n_valid = count_valid(b, comm);
  require(p.k < n_valid, "knn: k=", p.k, " must be below the number of valid rows (", n_valid, " of ", b.n_total, ")");
  const bool l2 = p.metric == "l2";
  if (!l2) normalize_rows(b);
  auto t0 = Clock::now();
  const std::vector<float> cent = coarse_lists(b, p, n_valid, l2, comm);
  const int64_t nlist = int64_t(cent.size() / b.d);
  // nprobe first: the tuning finds the lists of the rows it needs itself.
  const int np = choose_nprobe(b, cent, nlist, p, comm);
  auto ts = Clock::now();
  const TopK mine = search_rounds(b, cent, np, p, n_valid, comm);
  log::debug("knn ivf: search rounds ", since(ts), " s");
  KnnGraph gr = finish_graph(b, mine, p.k, l2);
  warn_short_lists(b, gr, comm);
  gr.nprobe = np;
  gr.nlist = nlist;
  gr.seconds_search = since(t0);
  if (p.recall_sample > 0) {
    auto sample = keyed_sample(b, p.recall_sample, uint64_t(p.seed), 0x5ec, comm);
    gr.recall = knn_recall(b, gr, sample, p, comm);
    gr.recall_rows = int64_t(sample.size());
  }
  return gr;
}

double knn_recall(const FeatureBlock& b, const KnnGraph& g, const std::vector<int64_t>& sample, const KnnParams& p,
                  Communicator& comm) {
  const int64_t k = g.k, m = int64_t(sample.size());
  if (m == 0) return -1;
  auto qx = gather_rows(b, sample, comm);
  auto truth = ivf::exact_sample_topk(b, sample, qx, p, comm);
  double hits = 0, total = 0;
  for (int64_t q = 0; q < m; ++q) {
    const int64_t row = sample[q];
    if (row < g.rows.begin || row >= g.rows.end) continue;
    const int64_t* got = &g.indices[(row - g.rows.begin) * k];
    for (int64_t j = 0; j < k; ++j) hits += std::find(got, got + k, truth[q * k + j]) != got + k;
    total += double(k);
  }
  hits = comm.sum(hits);
  total = comm.sum(total);
  return total > 0 ? hits / total : -1;
}

namespace ivf {
int64_t round_queries(int np, int ranks) {
  const int64_t owners = std::max<int64_t>(1, std::min<int64_t>(np, ranks));
  return std::clamp<int64_t>((int64_t(1) << 21) / (int64_t(std::max(np, 1)) * owners), 4096, 262144);
}
}  // namespace ivf

}  // namespace distclust
