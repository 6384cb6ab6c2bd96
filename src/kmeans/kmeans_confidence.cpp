#include "kernels/compute_target.h"
#include "kmeans/kmeans_confidence.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "comm/root.h"
#include "distclust/search.h"
#include "kernels/rows.h"
#include "extract/row_centre.h"
#include "kmeans/kmeans_file.h"

namespace distclust {

const char* const kMarginDefinition =
    "k-means margin: 1 - sqrt(d1/d2), d1 = squared distance to the assigned centroid, "
    "d2 = to the nearest other centroid (1 = on its centroid, 0 = on the boundary)";

float margin_confidence(float d1, float d2) {
  if (!(d2 > 0)) return 0.f;  // also NaN
  if (std::isinf(d2)) return 1.f;
  float c = 1.f - std::sqrt(std::max(d1, 0.f) / d2);
  return std::clamp(c, 0.f, 1.f);
}

void kmeans_margins(const float* x, const int64_t* assign, int64_t n, int64_t d, int64_t first_row, const float* c,
             const float* cn, int64_t k, float* out) {
  TopK top(n, int(std::min<int64_t>(k, 2)));
  make_search()->search({x, n, d, first_row}, {c, k, 0, nullptr, cn, nullptr, false}, Metric::l2, top);
  std::vector<float> xn(static_cast<size_t>(n));
  row_norms(x, n, d, xn.data());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = assign[i];
    if (a < 0) {
      out[i] = 0.f;
      continue;
    }
    // Squared distance |x|^2 - score of each of the two nearest.
    float d1 = std::numeric_limits<float>::infinity(), d2 = d1;
    for (int s = 0; s < top.cap(); ++s) {
      const float dist = std::max(0.f, xn[i] - top.scores(i)[s]);
      if (top.indices(i)[s] == a)
        d1 = dist;
      else
        d2 = std::min(d2, dist);
    }
    out[i] = margin_confidence(d1, d2);
  }
}

std::vector<float> kmeans_margin_confidence(const std::string& features, const std::string& kmeans, Communicator& comm) {
  // Each rank reads its own rows through its own handle: independent reads,
  // no collective calls that every rank would have to make equally often.
  KMeansModel km = read_kmeans_model(kmeans);
  LocalCommunicator self;
  H5Reader fr(features, self), kr(kmeans, self);
  DatasetInfo fi = fr.info("/features"), ai = kr.info("/assign");
  require(fi.shape.size() == 2, features, ": /features is ", fi.describe(), " (expected 2-D)");
  const int64_t n = fi.shape[0], d = fi.shape[1], k = km.k;
  require(km.d == d, features, ": /features is ", fi.describe(), " but ", kmeans, ": /centroids is ", k, " x ", km.d,
          " (dimensions differ)");
  require(ai.shape.size() == 1 && ai.shape[0] == n, features, ": /features has ", n, " rows but ", kmeans,
          ": /assign is ", ai.describe());
  std::vector<float>& c = km.centroids;
  if (km.spherical) normalize_rows(c.data(), k, d);
  subtract_centre(c.data(), k, d, km.centre);  // as the run did (extract/row_centre.h)
  std::vector<float> cn(static_cast<size_t>(k));
  row_norms(c.data(), k, d, cn.data());
  RowRange mine = row_block(n, comm.rank(), comm.size());
  std::vector<float> out(static_cast<size_t>(mine.size()));
  // Pieces of about 64 MiB of features.
  const int64_t piece = std::clamp<int64_t>((int64_t(1) << 24) / std::max<int64_t>(d, 1), 256, 65536);
  for (int64_t b = mine.begin; b < mine.end; b += piece) {
    RowRange r{b, std::min(mine.end, b + piece)};
    std::vector<float> x = fr.read_rows<float>("/features", r);
    std::vector<int64_t> a = kr.read_rows<int64_t>("/assign", r);
    for (int64_t i = 0; i < r.size(); ++i)
      require(a[i] < k, kmeans, ": /assign[", r.begin + i, "] = ", a[i], " but /centroids has ", k, " rows");
    if (km.spherical) normalize_rows(x.data(), r.size(), d);
    subtract_centre(x.data(), r.size(), d, km.centre);
    kmeans_margins(x.data(), a.data(), r.size(), d, r.begin, c.data(), cn.data(), k, out.data() + (b - mine.begin));
  }
  return gather_rows_to_root(comm, out, n);
}

}  // namespace distclust
