// Where k-means, kNN and SCAN compute (runtime.device, runtime.kernels,
// runtime.precision), resolved once per process, and the search kernel that
// goes with it. Stages ask make_search() for their SearchKernel and
// compute_target() whether to train SCAN with LibTorch; they never test the
// device themselves.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>

#include "distclust/device_name.h"
#include "distclust/runtime.h"
#include "distclust/search.h"
#include "kernels/torch_abi.h"

namespace distclust {

struct ComputeTarget {
  bool torch = false;              ///< LibTorch kernels (plugin); else OpenBLAS and the hand-written SCAN heads
  std::string device = "cpu";      ///< "cpu" or "cuda:N"
  std::string precision = "fp32";  ///< fp32|tf32|bf16|fp16
  std::string storage = "fp32";    ///< fp32|fp16|bf16 (runtime.storage)
  int ranks_on_device = 1;         ///< ranks computing on this GPU (they share its memory budget)
  bool gpu() const { return device != "cpu"; }
  /// N of "cuda:N"; -1 on the CPU.
  int device_index() const { return gpu() ? cuda_device_number(device) : -1; }
  /// One line for logs: "cpu (OpenBLAS)", "cuda:0 (LibTorch, bf16)", ...
  std::string describe() const;
  /// The plugin's spec for this target (threads: this rank's compute threads).
  TorchComputeSpec spec(const SearchTiling& t = {}) const;
};

/// Resolves p for this rank (auto: cuda:local_rank % GPUs when the plugin's
/// LibTorch has CUDA and a GPU is visible, else cpu; kernels auto: torch on
/// a GPU, cpu on the CPU). Throws naming the value when cuda is asked for
/// and there is none. Called once at start (cli/context.cpp); before, the
/// target is the CPU with OpenBLAS.
void set_compute_target(const RuntimeParams& p, int local_rank);
const ComputeTarget& compute_target();
/// Sets how many ranks compute on this rank's GPU (cli/context.cpp counts
/// them from every rank's gpu_key once the target is set).
void set_ranks_on_device(int n);
/// Test hook: sets the target as is (no probing).
void set_compute_target_for_tests(const ComputeTarget& t);

/// What of the compute target changes a stage's numbers: "" for OpenBLAS or
/// LibTorch in fp32 (the same results, up to summation order), else
/// "compute=torch precision=P storage=S;". Part of the config hash of the
/// stages with StageDef::compute_hashed: a run with other settings neither
/// skips them as up to date nor resumes their checkpoints.
std::string compute_identity();

/// The search kernel of the compute target: the OpenBLAS kernel (tiles t),
/// or the plugin's LibTorch kernel on the target's device.
std::unique_ptr<SearchKernel> make_search(const SearchTiling& t = {});

/// The plugin's report of its LibTorch (loads the plugin).
TorchInfo torch_info();

}  // namespace distclust
