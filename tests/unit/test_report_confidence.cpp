// The k-means confidence of report/confidence.h: the margin formula, and the
// streamed computation from files against a brute-force double computation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/tolerances.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "kmeans/kmeans_confidence.h"
#include "kmeans/kmeans_file.h"

namespace fs = std::filesystem;

namespace distclust::report {
namespace {

TEST(report_confidence, MarginFormula) {
  EXPECT_FLOAT_EQ(margin_confidence(0.f, 4.f), 1.f);     // on its centroid
  EXPECT_FLOAT_EQ(margin_confidence(1.f, 4.f), 0.5f);    // 1 - sqrt(1/4)
  EXPECT_FLOAT_EQ(margin_confidence(4.f, 4.f), 0.f);     // on the boundary
  EXPECT_FLOAT_EQ(margin_confidence(9.f, 4.f), 0.f);     // nearer another centroid: clamped
  EXPECT_FLOAT_EQ(margin_confidence(0.f, 0.f), 0.f);     // duplicate centroids
  EXPECT_FLOAT_EQ(margin_confidence(-1e-7f, 4.f), 1.f);  // rounding below zero
  EXPECT_FLOAT_EQ(margin_confidence(3.f, std::numeric_limits<float>::infinity()), 1.f);  // k = 1
  EXPECT_FLOAT_EQ(margin_confidence(1.f, std::nanf("")), 0.f);
}

TEST(report_confidence, MarginIsMonotone) {
  // Nearer the own centroid (d1 down) or farther from the next (d2 up): higher.
  float prev = -1;
  for (float d1 = 4.f; d1 >= 0.f; d1 -= 0.25f) {
    float c = margin_confidence(d1, 4.f);
    EXPECT_GE(c, prev);
    prev = c;
  }
  prev = -1;
  for (float d2 = 1.f; d2 <= 50.f; d2 += 1.f) {
    float c = margin_confidence(1.f, d2);
    EXPECT_GE(c, prev);
    prev = c;
  }
}

class report_confidence_files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dc_report_conf_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes features [n x d] and a kmeans.h5 with centroids [k x d] and assign.
  void write(int64_t n, int64_t d, int64_t k, const std::vector<float>& x, const std::vector<float>& c,
             const std::vector<int64_t>& a, bool spherical, int64_t centroid_d = 0) {
    LocalCommunicator self;
    {
      H5Writer w(feat(), self);
      w.write_all<float>("/features", {n, d}, x.data());
      w.commit();
    }
    H5Writer w(km(), self);
    w.write_all<float>("/centroids", {k, centroid_d ? centroid_d : d}, c.data());
    w.write_all<int64_t>("/assign", {n}, a.data());
    w.attr("spherical", int64_t(spherical ? 1 : 0));
    w.commit();
  }
  std::string feat() const { return (dir_ / "f.h5").string(); }
  std::string km() const { return (dir_ / "k.h5").string(); }
  fs::path dir_;
};

// Brute force in double: 1 - sqrt(d(own) / min d(other)).
std::vector<double> brute(int64_t n, int64_t d, int64_t k, std::vector<float> x, std::vector<float> c,
                          const std::vector<int64_t>& a, bool spherical) {
  auto unit = [&](std::vector<float>& v, int64_t rows) {
    for (int64_t i = 0; i < rows; ++i) {
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += double(v[i * d + j]) * v[i * d + j];
      for (int64_t j = 0; s > 0 && j < d; ++j) v[i * d + j] = float(v[i * d + j] / std::sqrt(s));
    }
  };
  if (spherical) unit(x, n), unit(c, k);
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) {
    double own = 0, other = INFINITY;
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t t = 0; t < d; ++t) s += std::pow(double(x[i * d + t]) - c[j * d + t], 2);
      if (j == a[i])
        own = s;
      else
        other = std::min(other, s);
    }
    out[i] = a[i] < 0 ? 0 : std::clamp(1 - std::sqrt(own / other), 0.0, 1.0);
  }
  return out;
}

TEST_F(report_confidence_files, MatchesBruteForce) {
  for (bool spherical : {false, true}) {
    const int64_t n = 700, d = 9, k = 6;
    std::mt19937 g(5);
    std::normal_distribution<float> z;
    std::vector<float> x(n * d), c(k * d);
    for (auto& v : c) v = 3 * z(g);
    std::vector<int64_t> a(n);
    for (int64_t i = 0; i < n; ++i) {
      int64_t j = i % k;
      for (int64_t t = 0; t < d; ++t) x[i * d + t] = c[j * d + t] + z(g);
      // Mostly the true centre; some rows deliberately wrong or invalid.
      a[i] = i % 50 == 7 ? (j + 1) % k : (i % 97 == 3 ? -1 : j);
    }
    write(n, d, k, x, c, a, spherical);
    LocalCommunicator self;
    EXPECT_EQ(read_kmeans_model(km()).spherical, spherical);
    std::vector<float> got = kmeans_margin_confidence(feat(), km(), self);
    std::vector<double> want = brute(n, d, k, x, c, a, spherical);
    ASSERT_EQ(got.size(), size_t(n));
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], tol::kMarginFromFloatDistances) << "row " << i << " spherical " << spherical;
  }
}

TEST_F(report_confidence_files, SingleCentroidGivesOne) {
  write(3, 2, 1, {0, 0, 1, 1, 2, 2}, {1, 1}, {0, 0, 0}, false);
  LocalCommunicator self;
  auto got = kmeans_margin_confidence(feat(), km(), self);
  EXPECT_EQ(got, (std::vector<float>{1, 1, 1}));
}

TEST_F(report_confidence_files, MismatchedFilesAreClearErrors) {
  write(3, 2, 2, {0, 0, 1, 1, 2, 2}, {1, 1, 0, 0}, {0, 0, 5}, false);
  LocalCommunicator self;
  try {
    kmeans_margin_confidence(feat(), km(), self);
    FAIL() << "assign 5 with 2 centroids accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/assign[2] = 5"), std::string::npos) << e.what();
  }
  write(3, 2, 1, {0, 0, 1, 1, 2, 2}, {1, 1, 1}, {0, 0, 0}, false, 3);  // centroids 1 x 3 vs D = 2
  LocalCommunicator self2;
  EXPECT_THROW(kmeans_margin_confidence(feat(), km(), self2), Error);
}

}  // namespace
}  // namespace distclust::report
