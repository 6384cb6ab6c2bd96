// The report's own 2-D map when the run has none: the embed stage's UMAP
// layout (embed/embed.h) of a keyed sample of rows, on rank 0 alone, with
// the sample's own exact cosine kNN graph (k = 15, umap-learn's default).
#include <algorithm>
#include <limits>

#include "kernels/compute_target.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "distclust/search.h"
#include "distclust/topk.h"
#include "embed/embed.h"
#include "io/h5store.h"
#include "kernels/rows.h"
#include "report/report_map.h"

namespace distclust::report {

std::vector<float> compute_map_xy(const std::string& features, const std::vector<int64_t>& rows, int64_t seed) {
  LocalCommunicator self;
  const int64_t m = int64_t(rows.size());
  FeatureBlock b;
  {
    H5Reader r(features, self);
    b.d = r.info("/features").shape[1];
    b.x.reserve(size_t(m * b.d));
    for (size_t a = 0; a < rows.size();) {  // runs of consecutive rows, one read each
      size_t e = a + 1;
      while (e < rows.size() && rows[e] == rows[e - 1] + 1) ++e;
      const std::vector<float> part = r.read_rows<float>("/features", RowRange{rows[a], rows[e - 1] + 1});
      b.x.insert(b.x.end(), part.begin(), part.end());
      a = e;
    }
  }
  b.n_total = m;
  b.rows = RowRange{0, m};
  b.labels.assign(size_t(m), -1);
  b.valid.assign(size_t(m), 1);
  normalize_rows(b.x.data(), m, b.d);
  // The sample's kNN graph: exact, by cosine similarity.
  const int k = int(std::min<int64_t>(15, m - 1));
  require(k >= 1, "report: map of ", m, " rows: too few to embed");
  TopK top(m, k);
  SearchBase base{b.x.data(), m, 0, nullptr, nullptr, nullptr, true};
  make_search()->search(SearchQueries{b.x.data(), m, b.d, 0}, base, Metric::inner_product, top);
  std::vector<int64_t> idx(size_t(m * k));
  std::vector<float> sim(size_t(m * k));
  for (int64_t i = 0; i < m; ++i) {
    std::vector<std::pair<float, int64_t>> s;
    for (int j = 0; j < k; ++j) s.emplace_back(-top.scores(i)[j], top.indices(i)[j]);
    std::sort(s.begin(), s.end());
    for (int j = 0; j < k; ++j) {
      idx[size_t(i * k + j)] = s[size_t(j)].second == std::numeric_limits<int64_t>::max() ? -1 : s[size_t(j)].second;
      sim[size_t(i * k + j)] = -s[size_t(j)].first;
    }
  }
  FuzzyGraph g = fuzzy_graph_from_knn(idx, sim, k, "cosine", m, RowRange{0, m}, b.valid, self, "the map sample");
  EmbedParams ep;
  ep.dim = 2;
  ep.seed = seed;
  ep.checkpoint_every = 0;
  std::vector<float> y = pca_init(b, 2, true, uint64_t(seed), self);
  embed_layout(g, ep, b.valid, y, self, "", "");
  return y;
}

}  // namespace distclust::report
