// The fuzzy simplicial set of the kNN graph, as umap-learn builds it
// (smooth_knn_dist, compute_membership_strengths, fuzzy union), with each
// rank holding its rows and the reverse edges exchanged with their owners.
#include <algorithm>
#include <cmath>
#include <utility>

#include "comm/alltoall.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "embed/embed.h"
#include "kernels/exact_total.h"
#include "io/h5store.h"

namespace distclust {

RhoSigma smooth_knn_row(const float* d, int64_t k, double mean_all) {
  // umap-learn: local_connectivity 1, bandwidth 1, 64 bisection steps,
  // tolerance 1e-5, sigma floored at MIN_K_DIST_SCALE (1e-3) x mean distance.
  RhoSigma out;
  double rho = 0, sum = 0;
  int64_t m = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (d[j] < 0) continue;
    sum += d[j];
    ++m;
    if (d[j] > 0 && (rho == 0 || d[j] < rho)) rho = d[j];
  }
  out.rho = rho;
  const double target = std::log2(double(m + 1));
  double lo = 0, hi = INFINITY, mid = 1;
  for (int it = 0; it < 64; ++it) {
    double psum = 0;
    for (int64_t j = 0; j < k; ++j) {
      if (d[j] < 0) continue;
      const double t = d[j] - rho;
      psum += t > 0 ? std::exp(-t / mid) : 1.0;
    }
    if (std::fabs(psum - target) < 1e-5) break;
    if (psum > target) {
      hi = mid;
      mid = (lo + hi) / 2;
    } else {
      lo = mid;
      mid = std::isinf(hi) ? mid * 2 : (lo + hi) / 2;
    }
  }
  // umap's mean includes the row's own column (distance 0): k + 1 entries.
  const double floor = 1e-3 * (rho > 0 ? sum / double(m + 1) : mean_all);
  out.sigma = std::max(mid, floor);
  return out;
}

namespace {

struct InEdge {
  int64_t other;  ///< global row of the edge's other end
  float w;
};

/// Edges grouped by local row in flat arrays (row i: at[off[i]..off[i+1])).
/// Per-row vectors cost 24 bytes a row and up to twice their edges in
/// growth: with them the union held ~98 bytes per kNN edge at its peak
/// (N=80k, k=50: 344 MB of heap for 48 MB of graph).
struct Grouped {
  std::vector<int64_t> off;
  std::vector<InEdge> at;
};

/// Groups n_edges edges by row (row(e), edge(e)) with a counting sort.
template <class Row, class Edge>
Grouped group_by_row(int64_t rows, int64_t n_edges, Row row, Edge edge) {
  Grouped g;
  g.off.assign(size_t(rows) + 1, 0);
  for (int64_t e = 0; e < n_edges; ++e) ++g.off[size_t(row(e)) + 1];
  for (int64_t i = 0; i < rows; ++i) g.off[size_t(i) + 1] += g.off[size_t(i)];
  g.at.resize(size_t(n_edges));
  std::vector<int64_t> next(g.off.begin(), g.off.end() - 1);
  for (int64_t e = 0; e < n_edges; ++e) g.at[size_t(next[size_t(row(e))]++)] = edge(e);
  return g;
}

/// Reverse edges (target, source, w) packed for the owners of their targets.
std::vector<std::vector<uint8_t>> reverse_messages(int64_t n, RowRange rows, const std::vector<int64_t>& src,
                                                   const std::vector<int64_t>& dst, const std::vector<float>& w,
                                                   int P) {
  std::vector<int64_t> bounds(size_t(P) + 1);
  for (int r = 0; r <= P; ++r) bounds[r] = r < P ? row_block(n, r, P).begin : n;
  auto owner = [&](int64_t g) { return int(std::upper_bound(bounds.begin(), bounds.end(), g) - bounds.begin()) - 1; };
  std::vector<std::vector<uint8_t>> send(static_cast<size_t>(P));
  for (size_t e = 0; e < dst.size(); ++e) {
    const int64_t rec[2] = {dst[e], rows.begin + src[e]};
    auto& b = send[size_t(owner(dst[e]))];
    put_bytes(b, rec, 2);
    put_bytes(b, &w[e], 1);
  }
  return send;
}

/// The received reverse edges grouped by this rank's target rows.
Grouped group_received(const std::vector<std::vector<uint8_t>>& got, RowRange rows) {
  constexpr size_t kRec = 2 * sizeof(int64_t) + sizeof(float);
  std::vector<const uint8_t*> recs;  // one pointer a record: the counting sort reads them twice
  for (const auto& buf : got) {
    require(buf.size() % kRec == 0, "embed: a reverse-edge message of ", buf.size(), " bytes is not whole records");
    for (size_t o = 0; o < buf.size(); o += kRec) recs.push_back(buf.data() + o);
  }
  auto record = [&](int64_t e) {
    int64_t rec[2];
    float x = 0;
    get_bytes(get_bytes(recs[size_t(e)], rec, 2), &x, 1);
    require(rec[0] >= rows.begin && rec[0] < rows.end, "embed: received an edge to row ", rec[0],
            " outside this rank's rows");
    return std::make_pair(rec[0] - rows.begin, InEdge{rec[1], x});
  };
  return group_by_row(rows.size(), int64_t(recs.size()), [&](int64_t e) { return record(e).first; },
                      [&](int64_t e) { return record(e).second; });
}

}  // namespace

FuzzyGraph fuzzy_union(int64_t n, RowRange rows, std::vector<int64_t> src, std::vector<int64_t> dst,
                       std::vector<float> w, Communicator& comm) {
  const int64_t nloc = rows.size();
  std::vector<std::vector<uint8_t>> send = reverse_messages(n, rows, src, dst, w, comm.size());
  // Out-edges by local row (src is grouped by row as knn.h5 is, but do not rely on it).
  Grouped out = group_by_row(nloc, int64_t(src.size()), [&](int64_t e) { return src[size_t(e)]; },
                             [&](int64_t e) { return InEdge{dst[size_t(e)], w[size_t(e)]}; });
  std::vector<int64_t>().swap(src), std::vector<int64_t>().swap(dst);
  std::vector<float>().swap(w);
  std::vector<std::vector<uint8_t>> got = alltoallv(send, comm);
  std::vector<std::vector<uint8_t>>().swap(send);
  Grouped in = group_received(got, rows);
  std::vector<std::vector<uint8_t>>().swap(got);
  FuzzyGraph g;
  g.n = n;
  g.rows = rows;
  g.offsets.assign(size_t(nloc) + 1, 0);
  g.cols.reserve(out.at.size() + in.at.size());  // at most: no growth by doubling
  g.weights.reserve(out.at.size() + in.at.size());
  auto by_other = [](const InEdge& a, const InEdge& b) { return a.other < b.other || (a.other == b.other && a.w > b.w); };
  for (int64_t i = 0; i < nloc; ++i) {
    InEdge *o = out.at.data() + out.off[size_t(i)], *oe = out.at.data() + out.off[size_t(i) + 1];
    InEdge *r = in.at.data() + in.off[size_t(i)], *re = in.at.data() + in.off[size_t(i) + 1];
    std::sort(o, oe, by_other);
    std::sort(r, re, by_other);
    // Merge the two sorted lists; a repeated (row, other) keeps its largest weight.
    while (o < oe || r < re) {
      const int64_t j = std::min(o < oe ? o->other : INT64_MAX, r < re ? r->other : INT64_MAX);
      double wo = 0, wi = 0;
      for (; o < oe && o->other == j; ++o) wo = std::max<double>(wo, o->w);
      for (; r < re && r->other == j; ++r) wi = std::max<double>(wi, r->w);
      const double u = wo + wi - wo * wi;
      if (u > 0) {
        g.cols.push_back(j);
        g.weights.push_back(float(u));
      }
    }
    g.offsets[size_t(i) + 1] = int64_t(g.cols.size());
  }
  return g;
}

FuzzyGraph read_fuzzy_graph(const std::string& knn_path, int64_t n, RowRange rows, const std::vector<uint8_t>& valid,
                            Communicator& comm) {
  H5Reader kr(knn_path, comm);
  require(kr.has("/indices") && kr.has("/similarities"), "embed: ", knn_path,
          " has no /indices or /similarities: --knn takes the knn.h5 written by `distclust knn`");
  DatasetInfo ki = kr.info("/indices"), si = kr.info("/similarities");
  require(ki.shape.size() == 2 && ki.shape[1] >= 1 && si.shape == ki.shape && ki.integer(), "embed: ", knn_path,
          ": /indices is ", ki.describe(), " and /similarities ", si.describe(),
          ", expected both [N x k], /indices integers");
  require(ki.shape[0] == n, "embed: ", knn_path, " has ", ki.shape[0], " rows but the features have ", n,
          ": the kNN graph was not built from these features");
  const std::string metric = kr.has_attr("metric") ? kr.attr_string("metric") : "cosine";
  require(metric == "cosine" || metric == "l2", "embed: ", knn_path, " has metric '", metric,
          "', expected cosine or l2");
  const int64_t k = ki.shape[1];
  return fuzzy_graph_from_knn(kr.read_rows<int64_t>("/indices", rows), kr.read_rows<float>("/similarities", rows), k,
                              metric, n, rows, valid, comm, knn_path);
}

FuzzyGraph fuzzy_graph_from_knn(const std::vector<int64_t>& idx, std::vector<float> val, int64_t k,
                                const std::string& metric, int64_t n, RowRange rows, const std::vector<uint8_t>& valid,
                                Communicator& comm, const std::string& knn_path) {
  const int64_t nloc = rows.size();
  // Distances: cosine 1 - s (umap-learn's cosine distance, so the weights are
  // the ones umap-learn computes from the same graph); l2: sqrt of the squared
  // distance. -1 marks no edge (missing, self, out of range, invalid row).
  int64_t dcount = 0;
  for (int64_t i = 0; i < nloc; ++i)
    for (int64_t j = 0; j < k; ++j) {
      float& d = val[i * k + j];
      const int64_t v = idx[i * k + j];
      require(v >= -1 && v < n, "embed: ", knn_path, ": /indices row ", rows.begin + i, " column ", j, " holds ", v,
              ", outside [-1, ", n, ")");
      if (v < 0 || v == rows.begin + i || !valid[size_t(i)]) {
        d = -1;
        continue;
      }
      // A NaN would become distance 0 (std::max keeps its first argument),
      // the strongest edge there is: a damaged graph, so say where.
      require(std::isfinite(d), "embed: ", knn_path, ": /similarities row ", rows.begin + i, " column ", j, " holds ",
              d, ": a kNN graph's values are finite");
      d = metric == "cosine" ? std::max(0.0f, 1.0f - d) : std::sqrt(std::max(0.0f, d));
      ++dcount;
    }
  // Exact: the mean floors sigma of rows whose nearest neighbour is a
  // duplicate (rho 0), and summed in double over ranks it followed the rank
  // split (embed.h: the same layout for any rank count).
  const double dsum = exact_nonnegative_total(nloc * k, [&](int64_t e) { return double(val[size_t(e)]); }, comm);
  dcount = comm.sum(dcount);
  const double mean_all = dcount ? dsum / double(dcount) : 0.0;
  std::vector<int64_t> src, dst;
  std::vector<float> w;
  src.reserve(size_t(nloc * k));
  dst.reserve(size_t(nloc * k));
  w.reserve(size_t(nloc * k));
  for (int64_t i = 0; i < nloc; ++i) {
    const float* d = val.data() + i * k;
    const RhoSigma rs = smooth_knn_row(d, k, mean_all);
    for (int64_t j = 0; j < k; ++j) {
      if (d[j] < 0) continue;
      const double t = d[j] - rs.rho;
      src.push_back(i);
      dst.push_back(idx[i * k + j]);
      w.push_back(t <= 0 || rs.sigma == 0 ? 1.0f : float(std::exp(-t / rs.sigma)));
    }
  }
  FuzzyGraph g = fuzzy_union(n, rows, std::move(src), std::move(dst), std::move(w), comm);
  g.metric = metric;
  g.k = k;
  return g;
}

}  // namespace distclust
