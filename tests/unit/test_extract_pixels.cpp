// The pixels backbone: its input transform, the PCA (against a direct
// computation), the eigen-solver paths, and row results that do not depend
// on the batch split.
#include <gtest/gtest.h>

#include <cmath>

#include "common/tolerances.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "extract/pixels.h"
#include "distclust/rng.h"

using namespace distclust;

namespace {

// Row i: a 4 x 4 image whose pixels are a keyed function of (i, y, x, c)
// with a low-rank structure (3 hidden factors) plus noise.
class PatternSource : public ImageSource {
 public:
  explicit PatternSource(int64_t n, int64_t bad = -1) : n_(n), bad_(bad) { path_ = "pattern"; }
  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override { return "p:" + std::to_string(i); }
  int64_t label(int64_t) const override { return -1; }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t i) const override {
    require(i != bad_, "p:", i, ": unreadable");
    RawImage r;
    r.encoded = false;
    r.pixels = image(i);
    return r;
  }
  std::string kind() const override { return "pattern"; }
  static cv::Mat image(int64_t i) {
    KeyedRng rng(7, uint64_t(i));
    const double f[3] = {rng.normal(), rng.normal(), rng.normal()};
    cv::Mat m(4, 4, CV_8UC3);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 3; ++c) {
          double v = 128 + 40 * f[0] * std::sin(x + c) + 30 * f[1] * std::cos(y * 2.0) + 20 * f[2] * (x - y) / 3.0 +
                     3 * rng.normal();
          m.at<cv::Vec3b>(y, x)[c] = cv::saturate_cast<uint8_t>(v);
        }
    return m;
  }

 private:
  int64_t n_, bad_;
};

PixelPcaOptions options(int dim) {
  PixelPcaOptions o;
  o.size = 4;
  o.pca.dim = dim;
  o.norm.mean = {0.5f, 0.4f, 0.3f};
  o.norm.std = {0.25f, 0.2f, 0.3f};
  o.pca.max_sample = 100000;
  return o;
}

}  // namespace

TEST(ExtractPixels, PreprocessResizesSquareAndNormalises) {
  cv::Mat img(6, 9, CV_8UC3, cv::Scalar(255, 0, 51));
  PreprocessParams norm;
  norm.mean = {0.0f};
  norm.std = {1.0f};
  std::vector<float> out(3 * 4 * 4);
  pixels_preprocess(img, 4, "bilinear", norm, out.data());
  for (int i = 0; i < 16; ++i) {
    EXPECT_FLOAT_EQ(out[i], 1.0f);
    EXPECT_FLOAT_EQ(out[16 + i], 0.0f);
    EXPECT_FLOAT_EQ(out[32 + i], 0.2f);
  }
  EXPECT_THROW(pixels_preprocess(cv::Mat(3, 3, CV_8UC1), 4, "bilinear", norm, out.data()), Error);
}

TEST(ExtractPixels, SubspaceIterationFindsTheLeadingEigenpairs) {
  // cov = Q diag(exp(-0.1 j)) Q^T for a random orthonormal Q (Gram-Schmidt;
  // plain loops keep Eigen out of the test), solved both ways.
  const int64_t n = 120;
  KeyedRng rng(3, 0);
  std::vector<std::vector<double>> q(n, std::vector<double>(n));
  for (int64_t a = 0; a < n; ++a) {
    for (auto& v : q[a]) v = rng.normal();
    for (int64_t b = 0; b < a; ++b) {
      double dot = 0;
      for (int64_t i = 0; i < n; ++i) dot += q[a][i] * q[b][i];
      for (int64_t i = 0; i < n; ++i) q[a][i] -= dot * q[b][i];
    }
    double norm = 0;
    for (double v : q[a]) norm += v * v;
    for (auto& v : q[a]) v /= std::sqrt(norm);
  }
  std::vector<double> c(n * n, 0.0);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += std::exp(-0.1 * double(a)) * q[a][i] * q[a][j];
  std::vector<double> v_exact, l_exact, v_iter, l_iter;
  top_eigenpairs(c, n, 10, /*exact_max_dim=*/1000, 1, v_exact, l_exact);
  top_eigenpairs(c, n, 10, /*exact_max_dim=*/0, 1, v_iter, l_iter);
  for (int k = 0; k < 10; ++k) {
    EXPECT_NEAR(l_iter[k], l_exact[k], tol::kDoubleIterative * l_exact[0]) << k;
    EXPECT_NEAR(l_exact[k], std::exp(-0.1 * k), tol::kDoubleIterative);
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += v_iter[k * n + i] * v_exact[k * n + i];
    EXPECT_NEAR(dot, 1.0, tol::kFloatFew) << "eigenvector " << k << " (signs are fixed, so no -1)";
  }
  std::vector<double> v2, l2;
  top_eigenpairs(c, n, 10, 0, 1, v2, l2);
  EXPECT_EQ(v2, v_iter) << "deterministic";
  EXPECT_THROW(top_eigenpairs(c, n, int(n) + 1, 1000, 1, v2, l2), Error);
}

TEST(ExtractPixels, PcaMatchesADirectComputationAndSkipsBadRows) {
  const int64_t n = 300;
  PatternSource src(n, /*bad=*/17);
  LocalCommunicator comm;
  PixelPcaOptions o = options(5);
  Projection p = fit_pixel_pca(src, o, comm);
  ASSERT_EQ(p.in_dim, 48);
  ASSERT_EQ(p.out_dim, 5);
  EXPECT_EQ(p.sample_rows, n - 1);

  // Direct: normalised inputs of every readable row, covariance, eigensolver.
  std::vector<std::vector<double>> x;
  std::vector<double> mean(48, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    if (i == 17) continue;
    std::vector<float> row(48);
    pixels_preprocess(PatternSource::image(i), 4, "bilinear", o.norm, row.data());
    x.emplace_back(row.begin(), row.end());
    for (int j = 0; j < 48; ++j) mean[j] += row[j] / double(n - 1);
  }
  std::vector<double> c(48 * 48, 0.0), vec, val;
  double trace = 0;
  for (const auto& row : x)
    for (int i = 0; i < 48; ++i)
      for (int j = 0; j < 48; ++j) c[i * 48 + j] += (row[i] - mean[i]) * (row[j] - mean[j]) / double(n - 2);
  for (int i = 0; i < 48; ++i) trace += c[i * 48 + i];
  top_eigenpairs(c, 48, 5, 1000, 1, vec, val);  // Eigen's full solver on the direct covariance
  for (int j = 0; j < 48; ++j) EXPECT_NEAR(p.mean[j], mean[j], tol::kFloatSum);
  EXPECT_NEAR(p.total_variance, trace, tol::kFloatFew * trace);
  for (int k = 0; k < 5; ++k) {
    EXPECT_NEAR(p.variances[k], val[k], tol::kFloatFew * val[0]) << k;
    double dot = 0;
    for (int j = 0; j < 48; ++j) dot += p.components[k * 48 + j] * vec[k * 48 + j];
    EXPECT_NEAR(dot, 1.0, tol::kFloatFew) << k;
  }

  // The backbone projects each row onto the components.
  auto net = make_projected_backbone(make_pixels_backbone(48), std::make_shared<Projection>(p), 2);
  EXPECT_EQ(net->dim(), 5);
  std::vector<float> in(48), out(5);
  pixels_preprocess(PatternSource::image(3), 4, "bilinear", o.norm, in.data());
  net->forward(in.data(), 1, out.data());
  for (int k = 0; k < 5; ++k) {
    double ref = 0;
    for (int j = 0; j < 48; ++j) ref += p.components[k * 48 + j] * (double(in[j]) - p.mean[j]);
    EXPECT_NEAR(out[k], ref, tol::kFloatSum);
  }
  EXPECT_NE(net->describe().find("PCA 5"), std::string::npos) << net->describe();
}

TEST(ExtractPixels, SampleIsKeyedBySeedAndRowOnly) {
  PatternSource src(2000);
  LocalCommunicator comm;
  PixelPcaOptions o = options(3);
  o.pca.max_sample = 500;
  Projection a = fit_pixel_pca(src, o, comm), b = fit_pixel_pca(src, o, comm);
  EXPECT_EQ(a.components, b.components);
  EXPECT_GT(a.sample_rows, 400);
  EXPECT_LT(a.sample_rows, 600);
  o.pca.seed = 2;
  Projection c = fit_pixel_pca(src, o, comm);
  EXPECT_FALSE(a.sample_rows == c.sample_rows && a.mean == c.mean) << "another seed, another sample";
}

TEST(ExtractPixels, ProjectionOfARowDoesNotDependOnTheBatch) {
  PatternSource src(64);
  LocalCommunicator comm;
  PixelPcaOptions o = options(4);
  auto p = std::make_shared<Projection>(fit_pixel_pca(src, o, comm));
  std::vector<float> in(64 * 48);
  for (int64_t i = 0; i < 64; ++i) pixels_preprocess(PatternSource::image(i), 4, "bilinear", o.norm, &in[i * 48]);
  std::vector<float> all(64 * 4), parts(64 * 4);
  make_projected_backbone(make_pixels_backbone(48), p, 3)->forward(in.data(), 64, all.data());
  auto one = make_projected_backbone(make_pixels_backbone(48), p, 1);
  for (int64_t b = 0; b < 64; b += 7) {
    const int64_t k = std::min<int64_t>(7, 64 - b);
    one->forward(&in[b * 48], k, &parts[b * 4]);
  }
  EXPECT_EQ(all, parts) << "bit-identical whatever the batch split and thread count";
  auto identity = make_pixels_backbone(48);
  EXPECT_EQ(identity->dim(), 48);
  std::vector<float> copy(48);
  identity->forward(in.data(), 1, copy.data());
  EXPECT_EQ(copy, std::vector<float>(in.begin(), in.begin() + 48));
}

TEST(ExtractPixels, BadDimensionsAreNamed) {
  PatternSource src(10);
  LocalCommunicator comm;
  PixelPcaOptions o = options(49);
  try {
    fit_pixel_pca(src, o, comm);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extract.pca_dim is 49 but the pixels backbone gives 48 values"),
              std::string::npos)
        << e.what();
  }
}
