// The pixels backbone's moment deskew (extract/deskew.h): a slanted stroke
// comes out upright and centred, upright or empty images are left alone,
// dark-on-light is treated like light-on-dark, and the pixels PCA is fitted
// on the deskewed images when asked.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "comm/local_comm.h"
#include "distclust/error.h"
#include "extract/deskew.h"
#include "extract/pixels.h"

using namespace distclust;

namespace {

/// Centre of mass and shear (d column / d row of the principal axis) of the
/// grey mass of a light-on-black image: what the deskew should straighten.
struct Axis {
  double cy, cx, shear;
};
Axis axis_of(const cv::Mat& m) {
  double t = 0, sy = 0, sx = 0, syy = 0, sxy = 0;
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) {
      const cv::Vec3b p = m.at<cv::Vec3b>(y, x);
      const double w = p[0] + p[1] + p[2];
      t += w, sy += w * y, sx += w * x, syy += w * y * y, sxy += w * x * y;
    }
  const double cy = sy / t, cx = sx / t;
  return {cy, cx, (sxy / t - cx * cy) / (syy / t - cy * cy)};
}

/// A white stroke x = x0 + slope (y - y0), 2 pixels wide, rows y0..y1 of a
/// black size x size image.
cv::Mat stroke(int size, double x0, double slope, int y0, int y1) {
  cv::Mat m(size, size, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int y = y0; y <= y1; ++y) {
    const int x = int(std::lround(x0 + slope * (y - y0)));
    for (int dx = 0; dx < 2; ++dx)
      if (x + dx >= 0 && x + dx < size) m.at<cv::Vec3b>(y, x + dx) = cv::Vec3b(255, 255, 255);
  }
  return m;
}

int max_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  int d = 0;
  for (int y = 0; y < a.rows; ++y)
    for (int x = 0; x < a.cols; ++x)
      for (int c = 0; c < 3; ++c) d = std::max(d, std::abs(int(a.at<cv::Vec3b>(y, x)[c]) - int(b.at<cv::Vec3b>(y, x)[c])));
  return d;
}

}  // namespace

TEST(Deskew, SlantedStrokeComesOutUprightAndCentred) {
  const cv::Mat in = stroke(28, 4, 0.5, 4, 23);  // leaning right, off centre
  const Axis before = axis_of(in);
  ASSERT_NEAR(before.shear, 0.5, 0.05);
  const Axis after = axis_of(deskew(in));
  EXPECT_LT(std::abs(after.shear), 0.05) << "shear " << before.shear << " -> " << after.shear;
  EXPECT_NEAR(after.cy, 13.5, 0.5);
  EXPECT_NEAR(after.cx, 13.5, 0.5) << "centre column " << before.cx << " -> " << after.cx;
}

TEST(Deskew, UprightCentredStrokeIsLeftAsItIs) {
  const cv::Mat in = stroke(16, 7, 0.0, 2, 13);  // columns 7-8, rows 2-13: centred, upright
  EXPECT_EQ(max_abs_diff(deskew(in), in), 0);
}

TEST(Deskew, EmptyOrOneRowImagesAreUnchanged) {
  const cv::Mat blank(8, 8, CV_8UC3, cv::Scalar(30, 30, 30));
  EXPECT_EQ(max_abs_diff(deskew(blank), blank), 0);
  const cv::Mat row = stroke(8, 1, 0.0, 3, 3);  // ink in one row: no vertical axis
  EXPECT_EQ(max_abs_diff(deskew(row), row), 0);
  EXPECT_THROW(deskew(cv::Mat(4, 4, CV_8UC1)), Error);
  EXPECT_THROW(deskew(cv::Mat()), Error);
}

TEST(Deskew, DarkOnLightIsStraightenedLikeLightOnDark) {
  const cv::Mat light = stroke(28, 17, -0.4, 5, 22), dark = cv::Scalar(255, 255, 255) - light;
  cv::Mat back = cv::Scalar(255, 255, 255) - deskew(dark);
  // Rounding of exact halves may differ by one level.
  EXPECT_LE(max_abs_diff(back, deskew(light)), 1);
  EXPECT_LT(std::abs(axis_of(back).shear), 0.05);
}

TEST(Deskew, ShearIsCappedForFlatBlobs) {
  // A nearly horizontal stroke two rows high: its "axis" is ill-defined.
  cv::Mat m(20, 20, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int x = 2; x < 18; ++x) m.at<cv::Vec3b>(x < 10 ? 9 : 10, x) = cv::Vec3b(200, 200, 200);
  const Axis after = axis_of(deskew(m));
  EXPECT_TRUE(std::isfinite(after.shear));
  EXPECT_GT(axis_of(m).shear, kMaxDeskewShear) << "the test needs a blob steeper than the cap";
}

namespace {

/// Slanted strokes of varying slope and position, one per row.
class StrokeSource : public ImageSource {
 public:
  int64_t size() const override { return 64; }
  std::string id(int64_t i) const override { return "s:" + std::to_string(i); }
  int64_t label(int64_t) const override { return -1; }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t i) const override {
    RawImage r;
    r.encoded = false;
    r.pixels = image(i);
    return r;
  }
  std::string kind() const override { return "strokes"; }
  static cv::Mat image(int64_t i) { return stroke(12, 2 + double(i % 5), -0.3 + 0.1 * double(i % 7), 1, 10); }
};

}  // namespace

TEST(Deskew, PixelPcaIsFittedOnTheDeskewedImages) {
  StrokeSource src;
  LocalCommunicator comm;
  PixelPcaOptions o;
  o.size = 12;
  o.pca.dim = 3;
  o.pca.max_sample = 1000;
  o.norm.mean = {0.0f};
  o.norm.std = {1.0f};
  o.deskew = true;
  const Projection p = fit_pixel_pca(src, o, comm);
  std::vector<double> mean(3 * 12 * 12, 0.0);
  std::vector<float> row(mean.size());
  for (int64_t i = 0; i < src.size(); ++i) {
    pixels_preprocess(StrokeSource::image(i), 12, "bilinear", o.norm, row.data(), /*deskew=*/true);
    for (size_t j = 0; j < row.size(); ++j) mean[j] += row[j] / double(src.size());
  }
  double off = 0, moved = 0;
  o.deskew = false;
  const Projection plain = fit_pixel_pca(src, o, comm);
  for (size_t j = 0; j < mean.size(); ++j) {
    off = std::max(off, std::abs(p.mean[j] - mean[j]));
    moved = std::max(moved, std::abs(plain.mean[j] - mean[j]));
  }
  EXPECT_LT(off, 1e-6) << "the PCA's mean is the deskewed images' mean";
  EXPECT_GT(moved, 0.1) << "deskewing must change these images (else the test shows nothing)";
  EXPECT_LT(p.total_variance, plain.total_variance) << "upright strokes vary less than slanted ones";
}
