// The pixels backbone: resized, normalised pixels, optionally PCA-projected
// (pixels.h). The projection is a fixed-order dot product per row, so a row's
// features do not depend on the batch it came in or on the thread count.
#include <algorithm>
#include <cstring>

#include "distclust/error.h"
#include "extract/pixels.h"

namespace distclust {

void pixels_preprocess(const cv::Mat& rgb, int size, const std::string& interpolation, const PreprocessParams& norm,
                       float* out) {
  require(rgb.type() == CV_8UC3 && !rgb.empty(), "pixels backbone: image must be non-empty CV_8UC3 RGB (got type ",
          rgb.type(), ", ", rgb.cols, " x ", rgb.rows, ")");
  require(size >= 1, "pixels backbone: size ", size, " (expected >= 1)");
  if (rgb.cols == size && rgb.rows == size) {
    normalize_chw(rgb, norm, out);
  } else {
    normalize_chw(resize_pil(rgb, size, size, interpolation), norm, out);
  }
}

namespace {

// out[k] = sum_j c[k][j] * (x[j] - mean[j]) with four interleaved partial
// sums in a fixed order: fast, and the same bits on every rank and thread.
void project_row(const float* x, const PixelProjection& p, double* centred, float* out) {
  const int64_t n = p.in_dim;
  for (int64_t j = 0; j < n; ++j) centred[j] = double(x[j]) - p.mean[j];
  for (int64_t k = 0; k < p.out_dim; ++k) {
    const double* c = p.components.data() + k * n;
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      s0 += c[j] * centred[j];
      s1 += c[j + 1] * centred[j + 1];
      s2 += c[j + 2] * centred[j + 2];
      s3 += c[j + 3] * centred[j + 3];
    }
    for (; j < n; ++j) s0 += c[j] * centred[j];
    out[k] = static_cast<float>((s0 + s1) + (s2 + s3));
  }
}

class PixelsBackbone : public Backbone {
 public:
  PixelsBackbone(int64_t in_dim, std::shared_ptr<const PixelProjection> proj, int threads)
      : in_dim_(in_dim), proj_(std::move(proj)), threads_(std::max(1, threads)) {
    require(in_dim_ >= 1, "pixels backbone: input dimension ", in_dim_);
    if (proj_)
      require(proj_->in_dim == in_dim_ && proj_->out_dim >= 1 &&
                  int64_t(proj_->components.size()) == proj_->out_dim * in_dim_ &&
                  int64_t(proj_->mean.size()) == in_dim_,
              "pixels backbone: projection is ", proj_->out_dim, " x ", proj_->in_dim, " but the input has ", in_dim_,
              " values");
  }
  int64_t dim() const override { return proj_ ? proj_->out_dim : in_dim_; }
  void forward(const float* x, int64_t batch, float* out) override {
    if (!proj_) {
      std::memcpy(out, x, sizeof(float) * size_t(batch * in_dim_));
      return;
    }
#pragma omp parallel num_threads(threads_)
    {
      std::vector<double> centred(static_cast<size_t>(in_dim_));
#pragma omp for schedule(static)
      for (int64_t i = 0; i < batch; ++i) project_row(x + i * in_dim_, *proj_, centred.data(), out + i * dim());
    }
  }
  std::string describe() const override {
    if (!proj_) return fmt("pixels, D = ", in_dim_);
    double kept = 0;
    for (double v : proj_->variances) kept += v;
    const double share = proj_->total_variance > 0 ? 100.0 * kept / proj_->total_variance : 0.0;
    return fmt("pixels, ", in_dim_, " values -> PCA ", proj_->out_dim, " (", share,
               "% of the variance, fitted on ", proj_->sample_rows, " rows)");
  }

 private:
  int64_t in_dim_;
  std::shared_ptr<const PixelProjection> proj_;
  int threads_;
};

}  // namespace

std::unique_ptr<Backbone> make_pixels_backbone(int64_t in_dim, std::shared_ptr<const PixelProjection> proj,
                                               int threads) {
  return std::make_unique<PixelsBackbone>(in_dim, std::move(proj), threads);
}

}  // namespace distclust
