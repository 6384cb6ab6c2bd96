#include "kernels/compute_target.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "distclust/device_name.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "kernels/torch_plugin.h"

#ifndef DISTCLUST_TORCH_CUDA
#define DISTCLUST_TORCH_CUDA 0
#endif

namespace distclust {
namespace {

ComputeTarget g_target;

/// Worth loading the plugin (~0.4 s) to ask for GPUs: only when its LibTorch
/// has CUDA and the machine shows an NVIDIA driver.
bool may_have_gpu() {
  if (!DISTCLUST_TORCH_CUDA) return false;
  struct stat st {};
  if (stat("/dev/nvidiactl", &st) != 0) return false;
  const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
  return !(vis && (std::string(vis).empty() || std::string(vis) == "-1"));
}

/// "cuda" -> "cuda:<local_rank % GPUs>"; "cuda:N" checked against the GPUs.
std::string resolve_cuda(const std::string& asked, int local_rank) {
  const TorchInfo info = torch_info();
  require(info.cuda_built, "runtime.device: '", asked, "' needs a LibTorch with CUDA; this build's plugin has LibTorch ",
          info.version, " without CUDA (README: GPU build)");
  require(info.cuda_devices > 0, "runtime.device: '", asked, "' but no GPU is visible on ", where(),
          " (CUDA_VISIBLE_DEVICES, driver)");
  if (asked == "cuda") return fmt("cuda:", local_rank % info.cuda_devices);
  const int n = cuda_device_number(asked);
  require(n >= 0 && n < info.cuda_devices, "runtime.device: '", asked, "' but ", info.cuda_devices,
          " GPU(s) are visible on ", where());
  return asked;
}

}  // namespace

std::string ComputeTarget::describe() const {
  if (!torch) return "cpu (OpenBLAS)";
  return fmt(device, " (LibTorch", gpu() ? ", " + precision : std::string(),
             storage != "fp32" ? ", rows held in " + storage : std::string(), ")");
}

std::string compute_identity() {
  const ComputeTarget& t = compute_target();
  if (!t.torch || (t.precision == "fp32" && t.storage == "fp32")) return "";
  return fmt("compute=torch precision=", t.precision, " storage=", t.storage, ";");
}

TorchComputeSpec ComputeTarget::spec(const SearchTiling& t) const {
  TorchComputeSpec s;
  s.device = device;
  s.precision = precision;
  s.storage = storage;
  s.threads = compute_threads();
  s.tiling = t;
  s.ranks_on_device = ranks_on_device;
  return s;
}

void set_compute_target(const RuntimeParams& p, int local_rank) {
  ComputeTarget t;
  t.precision = p.precision;
  t.storage = p.storage;
  if (p.device == "auto")
    t.device = may_have_gpu() && torch_info().cuda_devices > 0 ? resolve_cuda("cuda", local_rank) : "cpu";
  else if (p.device == "cpu")
    t.device = "cpu";
  else
    t.device = resolve_cuda(p.device, local_rank);
  if (p.kernels == "auto") t.torch = t.gpu();
  else t.torch = p.kernels == "torch";
  require(!(t.gpu() && !t.torch), "runtime.kernels: 'cpu' computes on the CPU, but runtime.device is '", p.device,
          "' (", t.device, "): use kernels auto|torch on a GPU, or device cpu");
  if (!t.torch && (p.precision != "fp32" || p.storage != "fp32"))
    log::warn_once("runtime.precision=", p.precision, " and runtime.storage=", p.storage,
                   " are for LibTorch kernels: ignored with OpenBLAS (set runtime.kernels=torch to use them)");
  g_target = t;
  log::debug("compute: ", t.describe());
}

const ComputeTarget& compute_target() { return g_target; }
void set_ranks_on_device(int n) { g_target.ranks_on_device = std::max(1, n); }
void set_compute_target_for_tests(const ComputeTarget& t) { g_target = t; }

std::unique_ptr<SearchKernel> make_search(const SearchTiling& t) {
  if (!g_target.torch) return make_cpu_search(t);
  auto make = torch_plugin_function<TorchSearchFn>(kTorchSearchV6);
  const TorchComputeSpec spec = g_target.spec(t);
  std::string error;
  SearchKernel* k = make(&spec, &error);
  if (!k) throw Error(fmt("LibTorch search kernel on ", g_target.device, ": ", error));
  return std::unique_ptr<SearchKernel>(k);
}

TorchInfo torch_info() {
  TorchInfo info;
  torch_plugin_function<TorchInfoFn>(kTorchInfoV1)(&info);
  return info;
}

}  // namespace distclust
