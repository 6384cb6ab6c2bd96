// SCAN with the LibTorch heads (runtime.kernels=torch, CPU tensors) across
// ranks: the gradient allreduced as one flat buffer gives the result of one
// process within the reduction tolerance of the CPU heads
// (test_scan_dist.cpp), and on one rank the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/test_common.h"
#include "comm/local_comm.h"
#include "kernels/compute_target.h"
#include "knn/knn.h"
#include "scan/scan.h"
#include "synth/synth_features.h"

using namespace distclust;
using test::world;

TEST(DistScanTorch, MatchesOneProcessWithinReductionTolerance) {
  auto comm = world();
  ScanParams p;
  p.features = test::shared_tmp(*comm, "scan-torch-features");
  p.knn = test::shared_tmp(*comm, "scan-torch-knn");
  if (comm->rank() == 0) {
    LocalCommunicator self;
    SynthFeaturesParams sp;
    sp.n = 1201, sp.d = 16, sp.k = 5, sp.noise = 0.6, sp.seed = 5;
    FeatureBlock b = synth_features(sp, 0, 1);
    write_features(p.features, self, b, false, {{"config_hash", "f"}});
    KnnParams kp;
    kp.features = p.features;
    kp.k = 10;
    kp.checkpoint = false;
    write_knn(p.knn, self, b, knn_exact(b, kp, self), kp, "", "k");
  }
  comm->barrier();
  p.neighbour_features = "replicate";
  p.clusters = 5, p.heads = 2, p.epochs = 8, p.min_steps = 0, p.batch = 150, p.hidden = 24;
  p.self_label_epochs = 2, p.threshold = 0.9;
  const ComputeTarget saved = compute_target();
  ComputeTarget t;
  t.torch = true;
  set_compute_target_for_tests(t);
  for (const char* head : {"linear", "mlp"}) {
    p.head = head;
    const ScanResult dist = scan(p, *comm);
    const std::vector<float> prob = comm->allgather(dist.probabilities);
    const std::vector<int64_t> assign = comm->allgather(dist.assign);
    LocalCommunicator self;
    const ScanResult ref = scan(p, self);
    ASSERT_EQ(dist.loss.size(), ref.loss.size());
    if (comm->size() == 1) {
      EXPECT_EQ(dist.loss, ref.loss) << head;
      EXPECT_EQ(prob, ref.probabilities) << head;
      continue;
    }
    // Exchanged neighbour rows (copied per step from the host) against
    // replicated ones (held by the compute, gathered by index): the same rows
    // in, the same bits out.
    ScanParams px = p;
    px.neighbour_features = "exchange";
    const ScanResult ex = scan(px, *comm);
    EXPECT_EQ(ex.neighbour_mode, "exchange");
    EXPECT_EQ(ex.loss, dist.loss) << head;
    EXPECT_EQ(ex.probabilities, dist.probabilities) << head;
    // The CPU heads' cross-rank tolerance (test_scan_dist.cpp): only the
    // order of the gradient and batch-mean sums differs.
    double lmax = 0;
    for (size_t i = 0; i < ref.loss.size(); ++i)
      lmax = std::max(lmax, std::abs(dist.loss[i] - ref.loss[i]) / std::max(1.0, std::abs(ref.loss[i])));
    int64_t differ = 0;
    for (size_t i = 0; i < assign.size(); ++i) differ += assign[i] != ref.assign[i];
    EXPECT_LE(lmax, 1e-4) << head;
    EXPECT_LE(differ, int64_t(0.005 * double(assign.size()))) << head << ": " << differ << " rows differ";
    if (comm->rank() == 0)
      std::printf("[ scan torch %s, %d ranks vs 1: loss rel diff %.2e, %lld assignments differ ]\n", head,
                  comm->size(), lmax, (long long)differ);
  }
  set_compute_target_for_tests(saved);
}
