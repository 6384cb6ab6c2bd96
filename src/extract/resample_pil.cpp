// Pillow's resampling (libImaging/Resample.c, 8 bits per channel) rewritten
// for cv::Mat, so that Resize() gives the same bytes as torchvision on PIL
// images. Pillow's algorithm, step for step:
//   - per output column (row): centre = (i + 0.5) * scale, support = filter
//     support * max(scale, 1) (antialiasing when shrinking), taps from
//     int(centre - support + 0.5) to int(centre + support + 0.5) clipped to
//     the image, weights filter((x - centre + 0.5) / max(scale, 1)) / sum;
//   - weights to fixed point with 22 fractional bits, rounded away from 0;
//   - horizontal pass first, into uint8 (only the rows the vertical pass
//     needs), then vertical; each sum starts at 1/2 and is clipped to 0..255.
// Compiled with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add
// would change a weight's last bit and, rarely, a rounded byte.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "distclust/error.h"
#include "extract/preprocess.h"

namespace distclust {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double box_filter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc_filter(double x) {
  if (x == 0.0) return 1.0;
  x = x * M_PI;
  return std::sin(x) / x;
}

double lanczos_filter(double x) {
  return (-3.0 <= x && x < 3.0) ? sinc_filter(x) * sinc_filter(x / 3) : 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filter_named(const std::string& name) {
  if (name == "bilinear") return {bilinear_filter, 1.0};
  if (name == "bicubic") return {bicubic_filter, 2.0};
  if (name == "area") return {box_filter, 0.5};
  if (name == "lanczos") return {lanczos_filter, 3.0};
  throw Error(fmt("extract.interpolation is '", name, "' (expected bilinear|bicubic|area|lanczos)"));
}

// Taps of each output position: first input index, count, fixed-point weights.
struct Coeffs {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> k;  // out_size x ksize
};

Coeffs precompute(int in_size, int out_size, const Filter& f) {
  double scale = static_cast<double>(in_size) / out_size;
  double filterscale = scale < 1.0 ? 1.0 : scale;
  double support = f.support * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      w[x] = f.fn((x + xmin - center + 0.5) * ss);
      ww += w[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double v = ww != 0.0 ? w[x] / ww : w[x];
      c.k[static_cast<size_t>(xx) * c.ksize + x] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup table index
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// out[y] = horizontal resample of in[y + y0], for y in [0, out.rows).
void horizontal(const cv::Mat& in, cv::Mat& out, int y0, const Coeffs& c) {
  const int ch = in.channels();
  for (int y = 0; y < out.rows; ++y) {
    const uint8_t* src = in.ptr<uint8_t>(y + y0);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int xx = 0; xx < out.cols; ++xx) {
      const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* s = src + static_cast<size_t>(c.first[xx]) * ch;
      if (ch == 3) {  // one pass over the taps for all channels, as Pillow does
        int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < c.count[xx]; ++x) {
          s0 += s[3 * x] * k[x];
          s1 += s[3 * x + 1] * k[x];
          s2 += s[3 * x + 2] * k[x];
        }
        dst[3 * xx] = clip8(s0);
        dst[3 * xx + 1] = clip8(s1);
        dst[3 * xx + 2] = clip8(s2);
        continue;
      }
      for (int b = 0; b < ch; ++b) {
        int32_t ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < c.count[xx]; ++x) ss += s[x * ch + b] * k[x];
        dst[xx * ch + b] = clip8(ss);
      }
    }
  }
}

// out[yy] = vertical resample over in's rows first[yy] - y0 ...
void vertical(const cv::Mat& in, cv::Mat& out, int y0, const Coeffs& c) {
  const int n = out.cols * out.channels();
  std::vector<int32_t> acc(n);
  for (int yy = 0; yy < out.rows; ++yy) {
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < c.count[yy]; ++y) {
      const uint8_t* src = in.ptr<uint8_t>(c.first[yy] - y0 + y);
      const int32_t ky = k[y];
      for (int i = 0; i < n; ++i) acc[i] += src[i] * ky;  // same sums as Pillow, row-major order
    }
    uint8_t* dst = out.ptr<uint8_t>(yy);
    for (int i = 0; i < n; ++i) dst[i] = clip8(acc[i]);
  }
}

}  // namespace

cv::Mat resize_pil(const cv::Mat& img, int width, int height, const std::string& interpolation) {
  Filter f = filter_named(interpolation);
  require(width > 0 && height > 0, "resize to ", width, " x ", height, " (expected positive sizes)");
  require(img.depth() == CV_8U && (img.channels() == 1 || img.channels() == 3) && !img.empty(),
          "resize_pil: image must be non-empty CV_8UC1 or CV_8UC3 (got type ", img.type(), ")");
  const bool need_h = width != img.cols, need_v = height != img.rows;
  if (!need_h && !need_v) return img.clone();

  Coeffs cv_ = precompute(img.rows, height, f);
  cv::Mat cur = img;
  int y0 = 0;
  if (need_h) {
    Coeffs ch = precompute(img.cols, width, f);
    // Only the rows the vertical pass reads (all of them when there is none).
    int first = need_v ? cv_.first[0] : 0;
    int last = need_v ? cv_.first[height - 1] + cv_.count[height - 1] : img.rows;
    cv::Mat tmp(last - first, width, img.type());
    horizontal(img, tmp, first, ch);
    cur = tmp;
    y0 = first;
  }
  if (!need_v) return cur;
  cv::Mat out(height, width, img.type());
  vertical(cur, out, y0, cv_);
  return out;
}

}  // namespace distclust
