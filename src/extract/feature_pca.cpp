// PCA of a backbone's output rows (feature_pca.h): sample pass through the
// backbone, per-column rounding to exact integers, pca.h's moments and solve.
#include "extract/feature_pca.h"
#include "distclust/progress.h"

#include <algorithm>
#include <cmath>

#include "distclust/error.h"
#include "distclust/log.h"

namespace distclust {
namespace {

/// Rows rows[0..m) of a source as rows 0..m of another: the sample as one
/// contiguous range for the decode pool, whatever rows were drawn.
class SubsetSource : public ImageSource {
 public:
  SubsetSource(const ImageSource& src, const std::vector<int64_t>& rows) : src_(src), rows_(rows) {
    path_ = src.describe() + " (PCA sample)";
  }
  int64_t size() const override { return int64_t(rows_.size()); }
  std::string id(int64_t i) const override { return src_.id(at(i)); }
  int64_t label(int64_t i) const override { return src_.label(at(i)); }
  std::vector<std::string> class_names() const override { return src_.class_names(); }
  RawImage read(int64_t i) const override { return src_.read(at(i)); }
  std::string kind() const override { return src_.kind(); }

 private:
  int64_t at(int64_t i) const {
    check_row(i);
    return rows_[size_t(i)];
  }
  const ImageSource& src_;
  const std::vector<int64_t>& rows_;
};

/// The backbone's rows of this rank's sample `rows` (valid rows only),
/// L2-normalised when asked, as the projection will normalise them (in double).
std::vector<float> sample_rows(const ImageSource& src, const std::vector<int64_t>& rows, Backbone& net,
                               const FeaturePcaOptions& o, Communicator& comm, std::string& first_bad) {
  const int64_t d = net.dim();
  std::vector<float> held;
  if (rows.empty()) return held;
  SubsetSource sub(src, rows);
  DecodePool pool(sub, o.decode, o.prep, o.row_floats, plan_batches({RowRange{0, int64_t(rows.size())}}, o.batch),
                  o.decode_threads, o.queue_batches);
  std::vector<float> out(size_t(o.batch * d));
  // Up to 20,000 images through the network before the extraction proper:
  // minutes on a CPU node, so it reports progress (rank 0's share times
  // the ranks: the sample is spread evenly).
  Progress progress("extract PCA sample", "images", int64_t(rows.size()) * comm.size(), comm.rank() == 0,
                    o.progress_seconds);
  int64_t done = 0;
  for (int64_t b = 0; b < pool.size(); ++b) {
    ReadyBatch r = pool.next();
    net.forward(r.x, r.rows.size(), out.data());
    progress.update((done += r.rows.size()) * comm.size());
    for (int64_t i = 0; i < r.rows.size(); ++i) {
      if (!r.valid[i]) {
        if (first_bad.empty()) first_bad = fmt(src.id(rows[size_t(r.rows.begin + i)]), ": ", (*r.reasons)[size_t(i)]);
        continue;
      }
      const float* x = out.data() + i * d;
      double inv = 1.0;
      if (o.normalize_input) {
        double ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += double(x[j]) * double(x[j]);
        inv = ss > 0 ? 1.0 / std::sqrt(ss) : 1.0;
      }
      for (int64_t j = 0; j < d; ++j) held.push_back(static_cast<float>(double(x[j]) * inv));
    }
    pool.release();
  }
  progress.finish();
  return held;
}

}  // namespace

PcaMoments quantized_moments(const std::vector<float>& held, int64_t d, int64_t count, int64_t exact_max_dim,
                             std::vector<double>& scale, Communicator& comm) {
  const int64_t m = int64_t(held.size()) / d;
  // Per-column scale from the rows' range, the same on every rank.
  std::vector<double> range(size_t(d), 0.0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < d; ++j) range[j] = std::max(range[j], std::fabs(double(held[i * d + j])));
  comm.allreduce_max(range.data(), range.size());
  const int bits = pca_quantization_bits(count);
  scale.assign(size_t(d), 1.0);
  for (int64_t j = 0; j < d; ++j) scale[j] = range[j] > 0 ? std::ldexp(range[j], -bits) : 1.0;
  PcaMoments mo(d, exact_max_dim);
  constexpr int64_t kChunk = 512;
  std::vector<double> v(size_t(kChunk * d));
  for (int64_t c0 = 0; c0 < m; c0 += kChunk) {
    const int64_t k = std::min(kChunk, m - c0);
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < d; ++j) v[i * d + j] = std::nearbyint(double(held[(c0 + i) * d + j]) / scale[j]);
    mo.add(v.data(), k);
  }
  mo.allreduce(comm);
  return mo;
}

int pca_quantization_bits(int64_t count) {
  int log2n = 0;
  while ((int64_t(1) << log2n) < std::max<int64_t>(1, count)) ++log2n;
  return std::clamp((52 - log2n) / 2, 1, 24);
}

Projection fit_feature_pca(const ImageSource& src, Backbone& net, const FeaturePcaOptions& o, Communicator& comm) {
  const int64_t d = net.dim();
  require(o.pca.dim >= 1 && o.pca.dim <= d, "extract.pca_dim is ", o.pca.dim, " but the backbone gives ", d,
          " values per image (", net.describe(), "); expected 1..", d);
  require(d <= kPcaMaxInputDim, "extract.pca_dim: the backbone gives ", d, " values per image, and a PCA of more than ",
          kPcaMaxInputDim, " needs a ", d, " x ", d, " covariance on every rank (", d * d * 8 >> 20,
          " MiB); export a smaller layer (tools/export_backbone.py --layer) or pool its output");
  require(o.pca.max_sample >= 2, "extract.pca_sample is ", o.pca.max_sample, " (expected >= 2)");
  const std::vector<int64_t> rows =
      pca_sample_rows(src.size(), row_block(src.size(), comm.rank(), comm.size()), o.pca.max_sample, o.pca.seed);
  // Checked before the pass: the sample costs up to max_sample images through
  // the network (minutes on CPUs), and a PCA that cannot fit used to fail
  // only after it. Held beside the moments: the sampled rows (float), the
  // pass's output batch and quantized_moments' chunk (double).
  require_pca_memory(d, o.pca.exact_max_dim, 4.0 * double(d) * double(int64_t(rows.size()) + o.batch + 2 * 512));
  std::string first_bad;
  const std::vector<float> held = sample_rows(src, rows, net, o, comm, first_bad);
  const int64_t m = int64_t(held.size()) / d, count = comm.sum(m);
  // A source of unreadable images (every row invalid) ends here, before
  // extract's own check (the extraction pass logs each row, not this one).
  require(count >= 2, "extract: only ", count, " of the ", comm.sum(int64_t(rows.size())),
          " images sampled for the PCA of the backbone's features could be read (", src.describe(), ")",
          first_bad.empty() ? std::string() : fmt("; the first on rank ", comm.rank(), ": ", first_bad),
          src.unreadable_hint(), "; a PCA needs 2, so nothing is written");
  std::vector<double> scale, zero(static_cast<size_t>(d), 0.0);
  PcaMoments mo = quantized_moments(held, d, count, o.pca.exact_max_dim, scale, comm);
  Projection p = solve_pca(mo, scale, zero, o.pca, comm);
  p.normalize_input = o.normalize_input;
  log::debug("extract: PCA sample of ", count, " rows rounded to ", pca_quantization_bits(count), " bits per column");
  return p;
}

}  // namespace distclust
