// Distributed k-means and HDF5 I/O give the same answer for any rank count:
// each rank also runs the whole problem alone (LocalCommunicator) and the
// distributed result must match it bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "io/h5store.h"
#include "kernels/exact_total.h"
#include "kernels/torch_abi.h"
#include "kernels/torch_plugin.h"
#include "kmeans/kmeans.h"
#include "eval/metrics.h"
#include "synth/synth_features.h"

using namespace distclust;
using test::world;

namespace {

SynthFeaturesParams mixture() {
  SynthFeaturesParams p;
  p.n = 6007, p.d = 24, p.k = 7, p.noise = 0.4, p.seed = 3;
  return p;
}

/// The LibTorch kernel on CPU tensors, one thread (throws naming the plugin's error).
std::unique_ptr<SearchKernel> torch_cpu_kernel() {
  TorchComputeSpec spec;
  spec.threads = 1;
  std::string error;
  std::unique_ptr<SearchKernel> k(torch_plugin_function<TorchSearchFn>(kTorchSearchV6)(&spec, &error));
  if (!k) throw Error("LibTorch search kernel: " + error);
  return k;
}

}  // namespace

TEST(DistKMeans, BitIdenticalToOneProcess) {
  auto comm = world();
  auto kernel = make_cpu_search();
  for (const char* init : {"kmeans++", "random", "kmeans-parallel"}) {
    for (bool spherical : {false, true}) {
      KMeansParams kp;
      kp.k = 9, kp.iters = 15, kp.init = init, kp.spherical = spherical, kp.restarts = 2, kp.seed = 5;
      FeatureBlock mine = synth_features(mixture(), comm->rank(), comm->size());
      FeatureBlock all = synth_features(mixture(), 0, 1);
      // One far row and 30 copies of another, across the 3-rank split at
      // row 4004: where the sample misses the far row, it holds most of
      // the potential and joins the k-means++ sample (kmeans_init.cpp
      // heavy_rows; 2 of the 4 k-means++ fits here), on any split alike.
      for (FeatureBlock* f : {&mine, &all})
        for (int64_t g = f->rows.begin; g < f->rows.end; ++g) {
          float* x = f->x.data() + (g - f->rows.begin) * 24;
          if (g == 1234) x[2] = 90.f;
          if (g >= 4000 && g < 4030) std::fill(x, x + 24, 0.f), x[2] = -60.f;
        }
      KMeansResult dist = kmeans(mine, kp, *comm, *kernel);
      LocalCommunicator self;
      KMeansResult ref = kmeans(all, kp, self, *kernel);
      SCOPED_TRACE(std::string(init) + (spherical ? " spherical" : " l2"));
      // Bit-identical by construction (kmeans.h): exact sums, aligned tiles.
      ASSERT_EQ(dist.iterations, ref.iterations);
      EXPECT_EQ(dist.final_inertia, ref.final_inertia);
      EXPECT_EQ(dist.inertia, ref.inertia);
      EXPECT_TRUE(dist.centroids == ref.centroids) << "centroids differ from the one-process run";
      for (int64_t i = 0; i < mine.local_rows(); ++i) {
        ASSERT_EQ(dist.assign[i], ref.assign[mine.rows.begin + i]) << "row " << mine.rows.begin + i;
        ASSERT_EQ(dist.distance[i], ref.distance[mine.rows.begin + i]) << "row " << mine.rows.begin + i;
      }
    }
  }
}

TEST(DistKMeans, AFarTightGroupIsSeededAlikeOnAnyRankCount) {
  // 200 rows near 1e4 in every column, 0.05 apart, across the 3-rank split
  // at row 2003: k-means++ sums their small distances exactly from the
  // rows (kmeans_pp.cpp exact_distance), on whichever rank holds them; the
  // group gets one centre of its own (the build before gave it two), and
  // the fit is the one-process fit.
  auto comm = world();
  auto kernel = make_cpu_search();
  KMeansParams kp;
  kp.k = 8, kp.iters = 15, kp.restarts = 1, kp.seed = 3;
  SynthFeaturesParams sp = mixture();
  sp.noise = 0.1;  // the blobs' potential below the far rows' float rounding (before: 2-3 far seeds)
  FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
  FeatureBlock all = synth_features(sp, 0, 1);
  for (FeatureBlock* f : {&mine, &all})
    for (int64_t g = std::max<int64_t>(f->rows.begin, 1903); g < std::min<int64_t>(f->rows.end, 2103); ++g)
    {
      std::mt19937 gen{static_cast<uint32_t>(g)};  // by global row: the same values on any split
      std::normal_distribution<float> z(0.f, 0.05f);
      for (int j = 0; j < 24; ++j) f->x[size_t((g - f->rows.begin) * 24 + j)] = 1e4f + z(gen);
    }
  const KMeansResult dist = kmeans(mine, kp, *comm, *kernel);
  LocalCommunicator self;
  const KMeansResult ref = kmeans(all, kp, self, *kernel);
  EXPECT_TRUE(dist.centroids == ref.centroids) << "centroids differ from the one-process run";
  EXPECT_EQ(dist.final_inertia, ref.final_inertia);
  for (int64_t i = 0; i < mine.local_rows(); ++i)
    ASSERT_EQ(dist.assign[size_t(i)], ref.assign[size_t(mine.rows.begin + i)]) << "row " << mine.rows.begin + i;
  const int64_t far = ref.assign[1903];
  for (int64_t g = 0; g < all.local_rows(); ++g)
    ASSERT_EQ(ref.assign[size_t(g)] == far, g >= 1903 && g < 2103) << "row " << g << ": the far group shares its centre";
}

TEST(DistKMeans, TwoCloseFarGroupsAreSplitAlikeOnAnyRankCount) {
  // Two groups of 100 rows near 1e4 in every column, 0.05 wide and 3 apart
  // in column 0, the boundary between them at the 3-rank split (row 2003):
  // their best two float scores lie within the scores' rounding, and the
  // rows are decided again from their differences (kmeans/assign.h), on
  // whichever rank holds them. Before, Lloyd split the groups at random.
  auto comm = world();
  auto kernel = make_cpu_search();
  KMeansParams kp;
  kp.k = 9, kp.iters = 15, kp.restarts = 1, kp.seed = 3;
  SynthFeaturesParams sp = mixture();
  sp.noise = 0.1;
  FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
  FeatureBlock all = synth_features(sp, 0, 1);
  for (FeatureBlock* f : {&mine, &all})
    for (int64_t g = std::max<int64_t>(f->rows.begin, 1903); g < std::min<int64_t>(f->rows.end, 2103); ++g) {
      std::mt19937 gen{static_cast<uint32_t>(g)};  // by global row: the same values on any split
      std::normal_distribution<float> z(0.f, 0.05f);
      for (int j = 0; j < 24; ++j) f->x[size_t((g - f->rows.begin) * 24 + j)] = 1e4f + (g >= 2003 && j == 0 ? 3.f : 0.f) + z(gen);
    }
  const KMeansResult dist = kmeans(mine, kp, *comm, *kernel);
  LocalCommunicator self;
  const KMeansResult ref = kmeans(all, kp, self, *kernel);
  EXPECT_TRUE(dist.centroids == ref.centroids) << "centroids differ from the one-process run";
  EXPECT_EQ(dist.final_inertia, ref.final_inertia);
  for (int64_t i = 0; i < mine.local_rows(); ++i)
    ASSERT_EQ(dist.assign[size_t(i)], ref.assign[size_t(mine.rows.begin + i)]) << "row " << mine.rows.begin + i;
  for (int64_t first : {1903, 2003}) {
    const int64_t c = ref.assign[size_t(first)];
    for (int64_t g = 0; g < all.local_rows(); ++g)
      ASSERT_EQ(ref.assign[size_t(g)] == c, g >= first && g < first + 100) << "row " << g << " (group from " << first << ")";
  }
}

TEST(DistKMeans, KMeansParallelPotentialIsTheSameForAnyRankCount) {
  // k-means||'s draws compare with l * closest / phi. phi was a double sum
  // over ranks: 1 then fifteen 2^-53 sums to 1 in one process (each small
  // term rounds away, ties to even), but a rank holding only small terms
  // sums them first, and the total came out above 1 on 2 and 3 ranks.
  auto comm = world();
  const int64_t n = 16;
  std::vector<float> all(size_t(n), std::ldexp(1.0f, -53));
  all[0] = 1.0f;
  const std::vector<uint8_t> valid_all(size_t(n), 1);
  const RowRange r = row_block(n, comm->rank(), comm->size());
  const std::vector<float> mine(all.begin() + r.begin, all.begin() + r.end);
  const std::vector<uint8_t> valid(size_t(r.size()), 1);
  LocalCommunicator self;
  const auto potential = [](const std::vector<float>& closest, const std::vector<uint8_t>& valid, Communicator& c) {
    return exact_nonnegative_total(  // as k-means|| sums phi
        int64_t(closest.size()), [&](int64_t i) { return valid[size_t(i)] ? double(closest[size_t(i)]) : -1.0; }, c);
  };
  EXPECT_EQ(potential(mine, valid, *comm), potential(all, valid_all, self));
  double naive = 0, one = 0;  // the case tells a double sum over ranks apart
  for (float v : mine) naive += v;
  for (float v : all) one += v;
  if (comm->size() > 1) {
    EXPECT_NE(comm->sum(naive), one);
  }
}

TEST(DistKMeans, SmallNormsGiveTheSameResultForAnyRankCount) {
  // Rows of norm ~0.01: k-means++'s first draw overflowed its exact-sum grid
  // and the seeds (and so the clusters) depended on the rank count.
  auto comm = world();
  auto kernel = make_cpu_search();
  auto scaled = [](FeatureBlock b) {
    for (float& v : b.x) v *= 0.01f;
    return b;
  };
  KMeansParams kp;
  kp.k = 9, kp.iters = 10, kp.seed = 2;
  FeatureBlock mine = scaled(synth_features(mixture(), comm->rank(), comm->size()));
  KMeansResult dist = kmeans(mine, kp, *comm, *kernel);
  LocalCommunicator self;
  FeatureBlock all = scaled(synth_features(mixture(), 0, 1));
  KMeansResult ref = kmeans(all, kp, self, *kernel);
  EXPECT_TRUE(dist.centroids == ref.centroids) << "centroids differ from the one-process run";
  for (int64_t i = 0; i < mine.local_rows(); ++i)
    ASSERT_EQ(dist.assign[i], ref.assign[mine.rows.begin + i]) << "row " << mine.rows.begin + i;
}

TEST(DistKMeans, RecoversWellSeparatedMixture) {
  auto comm = world();
  SynthFeaturesParams sp = mixture();
  sp.noise = 0.3;
  FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
  KMeansParams kp;
  kp.k = sp.k, kp.restarts = 3;
  auto kernel = make_cpu_search();
  KMeansResult r = kmeans(mine, kp, *comm, *kernel);
  auto pred = comm->allgather(r.assign);
  auto truth = comm->allgather(mine.labels);
  Scores s = score(truth, pred);
  EXPECT_GE(s.ari, 0.99);
  EXPECT_GE(s.acc, 0.99);
}

TEST(DistH5, CollectiveWriteThenBlockReadRoundTrips) {
  auto comm = world();
  FeatureBlock mine = synth_features(mixture(), comm->rank(), comm->size());
  for (int i = 0; i < mine.local_rows(); ++i) mine.valid[i] = (mine.rows.begin + i) % 5 != 0;
  for (bool half : {false, true}) {
    std::string path = test::shared_tmp(*comm, half ? "roundtrip16" : "roundtrip32");
    write_features(path, *comm, mine, half, {{"backbone", "test"}});
    EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0) << "temporary file left behind";
    FeatureBlock back = read_features(path, *comm);
    ASSERT_EQ(back.rows.begin, mine.rows.begin);
    ASSERT_EQ(back.x.size(), mine.x.size());
    for (size_t j = 0; j < mine.x.size(); ++j) {
      if (half) ASSERT_NEAR(back.x[j], mine.x[j], tol::kHalfRelative * std::abs(mine.x[j]) + 1e-7);
      else ASSERT_EQ(back.x[j], mine.x[j]);
    }
    EXPECT_EQ(back.labels, mine.labels);
    EXPECT_EQ(back.valid, mine.valid);
    LocalCommunicator self;
    H5Reader r(path, self);
    EXPECT_EQ(r.info("/features").dtype, half ? "float16" : "float32");
    EXPECT_EQ(r.attr_string("backbone"), "test");
  }
}

TEST(DistKMeans, InvalidRowsAreIgnored) {
  auto comm = world();
  FeatureBlock mine = synth_features(mixture(), comm->rank(), comm->size());
  // Invalid rows hold garbage that would pull a centroid away if counted.
  for (int64_t i = 0; i < mine.local_rows(); ++i)
    if ((mine.rows.begin + i) % 10 == 0) {
      mine.valid[i] = 0;
      for (int64_t j = 0; j < mine.d; ++j) mine.x[i * mine.d + j] = 1e6f;
    }
  KMeansParams kp;
  kp.k = 7, kp.restarts = 2;
  auto kernel = make_cpu_search();
  KMeansResult r = kmeans(mine, kp, *comm, *kernel);
  for (int64_t i = 0; i < mine.local_rows(); ++i) {
    if (!mine.valid[i]) EXPECT_EQ(r.assign[i], -1);
    else EXPECT_GE(r.assign[i], 0);
  }
  for (float c : r.centroids) EXPECT_LT(std::fabs(c), 2.0f);
}

TEST(DistKMeans, TorchKernelMatchesOneProcessAndOpenBlas) {
  // The LibTorch kernel and k-means step on CPU tensors (the GPU's code
  // path, kernels/search_torch.h): distributed = one process, bit for bit
  // (aligned query blocks, exact sums), and the OpenBLAS kernel's answer.
  auto comm = world();
  std::unique_ptr<SearchKernel> torch = torch_cpu_kernel();
  auto cpu = make_cpu_search();
  for (bool spherical : {false, true}) {
    KMeansParams kp;
    kp.k = 9, kp.iters = 10, kp.spherical = spherical, kp.restarts = 2, kp.seed = 5;
    SynthFeaturesParams sp = mixture();
    sp.noise = 0.3;
    FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
    KMeansResult dist = kmeans(mine, kp, *comm, *torch);
    LocalCommunicator self;
    FeatureBlock all = synth_features(sp, 0, 1), all2 = all;
    KMeansResult ref = kmeans(all, kp, self, *torch), blas = kmeans(all2, kp, self, *cpu);
    SCOPED_TRACE(spherical ? "spherical" : "l2");
    EXPECT_EQ(dist.inertia, ref.inertia);
    EXPECT_TRUE(dist.centroids == ref.centroids) << "centroids differ from the one-process run";
    EXPECT_TRUE(blas.centroids == ref.centroids) << "centroids differ from the OpenBLAS kernel's";
    EXPECT_NEAR(blas.final_inertia, ref.final_inertia, 1e-6 * blas.final_inertia);
    for (int64_t i = 0; i < mine.local_rows(); ++i)
      ASSERT_EQ(dist.assign[i], blas.assign[mine.rows.begin + i]) << "row " << mine.rows.begin + i;
  }
}

TEST(DistKMeans, FewerRowsThanRanks) {
  // Under mpiexec -n 3 one rank holds no rows: its norms vector is empty
  // (null data()), which L2 assignment once refused ("L2 mode needs row
  // norms"), ending kmeans, gmm, IVF l2 and assign for n < ranks.
  auto comm = world();
  std::unique_ptr<SearchKernel> torch = torch_cpu_kernel();
  auto cpu = make_cpu_search();
  SynthFeaturesParams sp = mixture();
  sp.n = 2;
  for (SearchKernel* kernel : {cpu.get(), torch.get()}) {
    for (const char* init : {"kmeans++", "random", "kmeans-parallel"}) {
      for (bool spherical : {false, true}) {
        SCOPED_TRACE(kernel->name() + " " + init + (spherical ? " spherical" : " l2"));
        KMeansParams kp;
        kp.k = 1, kp.iters = 3, kp.init = init, kp.spherical = spherical, kp.seed = 5;
        FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
        KMeansResult dist = kmeans(mine, kp, *comm, *kernel);
        LocalCommunicator self;
        FeatureBlock all = synth_features(sp, 0, 1);
        KMeansResult ref = kmeans(all, kp, self, *kernel);
        EXPECT_TRUE(dist.centroids == ref.centroids);
        for (int64_t i = 0; i < mine.local_rows(); ++i) EXPECT_EQ(dist.assign[i], ref.assign[mine.rows.begin + i]);
      }
    }
  }
}
