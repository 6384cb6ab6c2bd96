// SCAN with the LibTorch heads on a GPU (runtime.device cuda:0) against the
// hand-written CPU heads. Compiled everywhere; skipped, with the reason,
// where the plugin's LibTorch sees no GPU (CPU-only LibTorch, no device).
// The CPU suite runs the same code on CPU tensors (tests/unit/test_scan_torch.cpp).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/tolerances.h"
#include "comm/local_comm.h"
#include "eval/metrics.h"
#include "kernels/compute_target.h"
#include "knn/knn.h"
#include "scan/scan.h"
#include "synth/synth_features.h"

using namespace distclust;

namespace {

std::string tmp(const std::string& name) {
  return (std::string("/tmp/dc-gpu-scan-") + std::to_string(::getpid()) + "-") + name;
}

ScanResult run(const ScanParams& p, const ComputeTarget& t) {
  const ComputeTarget saved = compute_target();
  set_compute_target_for_tests(t);
  LocalCommunicator c;
  ScanResult r = scan(p, c, "", "key");
  set_compute_target_for_tests(saved);
  return r;
}

}  // namespace

TEST(ScanTorchGpu, HeadsOnTheGpuMatchTheCpuHeads) {
  const TorchInfo info = torch_info();
  if (info.cuda_devices == 0)
    GTEST_SKIP() << "no GPU visible to LibTorch " << info.version
                 << (info.cuda_built ? " (built with CUDA)" : " (built without CUDA)");
  LocalCommunicator c;
  SynthFeaturesParams sp;
  sp.n = 1500, sp.d = 16, sp.k = 5, sp.noise = 0.5, sp.seed = 3;
  FeatureBlock b = synth_features(sp, 0, 1);
  ScanParams p;
  p.features = tmp("features.h5");
  p.knn = tmp("knn.h5");
  write_features(p.features, c, b, false, {{"config_hash", "h"}});
  KnnParams kp;
  kp.features = p.features;
  kp.k = 10;
  kp.checkpoint = false;
  write_knn(p.knn, c, b, knn_exact(b, kp, c), kp, "", "k");
  p.clusters = 5, p.heads = 3, p.epochs = 12, p.min_steps = 0, p.batch = 128, p.hidden = 32;
  p.self_label_epochs = 2, p.threshold = 0.9;
  for (const char* head : {"linear", "mlp"}) {
    p.head = head;
    ComputeTarget cpu, gpu;
    gpu.torch = true;
    gpu.device = "cuda:0";  // fp32: cuBLAS without tf32
    const ScanResult a = run(p, cpu), g = run(p, gpu);
    ASSERT_EQ(g.loss.size(), a.loss.size());
    double dl = 0;
    for (size_t i = 0; i < a.loss.size(); ++i)
      dl = std::max(dl, std::abs(g.loss[i] - a.loss[i]) / std::max(1.0, std::abs(a.loss[i])));
    EXPECT_LE(dl, tol::kScanTorchLoss) << head;
    EXPECT_GE(accuracy(a.assign, g.assign), 1.0 - tol::kScanTorchAssignFraction) << head;
    std::printf("[ scan %s on %s: loss rel diff %.2e vs the CPU heads ]\n", head, info.devices.c_str(), dl);
  }
  std::remove(p.features.c_str());
  std::remove(p.knn.c_str());
}
