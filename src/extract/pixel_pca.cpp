// PCA of the pixels backbone across ranks (pixels.h): the 8-bit values of the
// keyed sample as exact integer moments, solved by pca.h with the input
// normalisation as the affine map.
#include <algorithm>

#include "distclust/error.h"
#include "extract/pixels.h"

namespace distclust {
namespace {

/// The keyed sample of this rank's rows, decoded and resized, their moments
/// allreduced. Products <= 255^2 and sums of them stay integers far below
/// 2^53, so double holds them exactly whatever the order of additions.
/// The sample's moments; first_bad: the first sampled image of this rank
/// that could not be used, "ID: reason" (empty when none).
PcaMoments sample_moments(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm, std::string& first_bad) {
  const int64_t s = o.size, d_in = 3 * s * s;
  const std::vector<int64_t> rows =
      pca_sample_rows(src.size(), row_block(src.size(), comm.rank(), comm.size()), o.pca.max_sample, o.pca.seed);
  PcaMoments mo(d_in);
  constexpr int64_t kChunk = 512;
  std::vector<double> x(size_t(kChunk * d_in));
  std::vector<uint8_t> ok(kChunk);
  std::vector<std::string> why(kChunk);
  for (size_t c0 = 0; c0 < rows.size(); c0 += kChunk) {
    const int64_t m = std::min<int64_t>(kChunk, int64_t(rows.size() - c0));
#pragma omp parallel for num_threads(std::max(1, o.threads)) schedule(dynamic, 8)
    for (int64_t r = 0; r < m; ++r) {
      ok[r] = 0;
      DecodeResult img = load_image(src, rows[c0 + r], o.decode);
      if (!img.ok) {
        why[r] = img.reason.empty() ? "cannot decode" : img.reason;
        continue;
      }
      try {
        const cv::Mat g = pixels_image(img.rgb, int(s), o.interpolation, o.deskew);
        double* row = x.data() + r * d_in;
        for (int64_t y = 0; y < s; ++y) {
          const uint8_t* px = g.ptr<uint8_t>(int(y));
          for (int64_t xx = 0; xx < s; ++xx)
            for (int ch = 0; ch < 3; ++ch) row[ch * s * s + y * s + xx] = px[3 * xx + ch];
        }
        ok[r] = 1;
      } catch (const std::exception& e) {
        why[r] = fmt("preprocessing failed: ", e.what());  // left out of the sample; the extraction pass reports the row
      }
    }
    for (int64_t r = 0; r < m && first_bad.empty(); ++r)
      if (!ok[r]) first_bad = fmt(src.id(rows[c0 + r]), ": ", why[r]);
    int64_t k = 0;  // compact the valid rows to the top
    for (int64_t r = 0; r < m; ++r)
      if (ok[r]) {
        if (k != r) std::copy_n(x.data() + r * d_in, d_in, x.data() + k * d_in);
        ++k;
      }
    mo.add(x.data(), k);
  }
  mo.allreduce(comm);
  return mo;
}

}  // namespace

Projection fit_pixel_pca(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm) {
  const int64_t s = o.size, d_in = 3 * s * s;
  require(o.pca.dim >= 1 && o.pca.dim <= d_in, "extract.pca_dim is ", o.pca.dim, " but the pixels backbone gives ",
          d_in, " values per image (3 x ", s, " x ", s, "); expected 1..", d_in);
  require(d_in <= kPcaMaxInputDim, "extract.pixels_size ", s, " with PCA needs a ", d_in, " x ", d_in,
          " covariance (", d_in * d_in * 8 >> 20, " MiB); use pixels_size <= 52");
  require(o.pca.max_sample >= 2, "extract.pca_sample is ", o.pca.max_sample, " (expected >= 2)");
  std::string first_bad;
  const PcaMoments mo = sample_moments(src, o, comm, first_bad);
  // A source of unreadable images (every row invalid) ends here, before
  // extract's own check (the extraction pass logs each row, not this one).
  require(mo.count >= 2, "extract: only ", mo.count, " images sampled for the PCA of the pixels backbone could be read (",
          src.describe(), ", up to extract.pca_sample = ", o.pca.max_sample, " sampled)",
          first_bad.empty() ? std::string() : fmt("; the first on rank ", comm.rank(), ": ", first_bad),
          src.unreadable_hint(), "; a PCA needs 2, so nothing is written");
  // Input units: x = a_c v + b_c per channel c (normalize_chw's affine map).
  std::vector<double> a(static_cast<size_t>(d_in)), b(static_cast<size_t>(d_in));
  for (int64_t j = 0; j < d_in; ++j) {
    const int ch = int(j / (s * s));
    const double mean = o.norm.mean[o.norm.mean.size() == 3 ? ch : 0];
    const double sd = o.norm.std[o.norm.std.size() == 3 ? ch : 0];
    a[j] = (o.norm.scale_to_unit ? 1.0 / 255.0 : 1.0) / sd;
    b[j] = -mean / sd;
  }
  return solve_pca(mo, a, b, o.pca, comm);
}

}  // namespace distclust
