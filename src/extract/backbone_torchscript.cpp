// The TorchScript backbone: the only translation unit that includes LibTorch
// (it costs ~8 s to compile). It is built alone into the plugin
// libdistclust_torch.so, which backbone_loader.cpp opens on first use: only
// `extract` with a TorchScript model pays LibTorch's ~0.4 s of start-up.
// The plugin links LibTorch only, not distclust_core: it uses the header-only
// parts of error.h (Error, fmt, require) and reports through exceptions.
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>
#if DISTCLUST_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <sys/stat.h>
#include <xmmintrin.h>

#include <cstring>

#include "extract/backbone.h"
#include "distclust/device_name.h"
#include "distclust/error.h"

namespace distclust {
namespace {
/// CUDA autocast on or off, in bf16 or fp16: LibTorch 2.4 gave the calls a
/// device argument and deprecated the old ones (Debian's 1.13 has only those).
void cuda_autocast(bool on, at::ScalarType type = at::kHalf) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(at::kCUDA, on);
  if (on) at::autocast::set_autocast_dtype(at::kCUDA, type);
#else
  at::autocast::set_enabled(on);
  if (on) at::autocast::set_autocast_gpu_dtype(type);
#endif
}

std::string shape_text(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// LibTorch's message without its C++ backtrace.
std::string reason(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// Denormal floats take a microcode assist per operation on x86: on this
// machine ResNet-20 on real images ran 1.5x faster (3x on random inputs)
// with them flushed to zero, as torch.set_flush_denormal(True) does. MXCSR is
// per thread: set it on this thread and on every thread of the OpenMP pool
// that runs the model's kernels (oneDNN included). Features move by ~1e-7
// relative (the parity tests allow 1e-4).
void flush_denormals(int threads) {
  at::globalContext().setFlushDenormal(true);
  const unsigned ftz_daz = 0x8040;  // MXCSR flush-to-zero | denormals-are-zero
#pragma omp parallel num_threads(threads)
  _mm_setcsr(_mm_getcsr() | ftz_daz);
}

torch::Device pick_device(const TorchScriptSpec& s) {
  const int numbered = cuda_device_number(s.device);
  require(is_device_name(s.device), "extract.device is '", s.device, "' (expected auto|cpu|cuda|cuda:N)");
  const bool have = torch::cuda::is_available();
  if (s.device == "cpu" || (s.device == "auto" && !have)) return torch::Device(torch::kCPU);
  require(have, "extract.device is ", s.device, " but this LibTorch has no CUDA or sees no GPU");
  if (numbered >= 0) {  // runtime.device cuda:N (extract.device auto follows it), or extract.device cuda:N
    const int64_t i = numbered, n = static_cast<int64_t>(torch::cuda::device_count());
    require(i < n, "extract.device is ", s.device, " but ", n, " GPU(s) are visible");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i));
  }
  // With one GPU per rank (launch/distclust-rank sets CUDA_VISIBLE_DEVICES)
  // each rank sees one device; otherwise ranks spread over the visible ones.
  // Two ranks on one GPU are refused by the caller, which can compare ranks.
  const int64_t n = static_cast<int64_t>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(s.local_rank % n));
}

class TorchScriptBackbone : public Backbone {
 public:
  explicit TorchScriptBackbone(const TorchScriptSpec& spec) : spec_(spec), device_(pick_device(spec)) {
    struct stat st {};
    require(stat(spec.path.c_str(), &st) == 0, "model file ", spec.path, " does not exist");
    require(S_ISREG(st.st_mode), "model file ", spec.path, " is not a regular file");
    require(spec.input_size >= 1, "model ", spec.path, ": input size ", spec.input_size, " (expected >= 1)");
    require(spec.autocast == "none" || spec.autocast == "fp16" || spec.autocast == "bf16", "extract.autocast is '",
            spec.autocast, "' (expected none|fp16|bf16)");
    // Torch uses one thread here unless told (design.md).
    at::set_num_threads(std::max(1, spec.threads));
    // On the CPU the profiling executor only costs: each new input shape (the
    // probe, the first full batch, the last short one) is first run in a
    // profiling mode ~3x slower, for fusions that a CNN on the CPU does not
    // get. The GPU keeps it (it fuses elementwise kernels there).
    if (!device_.is_cuda()) torch::jit::getProfilingMode() = false;
    if (!device_.is_cuda() && spec.flush_denormal) flush_denormals(std::max(1, spec.threads));
#if DISTCLUST_TORCH_CUDA
    // This thread's device, as the kernels set theirs: without it, a rank
    // whose GPU is not device 0 (ranks sharing CUDA_VISIBLE_DEVICES) also
    // opens a context on device 0, refused in exclusive-process mode.
    if (device_.is_cuda()) c10::cuda::set_device(device_.index());
#endif
    try {
      module_ = torch::jit::load(spec.path, device_);
    } catch (const std::exception& e) {
      throw Error(fmt("cannot load TorchScript model ", spec.path, ": ", reason(e),
                      " (expected a file written by torch.jit.save; tools/export_backbone.py makes one)"));
    }
    module_.eval();
    // Probe: learn D and refuse outputs that are not features before any
    // image is decoded. Two rows: BatchNorm-style layers may dislike one.
    std::vector<float> zeros(static_cast<size_t>(2 * 3 * spec.input_size * spec.input_size), 0.0f);
    at::Tensor out = run(zeros.data(), 2, &pooled_, &raw_shape_);
    dim_ = out.size(1);
  }

  int64_t dim() const override { return dim_; }
  bool on_gpu() const override { return device_.is_cuda(); }
  std::string device() const override { return device_.str(); }

  void forward(const float* x, int64_t batch, float* out) override {
    at::Tensor y = run(x, batch, nullptr, nullptr);
    require(y.size(1) == dim_, "model ", spec_.path, " gave ", shape_text(y), " for a batch of ", batch,
            ", but ", dim_, " features per image at the start");
    std::memcpy(out, y.data_ptr<float>(), sizeof(float) * size_t(batch * dim_));
  }

  std::string describe() const override {
    return fmt("torchscript ", spec_.path, " on ", device_.str(),
               spec_.autocast != "none" && device_.is_cuda() ? ", autocast " + spec_.autocast : std::string(),
               ", input 3 x ", spec_.input_size, " x ", spec_.input_size, ", D = ", dim_,
               pooled_ ? fmt(" (global average of ", raw_shape_, ")") : std::string());
  }

 private:
  // Runs the model on x [batch x 3 x S x S] and returns [batch x D] float32
  // contiguous on the CPU.
  at::Tensor run(const float* x, int64_t batch, bool* pooled, std::string* raw_shape) {
    const int64_t s = spec_.input_size;
    c10::InferenceMode guard;
    torch::NoGradGuard no_grad;
    at::Tensor in = torch::from_blob(const_cast<float*>(x), {batch, 3, s, s}, torch::kFloat);
    if (device_.is_cuda()) in = in.to(device_);
    const bool cast = device_.is_cuda() && spec_.autocast != "none";
    if (cast) cuda_autocast(true, spec_.autocast == "bf16" ? at::kBFloat16 : at::kHalf);
    c10::IValue result;
    try {
      result = module_.forward({in});
    } catch (const std::exception& e) {
      if (cast) cuda_autocast(false);
      const std::string why = reason(e), oom = out_of_memory_line(why);
      if (!oom.empty())
        throw Error(fmt("out of memory running model ", spec_.path, " on a batch of ", batch, " images (", s, " x ", s,
                        ", on ", device_.str(), "): ", oom, ". Lower extract.batch, or run fewer ranks or threads ",
                        "per node"));
      throw Error(fmt("model ", spec_.path, " failed on input [", batch, ", 3, ", s, ", ", s, "]: ", why));
    }
    if (cast) {
      cuda_autocast(false);
      at::autocast::clear_cache();
    }
    require(result.isTensor(), "model ", spec_.path, " returned a ", result.tagKind(),
            " for input [", batch, ", 3, ", s, ", ", s, "]; expected a tensor [B, D] or [B, C, H, W]");
    at::Tensor t = result.toTensor();
    const std::string shape = shape_text(t);
    require((t.dim() == 2 || t.dim() == 4) && t.size(0) == batch, "model ", spec_.path, " output is ", shape,
            " for input [", batch, ", 3, ", s, ", ", s, "]; expected [B, D] or [B, C, H, W] with B = ", batch,
            " (export the model without its classifier, e.g. with tools/export_backbone.py)");
    if (pooled) *pooled = t.dim() == 4;
    if (raw_shape) *raw_shape = "[B, " + shape.substr(shape.find(',') + 2);
    if (t.dim() == 4) t = t.mean({2, 3});
    require(t.size(1) >= 1, "model ", spec_.path, " output is ", shape, ": no features");
    return t.to(torch::kCPU, torch::kFloat).contiguous();
  }

  TorchScriptSpec spec_;
  torch::Device device_;
  torch::jit::script::Module module_;
  int64_t dim_ = 0;
  bool pooled_ = false;
  std::string raw_shape_;
};

}  // namespace
}  // namespace distclust

/// The plugin's entry point (backbone_loader.cpp): a new backbone, or null
/// with *error set. Never throws across the C boundary.
extern "C" __attribute__((visibility("default"))) distclust::Backbone* distclust_torchscript_backbone_v1(
    const distclust::TorchScriptSpec* spec, std::string* error) noexcept {
  try {
    return new distclust::TorchScriptBackbone(*spec);
  } catch (const std::exception& e) {
    *error = e.what();
  } catch (...) {
    *error = "unknown error";
  }
  return nullptr;
}
