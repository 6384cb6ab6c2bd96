// The fuzzy simplicial set of the kNN graph, as umap-learn builds it
// (smooth_knn_dist, compute_membership_strengths, fuzzy union), with each
// rank holding its rows and the reverse edges exchanged with their owners.
#include <algorithm>
#include <cmath>

#include "comm/alltoall.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "embed/embed.h"
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
  int64_t other;  ///< global row of the edge's source
  float w;
};

/// Reverse edges sent to the owners of their targets: (target, source, w).
std::vector<std::vector<InEdge>> exchange_reverse(int64_t n, RowRange rows, const std::vector<int64_t>& src,
                                                  const std::vector<int64_t>& dst, const std::vector<float>& w,
                                                  Communicator& comm) {
  const int P = comm.size();
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
  auto got = alltoallv(send, comm);
  std::vector<std::vector<uint8_t>>().swap(send);
  std::vector<std::vector<InEdge>> in(static_cast<size_t>(rows.size()));
  constexpr size_t kRec = 2 * sizeof(int64_t) + sizeof(float);
  for (const auto& buf : got) {
    require(buf.size() % kRec == 0, "embed: a reverse-edge message of ", buf.size(), " bytes is not whole records");
    for (const uint8_t* at = buf.data(); at < buf.data() + buf.size();) {
      int64_t rec[2];
      float x = 0;
      at = get_bytes(at, rec, 2);
      at = get_bytes(at, &x, 1);
      require(rec[0] >= rows.begin && rec[0] < rows.end, "embed: received an edge to row ", rec[0],
              " outside this rank's rows");
      in[size_t(rec[0] - rows.begin)].push_back({rec[1], x});
    }
  }
  return in;
}

}  // namespace

FuzzyGraph fuzzy_union(int64_t n, RowRange rows, const std::vector<int64_t>& src, const std::vector<int64_t>& dst,
                       const std::vector<float>& w, Communicator& comm) {
  auto in = exchange_reverse(n, rows, src, dst, w, comm);
  const int64_t nloc = rows.size();
  // Out-edges by local row (src is grouped by row as knn.h5 is, but do not rely on it).
  std::vector<std::vector<InEdge>> out(static_cast<size_t>(nloc));
  for (size_t e = 0; e < src.size(); ++e) out[size_t(src[e])].push_back({dst[e], w[e]});
  FuzzyGraph g;
  g.n = n;
  g.rows = rows;
  g.offsets.assign(size_t(nloc) + 1, 0);
  auto by_other = [](const InEdge& a, const InEdge& b) { return a.other < b.other || (a.other == b.other && a.w > b.w); };
  for (int64_t i = 0; i < nloc; ++i) {
    auto& o = out[size_t(i)];
    auto& r = in[size_t(i)];
    std::sort(o.begin(), o.end(), by_other);
    std::sort(r.begin(), r.end(), by_other);
    // Merge the two sorted lists; a repeated (row, other) keeps its largest weight.
    size_t a = 0, b = 0;
    while (a < o.size() || b < r.size()) {
      const int64_t j = std::min(a < o.size() ? o[a].other : INT64_MAX, b < r.size() ? r[b].other : INT64_MAX);
      double wo = 0, wi = 0;
      for (; a < o.size() && o[a].other == j; ++a) wo = std::max<double>(wo, o[a].w);
      for (; b < r.size() && r[b].other == j; ++b) wi = std::max<double>(wi, r[b].w);
      const double u = wo + wi - wo * wi;
      if (u > 0) {
        g.cols.push_back(j);
        g.weights.push_back(float(u));
      }
    }
    g.offsets[size_t(i) + 1] = int64_t(g.cols.size());
    std::vector<InEdge>().swap(o);
    std::vector<InEdge>().swap(r);
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
  double dsum = 0;
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
      dsum += d;
      ++dcount;
    }
  dsum = comm.sum(dsum);
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
  FuzzyGraph g = fuzzy_union(n, rows, src, dst, w, comm);
  g.metric = metric;
  g.k = k;
  return g;
}

}  // namespace distclust
