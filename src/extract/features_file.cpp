#include <algorithm>
#include <cfloat>
#include <cmath>

#include "distclust/error.h"
#include "extract/features_file.h"
#include "io/finite.h"
#include "io/h5store.h"
#include "io/row_columns.h"
#include "kernels/rows.h"

namespace distclust {

std::pair<int64_t, int64_t> features_shape(const std::string& path, Communicator& comm) {
  H5Reader r(path, comm);
  DatasetInfo fi = r.info("/features");
  require(fi.shape.size() == 2, path, ": /features is ", fi.describe(), ", expected 2-D [N x D]");
  return {fi.shape[0], fi.shape[1]};
}

FeatureBlock read_features(const std::string& path, Communicator& comm) {
  H5Reader r(path, comm);
  DatasetInfo fi = r.info("/features");
  require(fi.shape.size() == 2, path, ": /features is ", fi.describe(), ", expected 2-D [N x D]");
  require(fi.dtype == "float32" || fi.dtype == "float16" || fi.dtype == "float64", path,
          ": /features has type ", fi.dtype, ", expected float32, float16 or float64");
  require(fi.shape[0] >= 1 && fi.shape[1] >= 1, path, ": /features is ", fi.describe(), ", which is empty");
  FeatureBlock b;
  b.n_total = fi.shape[0];
  b.d = fi.shape[1];
  b.rows = row_block(b.n_total, comm.rank(), comm.size());
  if (fi.dtype == "float64") {
    // Read as double first: a finite 1e300 became Inf in the conversion and
    // was then refused as "NaN or Inf", which the file does not hold. In
    // pieces of ~64 MiB of doubles: the block itself stays float32's size.
    b.x.resize(size_t(b.rows.size() * b.d));
    const int64_t piece = std::max<int64_t>(1, (int64_t(8) << 20) / b.d);
    for (int64_t r0 = b.rows.begin; r0 < b.rows.end; r0 += piece) {
      const RowRange part{r0, std::min(b.rows.end, r0 + piece)};
      const std::vector<double> x = r.read_rows<double>("/features", part);
      float* to = b.x.data() + (r0 - b.rows.begin) * b.d;
      for (size_t i = 0; i < x.size(); ++i) {
        require(!std::isfinite(x[i]) || std::fabs(x[i]) <= double(FLT_MAX), path, ": /features row ",
                r0 + int64_t(i) / b.d, " holds ", x[i], ", beyond float32's range (3.4e38): distclust ",
                "computes in float32; rescale the features");
        to[i] = float(x[i]);
      }
    }
  } else {
    b.x = r.read_rows<float>("/features", b.rows);
  }
  b.labels = read_labels(r, b.rows, b.n_total);
  b.valid = read_valid(r, b.rows, b.n_total);
  return b;
}

void write_features(const std::string& path, Communicator& comm, const FeatureBlock& mine, bool half,
                    const std::map<std::string, std::string>& attrs) {
  H5Writer w(path, comm);
  w.create<float>("/features", {mine.n_total, mine.d}, half);
  w.write_rows("/features", mine.rows, mine.x.data());
  w.create<int64_t>("/labels", {mine.n_total});
  w.write_rows("/labels", mine.rows, mine.labels.data());
  w.create<uint8_t>("/valid", {mine.n_total});
  w.write_rows("/valid", mine.rows, mine.valid.data());
  std::vector<int64_t> ids(mine.rows.size());
  for (int64_t i = 0; i < mine.rows.size(); ++i) ids[i] = mine.rows.begin + i;
  w.create<int64_t>("/ids", {mine.n_total});
  w.write_rows("/ids", mine.rows, ids.data());
  w.attr("created_by", std::string("distclust ") + DISTCLUST_VERSION);
  for (const auto& [k, v] : attrs) w.attr(k, v);
  w.commit();
}

int64_t count_valid(const FeatureBlock& b, Communicator& comm) {
  int64_t n = 0;
  for (const uint8_t v : b.valid) n += v ? 1 : 0;
  return comm.sum(n);
}

void check_finite(const FeatureBlock& b, const std::string& path, Communicator& comm, const std::string& l2_user) {
  // A row whose squared norm passes kMaxRowNorm2 would overflow float
  // distances to inf and silently put every row in one cluster (features
  // scaled by 1e30 did).
  const RowScan s = scan_rows(b.x.data(), b.local_rows(), b.d, b.valid.data());
  int64_t bad = s.bad, huge = s.huge;
  int64_t first = s.bad ? b.rows.begin + s.first_bad : INT64_MAX;
  int64_t first_huge = s.huge ? b.rows.begin + s.first_huge : INT64_MAX;
  bad = comm.sum(bad);
  first = -comm.max(-first);
  huge = comm.sum(huge);
  first_huge = -comm.max(-first_huge);
  require(bad == 0, path, ": /features row ", first, " holds NaN or Inf (", bad,
          " such rows in all); fix the input or mark those rows invalid in /valid");
  require(huge == 0, path, ": /features row ", first_huge, " has a norm above 1.6e18 (", huge,
          " such rows in all): float32 distances would overflow; rescale the features");
  // Features scaled into float32's denormal range (1e-39) passed the check
  // below as all-zero data, and every stage then ran on zeros: one k-means
  // cluster, random neighbours, with no error; at 1e-37 the entries under
  // 1.2e-38 were flushed and the cosine neighbours of half the rows changed.
  const int64_t denormal = comm.sum(s.denormal);
  const int64_t first_denormal = -comm.max(-(s.denormal ? b.rows.begin + s.first_denormal : INT64_MAX));
  require(denormal == 0, path, ": /features row ", first_denormal,
          " holds denormal values (below float32's smallest normal number 1.2e-38) that are not negligible beside "
          "its norm (below 2e-31; ", denormal, " such rows in all): distclust's kernels read them as 0 (flush to "
          "zero), which changes the row; multiply the features by a constant, or mark those rows invalid in /valid");
  if (l2_user.empty()) return;
  // The other end: all-zero data has no scale to lose (every distance is 0).
  const double top = comm.max(s.max_norm2);
  require(top == 0 || top >= kMinL2Norm2, l2_user, ": ", path, ": the largest row norm is ", std::sqrt(top),
          ": squared L2 distances (below ", 4 * top, ") fall under float32's smallest normal number and are "
          "flushed to 0, so every row would look as near as any other; multiply the features by a constant "
          "(L2 clusters and neighbours do not change with scale), or use the cosine metric (kmeans --spherical)");
}

void normalize_rows(FeatureBlock& b) { normalize_rows(b.x.data(), b.local_rows(), b.d, b.valid.data()); }

}  // namespace distclust
