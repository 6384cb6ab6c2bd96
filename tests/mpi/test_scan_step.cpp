// The data-parallel optimiser step of the SCAN heads: sharded Adam (reduce-
// scatter, update a block, all-gather) gives the parameters and moments of
// an allreduce followed by a full update, on 1, 2 and 3 ranks.
#include <gtest/gtest.h>

#include <cmath>

#include "common/test_common.h"
#include "distclust/comm.h"
#include "distclust/rng.h"
#include "scan/scan_heads.h"
#include "scan/scan_step.h"

using namespace distclust;
using test::world;

namespace {
/// Rank-dependent gradient with small-integer multiples of 2^-10, so sums
/// are exact in float whatever the reduction order.
void fill_grad(ScanHeads& h, int rank, int step) {
  std::vector<float>& g = h.grad();
  for (size_t i = 0; i < g.size(); ++i)
    g[i] = float(int64_t(key_hash(uint64_t(rank + 1), uint64_t(step), uint64_t(i)) % 2001) - 1000) / 1024.f;
}
}  // namespace

TEST(ScanStep, ShardedAdamEqualsAllreduceAndFullUpdate) {
  auto comm = world();
  const HeadShape shape{"linear", 64, 1000, 0, 5};  // 325,000 parameters: above kShardMin
  ScanHeads a(shape), b(shape);
  a.init(7);
  b.init(7);
  ASSERT_GE(int64_t(a.num_params()), DataParallelStep::kShardMin);
  DataParallelStep dp(int64_t(a.num_params()), *comm);
  EXPECT_EQ(dp.sharded(), comm->size() > 1);
  const AdamConfig cfg{1e-2, 1e-4};
  double t_comm = 0, t_adam = 0;
  for (int s = 0; s < 3; ++s) {
    fill_grad(a, comm->rank(), s);
    fill_grad(b, comm->rank(), s);
    dp.step(a, cfg, &t_comm, &t_adam);
    comm->allreduce_sum(b.grad().data(), b.grad().size());
    b.adam(cfg);
  }
  EXPECT_EQ(a.params(), b.params());
  EXPECT_EQ(a.adam_step(), b.adam_step());
  dp.gather_moments(a);
  EXPECT_EQ(a.adam_m(), b.adam_m());
  EXPECT_EQ(a.adam_v(), b.adam_v());
  EXPECT_GE(t_comm, 0.0);
  EXPECT_GE(t_adam, 0.0);
}

TEST(ScanStep, SmallHeadsStayUnsharded) {
  auto comm = world();
  DataParallelStep dp(DataParallelStep::kShardMin - 1, *comm);
  EXPECT_FALSE(dp.sharded());
}
