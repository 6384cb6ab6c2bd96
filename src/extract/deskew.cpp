// Moment deskew (deskew.h).
#include "extract/deskew.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "distclust/error.h"

namespace distclust {
namespace {

int grey(const cv::Vec3b& p) { return int(p[0]) + int(p[1]) + int(p[2]); }

/// The median grey (R + G + B) of the border pixels: the background level.
int border_grey(const cv::Mat& rgb) {
  std::vector<int> v;
  const int h = rgb.rows, w = rgb.cols;
  for (int x = 0; x < w; ++x) {
    v.push_back(grey(rgb.at<cv::Vec3b>(0, x)));
    if (h > 1) v.push_back(grey(rgb.at<cv::Vec3b>(h - 1, x)));
  }
  for (int y = 1; y + 1 < h; ++y) {
    v.push_back(grey(rgb.at<cv::Vec3b>(y, 0)));
    if (w > 1) v.push_back(grey(rgb.at<cv::Vec3b>(y, w - 1)));
  }
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

/// Ink moments: integer sums (exact), then the centre and the shear.
struct Moments {
  bool usable = false;
  double cy = 0, cx = 0, shear = 0;  ///< centre of mass (row, column); d column / d row of the principal axis
};

Moments ink_moments(const cv::Mat& rgb) {
  const int bg = border_grey(rgb);
  int64_t t = 0, sy = 0, sx = 0, syy = 0, sxy = 0;
  for (int y = 0; y < rgb.rows; ++y)
    for (int x = 0; x < rgb.cols; ++x) {
      const int64_t w = std::abs(grey(rgb.at<cv::Vec3b>(y, x)) - bg);
      t += w;
      sy += w * y;
      sx += w * x;
      syy += w * y * y;
      sxy += w * x * y;
    }
  Moments m;
  if (t == 0) return m;
  const double n = double(t);
  m.cy = double(sy) / n;
  m.cx = double(sx) / n;
  const double var_y = double(syy) / n - m.cy * m.cy;
  const double cov = double(sxy) / n - m.cx * m.cy;
  if (!(var_y > 1e-9)) return m;
  m.shear = std::clamp(cov / var_y, -kMaxDeskewShear, kMaxDeskewShear);
  m.usable = true;
  return m;
}

}  // namespace

cv::Mat deskew(const cv::Mat& rgb) {
  require(!rgb.empty() && rgb.type() == CV_8UC3, "deskew: image must be non-empty CV_8UC3 (got type ", rgb.type(), ", ",
          rgb.cols, " x ", rgb.rows, ")");
  const Moments m = ink_moments(rgb);
  if (!m.usable) return rgb.clone();
  const int h = rgb.rows, w = rgb.cols;
  const double oy = (h - 1) / 2.0, ox = (w - 1) / 2.0;
  cv::Mat out(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y) {
    // Output (y, x) samples the input at (y + cy - oy, x + shear (y - oy) + cx - ox).
    const double ys = y + (m.cy - oy);
    const double y0f = std::floor(ys), fy = ys - y0f;
    const int y0 = std::clamp(int(y0f), 0, h - 1), y1 = std::clamp(int(y0f) + 1, 0, h - 1);
    const double xshift = m.shear * (y - oy) + (m.cx - ox);
    for (int x = 0; x < w; ++x) {
      const double xs = x + xshift;
      const double x0f = std::floor(xs), fx = xs - x0f;
      const int x0 = std::clamp(int(x0f), 0, w - 1), x1 = std::clamp(int(x0f) + 1, 0, w - 1);
      const cv::Vec3b &a = rgb.at<cv::Vec3b>(y0, x0), &b = rgb.at<cv::Vec3b>(y0, x1);
      const cv::Vec3b &c = rgb.at<cv::Vec3b>(y1, x0), &d = rgb.at<cv::Vec3b>(y1, x1);
      cv::Vec3b& o = out.at<cv::Vec3b>(y, x);
      for (int ch = 0; ch < 3; ++ch) {
        const double top = (1 - fx) * a[ch] + fx * b[ch], bottom = (1 - fx) * c[ch] + fx * d[ch];
        const double v = (1 - fy) * top + fy * bottom;
        o[ch] = uint8_t(std::clamp(std::floor(v + 0.5), 0.0, 255.0));
      }
    }
  }
  return out;
}

}  // namespace distclust
