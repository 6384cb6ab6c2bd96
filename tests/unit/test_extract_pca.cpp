// The PCA of a network backbone's rows (feature_pca.h, pca.h): against a
// direct double-precision computation on the same rows, the L2 step before
// it, whitening, the rounding that keeps the moments exact, and the refusals.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "comm/local_comm.h"
#include "common/test_common.h"
#include "common/tolerances.h"
#include "distclust/error.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "extract/feature_pca.h"
#include "extract/pca.h"
#include "extract/pixels.h"

using namespace distclust;

namespace {

// Row i: a 4 x 4 keyed random image; row `bad` cannot be read.
class NoiseSource : public ImageSource {
 public:
  NoiseSource(int64_t n, int64_t bad) : n_(n), bad_(bad) { path_ = "noise"; }
  int64_t size() const override { return n_; }
  std::string id(int64_t i) const override { return "n:" + std::to_string(i); }
  int64_t label(int64_t) const override { return -1; }
  std::vector<std::string> class_names() const override { return {}; }
  RawImage read(int64_t i) const override {
    require(i != bad_, "n:", i, ": unreadable");
    RawImage r;
    r.encoded = false;
    r.pixels = cv::Mat(4, 4, CV_8UC3);
    KeyedRng rng(11, uint64_t(i));
    for (int k = 0; k < 48; ++k) r.pixels.data[k] = uint8_t(rng.uniform() * 256);
    return r;
  }
  std::string kind() const override { return "noise"; }

 private:
  int64_t n_, bad_;
};

// A small nonlinear "network": 48 inputs -> 10 features of unequal scale.
class FakeNet : public Backbone {
 public:
  int64_t dim() const override { return 10; }
  void forward(const float* x, int64_t batch, float* out) override {
    for (int64_t b = 0; b < batch; ++b)
      for (int k = 0; k < 10; ++k) {
        double s = 0;
        for (int j = 0; j < 48; ++j) s += std::sin(1.0 + k * 0.7 + j * 0.31 * (k + 1)) * x[b * 48 + j];
        out[b * 10 + k] = float((k + 1) * std::tanh(s / 8) + 0.5 * k);
      }
  }
  std::string describe() const override { return "fake, D = 10"; }
};

PreprocessParams unit_norm() {
  PreprocessParams p;
  p.mean = {0.5f};
  p.std = {0.25f};
  return p;
}

FeaturePcaOptions options(int dim, bool l2, bool whiten) {
  FeaturePcaOptions o;
  o.pca.dim = dim;
  o.pca.whiten = whiten;
  o.pca.max_sample = 1 << 20;
  o.normalize_input = l2;
  const PreprocessParams norm = unit_norm();
  o.prep = [norm](const cv::Mat& rgb, float* out) { pixels_preprocess(rgb, 4, "bilinear", norm, out); };
  o.row_floats = 48;
  o.batch = 7;
  return o;
}

}  // namespace

TEST(ExtractPca, QuantizationBitsKeepEveryMomentExact) {
  for (int64_t count : {int64_t(2), int64_t(1000), int64_t(20000), int64_t(1) << 30}) {
    const int bits = pca_quantization_bits(count);
    int log2n = 0;
    while ((int64_t(1) << log2n) < count) ++log2n;
    EXPECT_LE(2 * bits + log2n, 52) << count;
    EXPECT_GE(bits, 1);
    EXPECT_LE(bits, 24);
  }
  EXPECT_EQ(pca_quantization_bits(1000), 21);
  EXPECT_EQ(pca_quantization_bits(20000), 18);
}

TEST(ExtractPca, BackboneRowsMatchADirectComputationWithTheL2StepAndWhitening) {
  const int64_t n = 400;
  NoiseSource src(n, /*bad=*/5);
  LocalCommunicator comm;
  FakeNet net;
  const FeaturePcaOptions o = options(4, /*l2=*/true, /*whiten=*/true);
  const Projection p = fit_feature_pca(src, net, o, comm);
  ASSERT_EQ(p.in_dim, 10);
  ASSERT_EQ(p.out_dim, 4);
  EXPECT_EQ(p.sample_rows, n - 1) << "the unreadable row is left out";
  EXPECT_TRUE(p.normalize_input);

  // Direct: every readable row through the net, L2-normalised, in double.
  std::vector<std::vector<double>> rows;
  std::vector<double> mean(10, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    if (i == 5) continue;
    std::vector<float> in(48), f(10);
    o.prep(src.read(i).pixels, in.data());
    net.forward(in.data(), 1, f.data());
    double ss = 0;
    for (float v : f) ss += double(v) * v;
    std::vector<double> r(10);
    for (int j = 0; j < 10; ++j) r[j] = f[j] / std::sqrt(ss), mean[j] += r[j] / double(n - 1);
    rows.push_back(r);
  }
  std::vector<double> c(100, 0.0), vec, val;
  for (const auto& r : rows)
    for (int i = 0; i < 10; ++i)
      for (int j = 0; j < 10; ++j) c[i * 10 + j] += (r[i] - mean[i]) * (r[j] - mean[j]) / double(n - 2);
  top_eigenpairs(c, 10, 4, 1000, 1, vec, val);
  for (int j = 0; j < 10; ++j) EXPECT_NEAR(p.mean[j], mean[j], tol::kFloatFew);
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(p.variances[k], val[k], tol::kFloatFew * val[0]) << k;
    double dot = 0;
    for (int j = 0; j < 10; ++j) dot += p.components[k * 10 + j] * vec[k * 10 + j];
    EXPECT_NEAR(dot, 1.0, tol::kFloatFew) << k;
    EXPECT_DOUBLE_EQ(p.scales[k], 1.0 / std::sqrt(p.variances[k] + kWhitenEps * p.variances[0]));
  }

  // Applied: L2, centre, project, scale; whitened outputs have unit variance.
  auto projected = make_projected_backbone(std::make_unique<FakeNet>(), std::make_shared<Projection>(p), 2);
  std::vector<double> var(4, 0.0), avg(4, 0.0);
  std::vector<std::vector<float>> outs;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 5) continue;
    std::vector<float> in(48), y(4);
    o.prep(src.read(i).pixels, in.data());
    projected->forward(in.data(), 1, y.data());
    outs.push_back(y);
    for (int k = 0; k < 4; ++k) avg[k] += y[k] / double(n - 1);
  }
  for (const auto& y : outs)
    for (int k = 0; k < 4; ++k) var[k] += (y[k] - avg[k]) * (y[k] - avg[k]) / double(n - 2);
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(var[k], 1.0, 1e-4) << k;
  EXPECT_NE(projected->describe().find("L2, PCA 4 whitened"), std::string::npos) << projected->describe();
}

TEST(ExtractPca, TooManyComponentsAndAMismatchedProjectionAreNamed) {
  NoiseSource src(20, -1);
  LocalCommunicator comm;
  FakeNet net;
  try {
    fit_feature_pca(src, net, options(11, false, false), comm);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("extract.pca_dim is 11 but the backbone gives 10 values"), std::string::npos)
        << e.what();
  }
  // Whitening 8 components of 6 rows: 3 directions arbitrary, scaled ~600x
  // (the audit's garbage columns); refused, naming both keys.
  {
    NoiseSource few(6, -1);
    FeaturePcaOptions o = options(8, false, true);
    const std::string e = test::error_of([&] { fit_feature_pca(few, net, o, comm); });
    EXPECT_NE(e.find("extract.pca_whiten: 6 sampled rows span at most 5 directions, fewer than extract.pca_dim = 8"),
              std::string::npos)
        << e;
    o.pca.whiten = false;
    EXPECT_NO_THROW(fit_feature_pca(few, net, o, comm));  // unwhitened, those directions carry ~0
  }
  Projection p = fit_feature_pca(src, net, options(3, false, false), comm);
  EXPECT_FALSE(p.normalize_input);
  EXPECT_TRUE(p.scales.empty());
  p.from = "old/features.h5";
  try {
    make_projected_backbone(make_pixels_backbone(48), std::make_shared<Projection>(p), 1);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stored in old/features.h5 takes rows of 10 values, but the backbone (pixels, "
                                         "D = 48) gives 48"),
              std::string::npos)
        << e.what();
  }
}

// The keyed draw alone gave max_sample +- sqrt(max_sample) rows (0 of 30 for
// pca_sample 2, and the pixel PCA then said no image was readable): it is
// topped up to max_sample by the smallest keys, keeps its own rows where it
// had enough, and is the same union of rows for any rank count.
TEST(ExtractPca, SampleHoldsAtLeastMaxSampleRowsOnAnyRankCount) {
  for (uint64_t seed = 1; seed <= 40; ++seed)
    for (int64_t n : {30, 200, 5000})
      for (int64_t m : {2, 3, 10, 29, 30, 31}) {
        const std::vector<int64_t> all = pca_sample_rows(n, RowRange{0, n}, m, seed);
        ASSERT_GE(int64_t(all.size()), std::min(m, n)) << "seed " << seed << " n " << n << " m " << m;
        if (n <= m) {
          ASSERT_EQ(int64_t(all.size()), n);
        }
        // The plain keyed draw's rows stay in (results kept where it had enough).
        int64_t drawn = 0;
        for (int64_t i = 0; i < n; ++i)
          if (unit_double(key_hash(seed, uint64_t(i), 0x70636173616d706cull)) < double(m) / double(n)) {
            ++drawn;
            ASSERT_TRUE(std::binary_search(all.begin(), all.end(), i));
          }
        if (n > m) {
          ASSERT_EQ(int64_t(all.size()), std::max(drawn, m));
        }
        for (int size : {2, 3, 7}) {
          std::vector<int64_t> joined;
          for (int r = 0; r < size; ++r) {
            const std::vector<int64_t> part = pca_sample_rows(n, row_block(n, r, size), m, seed);
            joined.insert(joined.end(), part.begin(), part.end());
          }
          ASSERT_EQ(joined, all) << size << " ranks";
        }
      }
}

TEST(ExtractPca, MomentsTooLargeForTheMachineAreRefusedByName) {
  // D x D doubles on rank 0, several times over: D = 2^20 is 8 TiB a copy.
  // The stages refuse D above kPcaMaxInputDim first; PcaMoments itself
  // checks what the machine holds (unchecked: a bare bad_alloc).
  try {
    PcaMoments mo(int64_t(1) << 20);
    ADD_FAILURE() << "allocated " << mo.cross.size() << " doubles";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a PCA of D=1048576 columns"), std::string::npos) << e.what();
  }
  EXPECT_GE(pca_memory_bytes(6144), 4.0 * 6144.0 * 6144.0 * 8.0);
}

namespace {

// FakeNet's rows repeated to `d` columns, counting the images it was given.
class WideNet : public Backbone {
 public:
  explicit WideNet(int64_t d) : d_(d) {}
  int64_t dim() const override { return d_; }
  void forward(const float* x, int64_t batch, float* out) override {
    images += batch;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t k = 0; k < d_; ++k) out[b * d_ + k] = x[b * 48 + k % 48];
  }
  std::string describe() const override { return "wide"; }
  int64_t images = 0;

 private:
  int64_t d_;
};

}  // namespace

TEST(ExtractPca, APcaThatCannotFitFailsBeforeTheSamplePass) {
  // D = 8192 (kPcaMaxInputDim): 2 GiB of D x D doubles. Under an address-
  // space limit 1 GiB above what is mapped, the PCA cannot fit; the check
  // used to run only when the moments were made, after every sampled image
  // had gone through the network (minutes on a CPU node). In a child
  // process: the limit must not reach the other tests.
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_EXIT(
      {
        rlimit lim{};
        lim.rlim_cur = lim.rlim_max = rlim_t(mapped_bytes() + double(1 << 30));
        if (setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(3);
        NoiseSource src(40, -1);
        WideNet net(kPcaMaxInputDim);
        LocalCommunicator comm;
        try {
          fit_feature_pca(src, net, options(2, false, false), comm);
        } catch (const Error& e) {
          std::fprintf(stderr, "%s; images through the network: %lld\n", e.what(), (long long)net.images);
          std::_Exit(net.images == 0 ? 0 : 1);
        }
        std::_Exit(2);
      },
      ::testing::ExitedWithCode(0), "a PCA of D=8192 columns .* images through the network: 0");
}
