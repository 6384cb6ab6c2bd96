// The pixels backbone: resized, normalised pixels (pixels.h); its PCA is
// pca.h's projection around it.
#include <algorithm>
#include <cstring>

#include "distclust/error.h"
#include "extract/deskew.h"
#include "extract/pixels.h"

namespace distclust {

cv::Mat pixels_image(const cv::Mat& rgb, int size, const std::string& interpolation, bool deskew_it) {
  require(rgb.type() == CV_8UC3 && !rgb.empty(), "pixels backbone: image must be non-empty CV_8UC3 RGB (got type ",
          rgb.type(), ", ", rgb.cols, " x ", rgb.rows, ")");
  require(size >= 1, "pixels backbone: size ", size, " (expected >= 1)");
  const cv::Mat sized = rgb.cols == size && rgb.rows == size ? rgb : resize_pil(rgb, size, size, interpolation);
  return deskew_it ? deskew(sized) : sized;
}

void pixels_preprocess(const cv::Mat& rgb, int size, const std::string& interpolation, const PreprocessParams& norm,
                       float* out, bool deskew_it) {
  normalize_chw(pixels_image(rgb, size, interpolation, deskew_it), norm, out);
}

namespace {

class PixelsBackbone : public Backbone {
 public:
  explicit PixelsBackbone(int64_t in_dim) : in_dim_(in_dim) {
    require(in_dim_ >= 1, "pixels backbone: input dimension ", in_dim_);
  }
  int64_t dim() const override { return in_dim_; }
  void forward(const float* x, int64_t batch, float* out) override {
    std::memcpy(out, x, sizeof(float) * size_t(batch * in_dim_));
  }
  std::string describe() const override { return fmt("pixels, D = ", in_dim_); }

 private:
  int64_t in_dim_;
};

}  // namespace

std::unique_ptr<Backbone> make_pixels_backbone(int64_t in_dim) { return std::make_unique<PixelsBackbone>(in_dim); }

}  // namespace distclust
