// The LibTorch plugin's entry points (kernels/torch_plugin.h opens it). The
// binary and the plugin are built together (same compiler, same headers), so
// C++ types cross the boundary; the names carry a version so that a plugin
// from another build fails by name, not by crashing.
#pragma once

#include <string>

#include "distclust/search.h"

namespace distclust {

class Communicator;
class HeadsCompute;
struct HeadShape;

/// What the plugin's LibTorch can do here (distclust_torch_info_v1).
struct TorchInfo {
  std::string version;      ///< LibTorch version, e.g. "1.13.1"
  bool cuda_built = false;  ///< LibTorch was built with CUDA
  int cuda_devices = 0;     ///< GPUs visible to this process (0 without CUDA)
  std::string devices;      ///< their names, "; "-separated
};

/// Where and how the LibTorch kernels compute (from runtime.device,
/// runtime.precision; kernels/compute_target.h).
struct TorchComputeSpec {
  std::string device = "cpu";      ///< "cpu" or "cuda:N"
  std::string precision = "fp32";  ///< fp32|tf32|bf16|fp16 (matrix products on a GPU)
  std::string storage = "fp32";    ///< fp32|fp16|bf16: held feature rows (runtime.storage)
  int threads = 1;                 ///< intra-op threads for CPU tensors
  SearchTiling tiling;             ///< block sizes (the kernel may use larger blocks on a GPU)
  /// Device memory the search kernel may use: half for held rows
  /// (SearchKernel::hold), half for blocks of scores; a shard larger than
  /// that streams through in blocks. 0: 40% of the GPU's memory divided
  /// among the ranks on it (ranks_on_device), 512 MiB for CPU tensors.
  int64_t memory_bytes = 0;
  /// Ranks computing on this GPU (same host and PCI bus id): together they
  /// stay within the default 40%, instead of asking for 40% each.
  int ranks_on_device = 1;
};

extern "C" {
/// Fills *info. Never throws.
using TorchInfoFn = void (*)(TorchInfo* info);
/// A LibTorch search kernel on spec->device, or null with *error set.
using TorchSearchFn = SearchKernel* (*)(const TorchComputeSpec* spec, std::string* error);
/// LibTorch SCAN heads of *shape on spec->device (scan/scan_compute.h),
/// their gradient summed over *comm (which must outlive them), or null with
/// *error set. Parameters start at zero: load() them.
using TorchScanHeadsFn = HeadsCompute* (*)(const HeadShape* shape, const TorchComputeSpec* spec, Communicator* comm,
                                           std::string* error);
}

constexpr const char* kTorchInfoV1 = "distclust_torch_info_v1";
constexpr const char* kTorchSearchV6 = "distclust_torch_search_v6";
constexpr const char* kTorchScanHeadsV3 = "distclust_torch_scan_heads_v3";

}  // namespace distclust
