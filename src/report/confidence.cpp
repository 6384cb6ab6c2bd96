#include "report/confidence.h"

#include <cblas.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "distclust/h5store.h"
#include "report/root_only.h"

namespace distclust::report {

const char* const kMarginDefinition =
    "k-means margin: 1 - sqrt(d1/d2), d1 = squared distance to the assigned centroid, "
    "d2 = to the nearest other centroid (1 = on its centroid, 0 = on the boundary)";

float margin_confidence(float d1, float d2) {
  if (!(d2 > 0)) return 0.f;  // also NaN
  if (std::isinf(d2)) return 1.f;
  float c = 1.f - std::sqrt(std::max(d1, 0.f) / d2);
  return std::clamp(c, 0.f, 1.f);
}

namespace {

void normalise(float* x, int64_t rows, int64_t d) {
  for (int64_t i = 0; i < rows; ++i) {
    float* r = x + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += double(r[j]) * r[j];
    if (s > 0) {
      float inv = static_cast<float>(1.0 / std::sqrt(s));
      for (int64_t j = 0; j < d; ++j) r[j] *= inv;
    }
  }
}

// Margin of rows x [n x d] against centroids c [k x d] with norms cn [k].
void margins(const float* x, const int64_t* assign, int64_t n, int64_t d, const float* c, const float* cn, int64_t k,
             float* out) {
  const int64_t tile = 256;
#pragma omp parallel
  {
    std::vector<float> dots(static_cast<size_t>(tile * k));
#pragma omp for schedule(dynamic)
    for (int64_t t0 = 0; t0 < n; t0 += tile) {
      int64_t rows = std::min(tile, n - t0);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(k), int(d), 1.f, x + t0 * d, int(d), c,
                  int(d), 0.f, dots.data(), int(k));
      for (int64_t i = 0; i < rows; ++i) {
        int64_t a = assign[t0 + i];
        if (a < 0) {
          out[t0 + i] = 0.f;
          continue;
        }
        const float* xi = x + (t0 + i) * d;
        float xn = 0;
        for (int64_t j = 0; j < d; ++j) xn += xi[j] * xi[j];
        const float* di = dots.data() + i * k;
        float d1 = std::max(0.f, xn - 2 * di[a] + cn[a]);
        float d2 = std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < k; ++j)
          if (j != a) d2 = std::min(d2, std::max(0.f, xn - 2 * di[j] + cn[j]));
        out[t0 + i] = margin_confidence(d1, d2);
      }
    }
  }
}

}  // namespace

bool kmeans_is_spherical(const std::string& kmeans, Communicator&) {
  LocalCommunicator self;
  H5Reader r(kmeans, self);
  if (!r.has_attr("params")) return false;
  try {
    YAML::Node y = YAML::Load(r.attr_string("params"));
    if (y["kmeans"] && y["kmeans"]["spherical"]) return y["kmeans"]["spherical"].as<bool>();
  } catch (const YAML::Exception& e) {
    throw Error(fmt(kmeans, ": the params attribute is not valid YAML (", e.what(), ")"));
  }
  return false;
}

std::vector<float> kmeans_margin_confidence(const std::string& features, const std::string& kmeans, bool spherical,
                                            Communicator& comm) {
  // Each rank reads its own rows through its own handle: independent reads,
  // no collective calls that every rank would have to make equally often.
  LocalCommunicator self;
  H5Reader fr(features, self), kr(kmeans, self);
  DatasetInfo fi = fr.info("/features"), ci = kr.info("/centroids"), ai = kr.info("/assign");
  require(fi.shape.size() == 2 && ci.shape.size() == 2, features, ": /features is ", fi.describe(), " and ", kmeans,
          ": /centroids is ", ci.describe(), " (expected 2-D)");
  const int64_t n = fi.shape[0], d = fi.shape[1], k = ci.shape[0];
  require(ci.shape[1] == d, features, ": /features is ", fi.describe(), " but ", kmeans, ": /centroids is ",
          ci.describe(), " (dimensions differ)");
  require(ai.shape.size() == 1 && ai.shape[0] == n, features, ": /features has ", n, " rows but ", kmeans,
          ": /assign is ", ai.describe());
  std::vector<float> c = kr.read_all<float>("/centroids");
  if (spherical) normalise(c.data(), k, d);
  std::vector<float> cn(static_cast<size_t>(k));
  for (int64_t j = 0; j < k; ++j) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t) s += double(c[j * d + t]) * c[j * d + t];
    cn[j] = static_cast<float>(s);
  }
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
    if (spherical) normalise(x.data(), r.size(), d);
    margins(x.data(), a.data(), r.size(), d, c.data(), cn.data(), k, out.data() + (b - mine.begin));
  }
  return gather_rows_to_root(comm, out, n);
}

}  // namespace distclust::report
