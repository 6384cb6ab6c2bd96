// The LibTorch SCAN heads (scan/scan_compute.h, runtime.kernels=torch) on
// CPU tensors against the hand-written OpenBLAS heads: the same seed,
// batches and initial parameters, so the two differ only by float rounding
// (tol::kScanTorchLoss); on a GPU too (ScanTorch.Cuda*, ctest label gpu).
// Also: the state round-trips through the flat layout (checkpoint and
// resume), held rows give the logits of host rows, an empty batch steps.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "common/test_common.h"
#include "common/tolerances.h"
#include "comm/local_comm.h"
#include "distclust/error.h"
#include "distclust/rng.h"
#include "eval/metrics.h"
#include "kernels/compute_target.h"
#include "knn/knn.h"
#include "scan/scan.h"
#include "scan/scan_compute.h"
#include "scan/scan_rows.h"
#include "synth/synth_features.h"

using namespace distclust;

namespace {

std::string tmp(const std::string& name) {
  return (std::string("/tmp/dc-unit-scan-torch-") + std::to_string(::getpid()) + "-") + name;
}

/// Sets the compute target for the scope of a test, then restores it.
struct Target {
  ComputeTarget saved = compute_target();
  explicit Target(bool torch) {
    ComputeTarget t;
    t.torch = torch;
    set_compute_target_for_tests(t);
  }
  ~Target() { set_compute_target_for_tests(saved); }
};

/// A 5-component mixture and its exact knn.h5; the labels.
struct Inputs {
  ScanParams p;
  std::vector<int64_t> labels;
};

Inputs make_inputs(const std::string& tag, const std::string& head) {
  LocalCommunicator c;
  SynthFeaturesParams sp;
  sp.n = 1500, sp.d = 16, sp.k = 5, sp.noise = 0.5, sp.seed = 3;
  FeatureBlock b = synth_features(sp, 0, 1);
  Inputs in;
  in.labels = b.labels;
  in.p.features = tmp(tag + "-features.h5");
  in.p.knn = tmp(tag + "-knn.h5");
  write_features(in.p.features, c, b, false, {{"config_hash", "h"}});
  KnnParams kp;
  kp.features = in.p.features;
  kp.k = 10;
  kp.checkpoint = false;
  write_knn(in.p.knn, c, b, knn_exact(b, kp, c), kp, "", "k");
  in.p.clusters = 5;
  in.p.heads = 3;
  in.p.epochs = 12;
  in.p.min_steps = 0;
  in.p.batch = 128;
  in.p.head = head;
  in.p.hidden = 32;
  in.p.self_label = true;
  in.p.self_label_epochs = 2;
  in.p.threshold = 0.9;
  return in;
}

ScanResult run(const ScanParams& p, bool torch, const std::string& ckpt = "") {
  Target t(torch);
  LocalCommunicator c;
  return scan(p, c, ckpt, "key");
}

/// Largest relative difference of two loss curves (relative to max(1, |loss|)).
double curve_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  return m;
}

void expect_torch_matches_cpu(const std::string& head) {
  Inputs in = make_inputs(head, head);
  const ScanResult cpu = run(in.p, false), tr = run(in.p, true);
  ASSERT_EQ(tr.loss.size(), cpu.loss.size());
  const double dl = curve_diff(tr.loss, cpu.loss), dc = curve_diff(tr.consistency, cpu.consistency);
  EXPECT_LE(dl, tol::kScanTorchLoss) << head;
  EXPECT_LE(dc, tol::kScanTorchLoss) << head;
  EXPECT_LE(curve_diff(tr.self_label_loss, cpu.self_label_loss), tol::kScanTorchLoss) << head;
  EXPECT_EQ(tr.kept_head, cpu.kept_head) << head;
  // Same clusters: well-separated data, so ACC of one run against the other is 1.
  const double acc = accuracy(cpu.assign, tr.assign);
  EXPECT_GE(acc, 1.0 - tol::kScanTorchAssignFraction) << head;
  const double truth_cpu = accuracy(in.labels, cpu.assign), truth_torch = accuracy(in.labels, tr.assign);
  EXPECT_GE(truth_cpu, 0.9) << head;  // the runs learned something (the test can fail)
  EXPECT_NEAR(truth_torch, truth_cpu, tol::kScanTorchAssignFraction) << head;
  std::printf("[ scan %s: torch vs cpu: loss rel diff %.2e, consistency %.2e, ACC torch vs cpu %.4f, ACC vs truth %.4f / %.4f ]\n",
              head.c_str(), dl, dc, acc, truth_torch, truth_cpu);
  std::remove(in.p.features.c_str());
  std::remove(in.p.knn.c_str());
}

}  // namespace

TEST(ScanTorch, LinearHeadsMatchTheCpuHeads) { expect_torch_matches_cpu("linear"); }

TEST(ScanTorch, MlpHeadsMatchTheCpuHeads) { expect_torch_matches_cpu("mlp"); }

// One step of each compute from the same parameters and input: the updated
// parameters and Adam moments agree to float rounding, and the state comes
// back out through the flat layout as it went in.
TEST(ScanTorch, OneStepMatchesAndStateRoundTrips) {
  for (const char* kind : {"linear", "mlp"}) {
    const HeadShape s{kind, 7, 4, 5, 2};
    LocalCommunicator c;
    ScanHeads a(s), b(s);
    a.init(11);
    b.init(11);
    const int64_t n = 9, W = s.heads * s.c;
    std::vector<float> x(size_t(n * s.d)), dz(size_t(n * W)), za(dz.size()), zb(dz.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(unit_double(key_hash(1, i)) - 0.5);
    for (size_t i = 0; i < dz.size(); ++i) dz[i] = float(unit_double(key_hash(2, i)) - 0.5);
    std::unique_ptr<HeadsCompute> ca, cb;
    {
      Target t(false);
      ca = heads_compute(a, c);
    }
    {
      Target t(true);
      cb = heads_compute(b, c);
    }
    for (int step = 0; step < 3; ++step) {
      ca->forward(x.data(), n, za.data(), true);
      cb->forward(x.data(), n, zb.data(), true);
      for (size_t i = 0; i < za.size(); ++i) ASSERT_NEAR(zb[i], za[i], tol::kFloatSum) << kind << " logit " << i;
      ca->backward(dz.data());
      cb->backward(dz.data());
      double tc = 0, ta = 0;
      const AdamConfig adam{1e-2, 1e-3};
      ca->step(adam, &tc, &ta);
      cb->step(adam, &tc, &ta);
    }
    store_heads(*ca, a);
    store_heads(*cb, b);
    EXPECT_EQ(b.adam_step(), 3) << kind;
    EXPECT_EQ(a.adam_step(), 3) << kind;
    for (size_t i = 0; i < a.num_params(); ++i) {
      ASSERT_NEAR(b.params()[i], a.params()[i], tol::kFloatSum) << kind << " parameter " << i;
      ASSERT_NEAR(b.adam_m()[i], a.adam_m()[i], tol::kFloatSum) << kind << " first moment " << i;
      ASSERT_NEAR(b.adam_v()[i], a.adam_v()[i], tol::kFloatSum) << kind << " second moment " << i;
    }
    // Round trip: load the stored state into fresh LibTorch heads; they store the same bits.
    ScanHeads back(s);
    {
      Target t(true);
      std::unique_ptr<HeadsCompute> cc = heads_compute(b, c);
      store_heads(*cc, back);
    }
    EXPECT_EQ(back.params(), b.params()) << kind;
    EXPECT_EQ(back.adam_m(), b.adam_m()) << kind;
    EXPECT_EQ(back.adam_v(), b.adam_v()) << kind;
    EXPECT_EQ(back.adam_step(), b.adam_step()) << kind;
  }
}

namespace {

/// Two LibTorch heads from the same parameters (x [n x d] random rows).
struct TwinHeads {
  LocalCommunicator comm;
  ScanHeads a, b;
  std::unique_ptr<HeadsCompute> host, dev;  // host: loss on the host; dev: on the device
  explicit TwinHeads(const HeadShape& s) : a(s), b(s) {
    a.init(5);
    b.init(5);
    Target t(true);
    host = heads_compute(a, comm);
    dev = heads_compute(b, comm);
  }
  /// One Adam step each, then both states stored: after a first step the
  /// first moment is (1 - beta1) * gradient, so adam_m compares the gradients.
  void step_and_store() {
    double tc = 0, ta = 0;
    host->step(AdamConfig{1e-2, 0.0}, &tc, &ta);
    dev->step(AdamConfig{1e-2, 0.0}, &tc, &ta);
    store_heads(*host, a);
    store_heads(*dev, b);
  }
};

std::vector<float> random_rows(int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> x(size_t(n * d));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(2.0 * unit_double(key_hash(seed, i)) - 1.0);
  return x;
}

}  // namespace

// The SCAN loss on the device (probs + scan_loss_backward, what the loop
// runs when offers_loss()) against the host's softmax_heads + scan_loss_grad
// + backward(dz): same per-head consistency sums and the same gradient,
// with a batch-mean prediction that, as on several ranks, is not this
// rank's own (the entropy term's gradient must use the global mean).
TEST(ScanTorch, DeviceLossMatchesTheHostLoss) {
  for (const char* kind : {"linear", "mlp"}) {
    const HeadShape s{kind, 6, 5, 8, 3};
    TwinHeads t(s);
    ASSERT_TRUE(t.dev->offers_loss());
    const int64_t n = 11, W = s.heads * s.c, other = 7;  // 7 anchors on "another rank"
    const std::vector<float> x = random_rows(2 * n, s.d, 3);
    std::vector<float> z(size_t(2 * n * W)), dz(z.size());
    t.host->forward(x.data(), 2 * n, z.data(), true);
    softmax_heads(z.data(), 2 * n, s.heads, s.c, z.data());
    std::vector<double> host_sum(size_t(W), 0.0), dev_sum(size_t(W), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < W; ++j) host_sum[j] += z[size_t(i * W + j)];
    t.dev->forward(x.data(), 2 * n, nullptr, true);
    t.dev->probs(n, dev_sum.data());
    for (int64_t j = 0; j < W; ++j) ASSERT_NEAR(dev_sum[j], host_sum[j], tol::kFloatSum) << kind << " column " << j;
    // The other rank's anchors: a peaked prediction, so the global mean differs from this rank's.
    std::vector<double> pbar(static_cast<size_t>(W));
    for (int64_t j = 0; j < W; ++j) pbar[j] = (host_sum[j] + (j % s.c == 0 ? double(other) : 0.0)) / double(n + other);
    const double B = double(n + other), ew = 2.0;
    std::vector<double> ch(size_t(s.heads), 0.0), cd(size_t(s.heads), 0.0);
    scan_loss_grad(z.data(), z.data() + n * W, n, s.heads, s.c, pbar.data(), B, ew, dz.data(), ch.data());
    t.host->backward(dz.data());
    t.dev->scan_loss_backward(pbar.data(), B, ew, cd.data());
    for (int h = 0; h < s.heads; ++h) EXPECT_NEAR(cd[size_t(h)], ch[size_t(h)], 1e-5 * std::abs(ch[size_t(h)])) << kind;
    t.step_and_store();
    double gmax = 0;
    for (size_t i = 0; i < t.a.num_params(); ++i) {
      gmax = std::max(gmax, double(std::abs(t.a.adam_m()[i])));
      ASSERT_NEAR(t.b.adam_m()[i], t.a.adam_m()[i], 1e-6) << kind << " gradient " << i;
    }
    EXPECT_GT(gmax, 1e-3) << kind;  // the gradients compared are not all zero
  }
}

// The self-label phase's class-balanced cross-entropy on the device
// (ce_backward) against balanced_ce_grad + backward(dz) on the host.
TEST(ScanTorch, DeviceCrossEntropyMatchesTheHostLoss) {
  const HeadShape s{"mlp", 6, 5, 8, 1};
  TwinHeads t(s);
  const int64_t n = 13;
  const std::vector<float> x = random_rows(n, s.d, 4);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = (i * 3) % s.c;
  const std::vector<double> weight{0.5, 1.0, 2.0, 1.5, 0.25};
  const double wt = 30.0;  // the global batch's sum of weight[y] (other ranks' rows too)
  std::vector<float> z(size_t(n * s.c)), dz(z.size());
  t.host->forward(x.data(), n, z.data(), true);
  softmax_heads(z.data(), n, 1, s.c, z.data());
  const double lh = balanced_ce_grad(z.data(), y.data(), n, s.c, weight.data(), wt, dz.data());
  t.host->backward(dz.data());
  t.dev->forward(x.data(), n, nullptr, true);
  const double ld = t.dev->ce_backward(y.data(), weight.data(), wt);
  EXPECT_NEAR(ld, lh, 1e-6 * std::abs(lh));
  EXPECT_GT(lh, 0.1);
  t.step_and_store();
  for (size_t i = 0; i < t.a.num_params(); ++i)
    ASSERT_NEAR(t.b.adam_m()[i], t.a.adam_m()[i], 1e-6) << "gradient " << i;
}

// A rank with no anchors in a batch still steps (a zero gradient from an
// empty forward/backward), as the CPU heads do: Adam's weight decay moves
// the parameters the same way in both.
TEST(ScanTorch, EmptyBatchStepsLikeTheCpuHeads) {
  const HeadShape s{"mlp", 5, 3, 4, 2};
  LocalCommunicator c;
  ScanHeads a(s), b(s);
  a.init(5);
  b.init(5);
  std::unique_ptr<HeadsCompute> ca, cb;
  {
    Target t(false);
    ca = heads_compute(a, c);
  }
  {
    Target t(true);
    cb = heads_compute(b, c);
  }
  std::vector<float> none;
  double tc = 0, ta = 0;
  for (HeadsCompute* h : {ca.get(), cb.get()}) {
    h->forward(none.data(), 0, none.data(), true);
    h->backward(none.data());
    h->step(AdamConfig{1e-2, 1e-2}, &tc, &ta);
  }
  cb->step(AdamConfig{1e-2, 1e-2}, &tc, &ta);  // and with no backward at all
  ca->step(AdamConfig{1e-2, 1e-2}, &tc, &ta);
  store_heads(*ca, a);
  store_heads(*cb, b);
  EXPECT_EQ(b.adam_step(), 2);
  for (size_t i = 0; i < a.num_params(); ++i) ASSERT_NEAR(b.params()[i], a.params()[i], tol::kFloatSum) << i;
}

// 40 keyed rows of D=6 and small mlp heads on them (the held-rows tests).
FeatureBlock keyed_rows() {
  FeatureBlock b;
  b.n_total = 40, b.d = 6, b.rows = {0, 40};
  b.x.resize(240);
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = float(unit_double(key_hash(3, i)) - 0.5);
  b.valid.assign(40, 1);
  return b;
}
ScanHeads small_heads() {
  ScanHeads h({"mlp", 6, 3, 5, 2});
  h.init(2);
  return h;
}

// Rows held by the compute (replicated features: on the device) and
// gathered by index give the logits of the same rows passed from the host,
// bit for bit; the CPU heads hold none and take the host path.
TEST(ScanTorch, HeldRowsGiveTheSameLogits) {
  LocalCommunicator c;
  const ScanRows rows(keyed_rows(), true, c);
  ScanHeads h = small_heads();
  const std::vector<int64_t> g = {7, 0, 39, 7, 12};
  std::vector<float> x, z_held(5 * 6), z_host(5 * 6);
  {
    Target t(true);
    std::unique_ptr<HeadsCompute> held = heads_compute(h, c, &rows), plain = heads_compute(h, c);
    ASSERT_TRUE(held->holds_rows());
    EXPECT_NE(held->describe().find("feature rows held"), std::string::npos) << held->describe();
    ASSERT_FALSE(plain->holds_rows());
    forward_global_rows(*held, rows, g, x, z_held.data(), false);
    EXPECT_TRUE(x.empty());  // nothing copied on the host
    forward_global_rows(*plain, rows, g, x, z_host.data(), false);
    EXPECT_EQ(z_held, z_host);
  }
  Target t(false);
  EXPECT_FALSE(heads_compute(h, c, &rows)->holds_rows());
}

TEST(ScanTorch, RowsHeldInHalfGiveTheLogitsOfRoundedRows) {
  LocalCommunicator c;
  const ScanRows rows(keyed_rows(), true, c);
  ScanHeads h = small_heads();
  const std::vector<int64_t> g = {7, 0, 39, 7, 12};
  std::vector<float> x, z_held(5 * 6), z_host(5 * 6);
  Target t(true);
  ComputeTarget half = compute_target();
  half.storage = "bf16";
  set_compute_target_for_tests(half);
  std::unique_ptr<HeadsCompute> held = heads_compute(h, c, &rows), plain = heads_compute(h, c);
  ASSERT_TRUE(held->holds_rows());
  EXPECT_NE(held->describe().find("held on the device in bf16"), std::string::npos) << held->describe();
  forward_global_rows(*held, rows, g, x, z_held.data(), false);
  forward_global_rows(*plain, rows, g, x, z_host.data(), false);
  double diff = 0;
  for (size_t i = 0; i < z_held.size(); ++i) diff = std::max(diff, double(std::fabs(z_held[i] - z_host[i])));
  EXPECT_GT(diff, 0.0) << "bf16 rows gave the fp32 logits: the rows were not rounded";
  EXPECT_LT(diff, 2e-2) << "bf16 rounding (2^-8 relative) moved the logits by more than expected";
}

TEST(ScanTorch, UnknownStorageIsRefusedByName) {
  // Config validation refuses such names first; the heads must not fall
  // back to fp32 rows when handed one anyway (a plugin reached another way).
  LocalCommunicator c;
  const ScanRows rows(keyed_rows(), true, c);
  ScanHeads h = small_heads();
  Target t(true);
  ComputeTarget odd = compute_target();
  odd.storage = "fp8";
  set_compute_target_for_tests(odd);
  try {
    heads_compute(h, c, &rows);
    FAIL() << "runtime.storage fp8 was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runtime.storage"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'fp8'"), std::string::npos) << e.what();
  }
}

// The same on a GPU (cuda:0, fp32): ctest label gpu (gpu_scan_torch);
// skipped, with the reason, where the plugin's LibTorch sees no GPU.
TEST(ScanTorch, CudaHeadsMatchTheCpuHeads) {
  const TorchInfo info = torch_info();
  if (info.cuda_devices == 0)
    GTEST_SKIP() << "no GPU visible to LibTorch " << info.version
                 << (info.cuda_built ? " (built with CUDA)" : " (built without CUDA)");
  Inputs in = make_inputs("cuda", "linear");
  ScanParams& p = in.p;
  for (const char* head : {"linear", "mlp"}) {
    p.head = head;
    const ScanResult a = run(p, false);
    ScanResult g;
    {
      Target t(true);
      ComputeTarget gpu = compute_target();
      gpu.device = "cuda:0";  // fp32: cuBLAS without tf32
      set_compute_target_for_tests(gpu);
      LocalCommunicator c;
      g = scan(p, c, "", "key");
    }
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

// A LibTorch run stopped after 6 SCAN epochs and resumed from its checkpoint
// (parameters and Adam moments through the flat layout) ends as the
// uninterrupted LibTorch run, to the bit; and a finished checkpoint
// (self-labelling phase) resumes to the same result.
TEST(ScanTorch, CheckpointResumeIsExact) {
  Inputs in = make_inputs("resume", "mlp");
  const std::string ck = tmp("scan.ckpt");
  std::remove(ck.c_str());
  const ScanResult whole = run(in.p, true);
  ScanParams first = in.p;
  first.epochs = 6;
  first.self_label = false;
  run(first, true, ck);
  const ScanResult resumed = run(in.p, true, ck);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.loss, whole.loss);
  EXPECT_EQ(resumed.self_label_loss, whole.self_label_loss);
  EXPECT_EQ(resumed.probabilities, whole.probabilities);
  const ScanResult again = run(in.p, true, ck);  // the finished run's checkpoint (self-labelling phase)
  EXPECT_TRUE(again.resumed);
  EXPECT_EQ(again.probabilities, whole.probabilities);
  std::remove(ck.c_str());
  std::remove(in.p.features.c_str());
  std::remove(in.p.knn.c_str());
}
