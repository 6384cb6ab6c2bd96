// The distributed Gaussian mixture gives the same answer for any rank count:
// each rank also fits the whole problem alone (LocalCommunicator) and the
// distributed result must match it bit for bit (exact sums: gmm_stats.h).
#include <gtest/gtest.h>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "eval/metrics.h"
#include "gmm/gmm.h"
#include "synth/synth_features.h"

using namespace distclust;
using test::world;

namespace {

SynthFeaturesParams low_dim() {
  SynthFeaturesParams p;
  p.n = 4001, p.d = 6, p.k = 5, p.noise = 0.9, p.seed = 7;
  return p;
}

/// Rows 0, 13, 26, ... invalid, holding garbage.
void spoil(FeatureBlock& b) {
  for (int64_t i = 0; i < b.local_rows(); ++i)
    if ((b.rows.begin + i) % 13 == 0) {
      b.valid[i] = 0;
      for (int64_t j = 0; j < b.d; ++j) b.x[i * b.d + j] = 1e5f;
    }
}

}  // namespace

TEST(DistGMM, BitIdenticalToOneProcess) {
  auto comm = world();
  // far: row 100's column 2 (0: none). 1e8 makes the column grids too
  // coarse for the components there, so its iterations run the two-pass
  // per-component E-step (gmm_stats.h GMMGrids), whose measured maxima
  // must be the same for any rank count too.
  for (const float far : {0.0f, 1e8f})
  for (const char* cov : {"full", "diag"}) {
    GMMParams p;
    p.k = 7, p.covariance = cov, p.restarts = 2, p.iters = 25, p.tol = 0, p.seed = 3;
    const auto set_far = [far](FeatureBlock& b) {
      if (far != 0 && b.rows.begin <= 100 && 100 < b.rows.end) b.x[(100 - b.rows.begin) * b.d + 2] = far;
    };
    FeatureBlock mine = synth_features(low_dim(), comm->rank(), comm->size());
    spoil(mine);
    set_far(mine);
    GMMResult dist = gmm(mine, p, *comm);
    LocalCommunicator self;
    FeatureBlock all = synth_features(low_dim(), 0, 1);
    spoil(all);
    set_far(all);
    GMMResult ref = gmm(all, p, self);
    SCOPED_TRACE(std::string(cov) + (far != 0 ? " with a far value" : ""));
    ASSERT_EQ(dist.iterations, ref.iterations);
    EXPECT_EQ(dist.log_likelihood, ref.log_likelihood);
    EXPECT_EQ(dist.restart_log_likelihood, ref.restart_log_likelihood);
    EXPECT_EQ(dist.final_log_likelihood, ref.final_log_likelihood);
    EXPECT_EQ(dist.best_restart, ref.best_restart);
    EXPECT_TRUE(dist.model.means == ref.model.means) << "means differ from the one-process run";
    EXPECT_TRUE(dist.model.covariances == ref.model.covariances) << "covariances differ";
    EXPECT_TRUE(dist.model.weights == ref.model.weights) << "weights differ";
    const int64_t k = p.k;
    for (int64_t i = 0; i < mine.local_rows(); ++i) {
      const int64_t g = mine.rows.begin + i;
      ASSERT_EQ(dist.assign[i], ref.assign[g]) << "row " << g;
      ASSERT_EQ(dist.confidence[i], ref.confidence[g]) << "row " << g;
      for (int64_t c = 0; c < k; ++c) ASSERT_EQ(dist.probabilities[i * k + c], ref.probabilities[g * k + c]);
    }
  }
}

TEST(DistGMM, RecoversTheMixture) {
  auto comm = world();
  SynthFeaturesParams sp = low_dim();
  sp.noise = 0.4;
  FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
  GMMParams p;
  p.k = sp.k, p.restarts = 2;
  GMMResult r = gmm(mine, p, *comm);
  Scores s = score(comm->allgather(mine.labels), comm->allgather(r.assign));
  EXPECT_GE(s.acc, 0.99);
}
