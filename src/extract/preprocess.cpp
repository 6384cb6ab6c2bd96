// Resize + centre crop + normalisation into the backbone's CHW float input,
// with torchvision's arithmetic (see preprocess.h).
#include "extract/preprocess.h"

#include <cmath>
#include <cstdio>

#include <opencv2/core.hpp>

#include "distclust/error.h"

namespace distclust {

namespace {
// A resize may enlarge: a 1 x 100000 strip with shorter side 256 would need
// 2.5e9 pixels. Refuse such images rather than exhaust memory.
constexpr int64_t kMaxResizedPixels = int64_t(1) << 28;
/// Resize and crop sides: the sidecar's bound (model_sidecar.cpp); far
/// below int's range when squared in 64 bits.
constexpr int kMaxSide = 1 << 15;
}  // namespace

bool known_interpolation(const std::string& name) {
  return name == "bilinear" || name == "bicubic" || name == "area" || name == "lanczos";
}

std::string float_digits(float v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%.9g", double(v));
  return b;
}

void require_unit_scale(float v, bool is_std, const std::string& what) {
  // The 0-255 values some model cards give (Caffe's 123.68, 58.4) were taken
  // as they stood: every image normalised to nearly one constant, silently.
  // A std far below one grey step (1/255) blew features up towards inf.
  const bool ok = is_std ? v >= kMinStd && v <= 1 : std::fabs(v) <= 1;
  // Only what looks like a 0-255 value gets the value divided down: 1.5 or
  // 2 are no pixel statistic on either scale.
  require(ok, what, " but pixels are scaled to [0, 1] before it (expected ", is_std ? fmt(kMinStd, "..1") : "-1..1",
          std::fabs(v) >= 10 && std::fabs(v) <= 255 ? fmt("; a value on the 0-255 scale is ", v / 255, " here")
                                                    : std::string(),
          ")");
}

void PreprocessParams::validate() const {
  require(resize >= 0 && resize <= kMaxSide, "extract.resize is ", resize, " (expected 0..", kMaxSide,
          "; 0 = keep size)");
  require(crop >= 0 && crop <= kMaxSide, "extract.crop is ", crop, " (expected 0..", kMaxSide, "; 0 = no crop)");
  require(mean.size() == 1 || mean.size() == 3, "extract.mean has ", mean.size(),
          " values (expected 3, R,G,B, or 1 for all channels)");
  require(std.size() == 1 || std.size() == 3, "extract.std has ", std.size(),
          " values (expected 3, R,G,B, or 1 for all channels)");
  for (float s : std) require(std::isfinite(s) && s > 0, "extract.std holds ", s, " (expected > 0)");
  for (float m : mean) require(std::isfinite(m), "extract.mean holds ", m, " (expected a finite number)");
  if (scale_to_unit) {
    for (float m : mean) require_unit_scale(m, false, fmt("extract.mean holds ", float_digits(m)));
    for (float v : std) require_unit_scale(v, true, fmt("extract.std holds ", float_digits(v)));
  }
  require(known_interpolation(interpolation),
          "extract.interpolation is '", interpolation, "' (expected bilinear|bicubic|area|lanczos)");
}

std::pair<int, int> resized_shape(int height, int width, int shorter) {
  if (shorter <= 0) return {height, width};
  // torchvision: new_long = int(size * long / short), a truncated true division.
  const bool w_short = width <= height;
  const int64_t s = w_short ? width : height, l = w_short ? height : width;
  require(s > 0, "resize of a ", width, " x ", height, " image (expected positive sizes)");
  const double new_long = static_cast<double>(int64_t(shorter) * l) / static_cast<double>(s);
  require(new_long * shorter <= double(kMaxResizedPixels), "resizing a ", width, " x ", height,
          " image to shorter side ", shorter, " gives ", int64_t(new_long), " x ", shorter,
          " pixels, over the limit of ", kMaxResizedPixels, " (extreme aspect ratio)");
  const int nl = static_cast<int>(new_long);
  return w_short ? std::make_pair(nl, shorter) : std::make_pair(shorter, nl);
}

cv::Mat center_crop(const cv::Mat& img, int size) {
  require(size > 0, "center_crop: size ", size, " (expected > 0)");
  cv::Mat m = img;
  if (size > m.cols || size > m.rows) {
    // torchvision pads with zeros, left/top getting the smaller half.
    // BORDER_ISOLATED: an ROI must not borrow pixels from its parent image.
    int dw = size > m.cols ? size - m.cols : 0, dh = size > m.rows ? size - m.rows : 0;
    cv::Mat padded;
    cv::copyMakeBorder(m, padded, dh / 2, (dh + 1) / 2, dw / 2, (dw + 1) / 2, cv::BORDER_CONSTANT | cv::BORDER_ISOLATED,
                       cv::Scalar::all(0));
    m = padded;
  }
  // Python's round(): half to even, which nearbyint does in the default mode.
  int top = static_cast<int>(std::nearbyint((m.rows - size) / 2.0));
  int left = static_cast<int>(std::nearbyint((m.cols - size) / 2.0));
  return m(cv::Rect(left, top, size, size));
}

cv::Mat preprocess_geometry(const cv::Mat& rgb, const PreprocessParams& p) {
  cv::Mat m = rgb;
  if (p.resize > 0) {
    auto [h, w] = resized_shape(rgb.rows, rgb.cols, p.resize);
    if (h != rgb.rows || w != rgb.cols) m = resize_pil(rgb, w, h, p.interpolation);
  }
  if (p.crop > 0) m = center_crop(m, p.crop);
  return m;
}

void normalize_chw(const cv::Mat& rgb, const PreprocessParams& p, float* out) {
  require(rgb.type() == CV_8UC3, "normalize_chw: image must be CV_8UC3 RGB (got type ", rgb.type(), ")");
  require((p.mean.size() == 1 || p.mean.size() == 3) && (p.std.size() == 1 || p.std.size() == 3),
          "normalize_chw: mean and std need 1 or 3 values (got ", p.mean.size(), " and ", p.std.size(), ")");
  const int H = rgb.rows, W = rgb.cols;
  for (int c = 0; c < 3; ++c) {
    // float32 throughout and torch's operation order: (v / 255 - mean) / std.
    const float mean = p.mean[p.mean.size() == 3 ? c : 0];
    const float sd = p.std[p.std.size() == 3 ? c : 0];
    float* plane = out + static_cast<size_t>(c) * H * W;
    for (int y = 0; y < H; ++y) {
      const uint8_t* row = rgb.ptr<uint8_t>(y);
      float* o = plane + static_cast<size_t>(y) * W;
      for (int x = 0; x < W; ++x) {
        float v = static_cast<float>(row[3 * x + c]);
        if (p.scale_to_unit) v = v / 255.0f;
        o[x] = (v - mean) / sd;
      }
    }
  }
}

void preprocess(const cv::Mat& rgb, const PreprocessParams& p, float* out, size_t out_len) {
  require(rgb.type() == CV_8UC3 && !rgb.empty(), "preprocess: image must be non-empty CV_8UC3 RGB (got type ",
          rgb.type(), ", ", rgb.cols, " x ", rgb.rows, ")");
  cv::Mat m = preprocess_geometry(rgb, p);
  const size_t need = static_cast<size_t>(3) * m.rows * m.cols;
  require(out_len == need, "preprocess: output buffer holds ", out_len, " floats but the ", m.rows, " x ", m.cols,
          " result needs ", need, " (3 x H x W)");
  normalize_chw(m, p, out);
}

}  // namespace distclust
