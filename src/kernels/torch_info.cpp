// Plugin side of distclust_torch_info_v1: what this LibTorch can do here.
#include <torch/torch.h>

#if DISTCLUST_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "kernels/torch_abi.h"

extern "C" __attribute__((visibility("default"))) void distclust_torch_info_v1(distclust::TorchInfo* info) noexcept {
  try {
    info->version = TORCH_VERSION;
#if DISTCLUST_TORCH_CUDA
    info->cuda_built = true;
    info->cuda_devices = torch::cuda::is_available() ? int(torch::cuda::device_count()) : 0;
    for (int i = 0; i < info->cuda_devices; ++i) {
      if (i) info->devices += "; ";
      info->devices += at::cuda::getDeviceProperties(i)->name;
    }
#else
    info->cuda_built = false;
    info->cuda_devices = 0;
#endif
  } catch (...) {
    info->cuda_devices = 0;
  }
}
