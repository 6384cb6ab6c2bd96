// runtime.device / kernels / precision: validation, resolution, and the
// search kernel that make_search() hands the stages.
#include <gtest/gtest.h>

#include "distclust/comm.h"
#include "distclust/error.h"
#include "distclust/runtime.h"
#include "kernels/compute_target.h"

using namespace distclust;

namespace {

std::string error_of(const RuntimeParams& p) {
  try {
    p.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// Restores the CPU target after a test that changed it.
struct TargetGuard {
  ComputeTarget saved = compute_target();
  ~TargetGuard() { set_compute_target_for_tests(saved); }
};

}  // namespace

TEST(ComputeTarget, BadValuesAreNamed) {
  RuntimeParams p;
  EXPECT_EQ(error_of(p), "");
  for (const char* ok : {"cpu", "cuda", "cuda:0", "cuda:12"}) {
    p.device = ok;
    EXPECT_EQ(error_of(p), "") << ok;
  }
  // cuda:4294967296 once passed and then read as GPU 0 (atoi wrapped around).
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda0", "", "cuda:-1", "cuda: 1", "cuda:12345", "cuda:4294967296"}) {
    p.device = bad;
    EXPECT_NE(error_of(p).find(std::string("runtime.device: '") + bad + "'"), std::string::npos) << bad;
  }
  p = RuntimeParams{};
  p.kernels = "blas";
  EXPECT_NE(error_of(p).find("runtime.kernels: 'blas'"), std::string::npos);
  p = RuntimeParams{};
  p.precision = "fp8";
  EXPECT_NE(error_of(p).find("runtime.precision: 'fp8'"), std::string::npos);
  p = RuntimeParams{};
  for (const char* ok : {"fp32", "fp16", "bf16"}) {
    p.storage = ok;
    EXPECT_EQ(error_of(p), "") << ok;
  }
  p.storage = "tf32";  // a product type, not a storage type
  EXPECT_NE(error_of(p).find("runtime.storage: 'tf32' is not one of fp32|fp16|bf16"), std::string::npos);
}

TEST(ComputeTarget, DeviceNumbersAreReadWithoutOverflow) {
  EXPECT_EQ(cuda_device_number("cuda:0"), 0);
  EXPECT_EQ(cuda_device_number("cuda:7"), 7);
  EXPECT_EQ(cuda_device_number("cuda:9999"), 9999);
  for (const char* not_numbered : {"cuda", "cpu", "auto", "cuda:", "cuda:1x", "cuda:+1", "cuda:10000", "cuda:4294967296"})
    EXPECT_EQ(cuda_device_number(not_numbered), -1) << not_numbered;
  for (const char* ok : {"auto", "cpu", "cuda", "cuda:3"}) EXPECT_TRUE(is_device_name(ok)) << ok;
  for (const char* bad : {"CUDA", "gpu", "cuda:", "cuda:x", "cpu "}) EXPECT_FALSE(is_device_name(bad)) << bad;
}

TEST(ComputeTarget, CpuByDefaultAndOnRequest) {
  TargetGuard guard;
  EXPECT_FALSE(compute_target().torch);
  EXPECT_EQ(compute_target().device, "cpu");
  RuntimeParams p;
  p.device = "cpu";
  set_compute_target(p, 0);
  EXPECT_FALSE(compute_target().torch);
  EXPECT_EQ(compute_target().describe(), "cpu (OpenBLAS)");
  EXPECT_EQ(make_search()->name(), make_cpu_search()->name());
  p.kernels = "torch";  // LibTorch on CPU tensors: the test path of the GPU code
  set_compute_target(p, 0);
  EXPECT_TRUE(compute_target().torch);
  EXPECT_EQ(compute_target().device, "cpu");
}

TEST(ComputeTarget, CudaWithoutCudaIsNamed) {
  TargetGuard guard;
  const TorchInfo info = torch_info();
  EXPECT_FALSE(info.version.empty());
  if (info.cuda_devices > 0) GTEST_SKIP() << "a GPU is visible (" << info.devices << ")";
  RuntimeParams p;
  p.device = "cuda";
  try {
    set_compute_target(p, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_TRUE(m.find("without CUDA") != std::string::npos || m.find("no GPU is visible") != std::string::npos) << m;
  }
  // auto on a machine without a GPU: the CPU, OpenBLAS.
  p.device = "auto";
  set_compute_target(p, 0);
  EXPECT_EQ(compute_target().device, "cpu");
  EXPECT_FALSE(compute_target().torch);
}

TEST(ComputeTarget, NcclOnlyWhenEveryRankHasAGpuOfItsOwn) {
  // Keys are host|PCI bus id: ranks that each see their one GPU as device 0
  // (launch/distclust-rank, Slurm's per-task GPUs) still differ, which the
  // old count of visible devices against ranks per node took for sharing.
  EXPECT_TRUE(one_gpu_per_rank({"n1|0000:19:00.0"}));
  EXPECT_TRUE(one_gpu_per_rank({"n1|0000:19:00.0", "n1|0000:3B:00.0", "n2|0000:19:00.0", "n2|0000:3B:00.0"}));
  EXPECT_FALSE(one_gpu_per_rank({"n1|0000:19:00.0", "n1|0000:19:00.0"}));  // two ranks, one GPU
  EXPECT_FALSE(one_gpu_per_rank({"n1|0000:19:00.0", ""}));                 // a rank on its CPU
  EXPECT_FALSE(one_gpu_per_rank({""}));
}

TEST(ComputeTarget, RanksSharingAGpuShareItsMemoryBudget) {
  // Four ranks on two GPUs of n1, one on n2's, one on its CPU: each of the
  // first four gets half of the default budget (40% of the GPU / 2); before,
  // each asked for 40% and two together could run the GPU out of memory.
  const std::vector<std::string> keys = {"n1|0000:19:00.0", "n1|0000:19:00.0", "n1|0000:3B:00.0",
                                         "n1|0000:3B:00.0", "n2|0000:19:00.0", ""};
  const int want[] = {2, 2, 2, 2, 1, 1};
  for (int r = 0; r < 6; ++r) EXPECT_EQ(ranks_on_same_gpu(keys, r), want[r]) << r;
  // The count reaches the plugin's spec (the kernel divides its budget by it).
  ComputeTarget t;
  t.torch = true, t.device = "cuda:0";
  set_compute_target_for_tests(t);
  set_ranks_on_device(3);
  EXPECT_EQ(compute_target().spec().ranks_on_device, 3);
  set_ranks_on_device(0);
  EXPECT_EQ(compute_target().spec().ranks_on_device, 1);
  set_compute_target_for_tests(ComputeTarget{});
}
