// Plugin side of distclust_torch_scan_heads_v3 (scan/scan_compute.h): the
// SCAN heads in LibTorch on the compute target's device.
//
// All parameters are one flat tensor in ScanHeads' layout (scan_heads.h),
// and each layer's weight and bias are views of it. So the gradient autograd
// accumulates is one flat buffer, allreduced in one call with no packing;
// torch::optim::Adam updates that one tensor; and load/store are plain
// copies. (torch::nn::Linear modules, one per head, would own H separate
// parameter pairs and need a pack and unpack around every allreduce.) The
// layers are torch::nn::functional's: linear, relu, and one batched product
// for the H second layers of the MLP.
//
// The loss (offers_loss()): the softmax, the SCAN loss (consistency and the
// entropy of the batch-mean prediction) and the self-label cross-entropy
// are tensors on the device too, and autograd differentiates through them;
// only the anchors' column sums [H*C] go to the host (the loop sums them
// over ranks) and the global mean comes back. The global mean enters the
// graph as global + (local - local.detach()): its value is the global
// mean, its gradient that of this rank's anchors (1/B each), which is the
// gradient scan_loss_grad writes on the host. The [2n x H x C] products
// and sums are fp32 (fp64 is slow on most GPUs and costs conversions of the
// whole batch); their [n x H] and [H x C] results are double, as on the host.
//
// Precision: the heads train in fp32 on every device; on a GPU, tf32, bf16
// or fp16 let the matrix products use tf32 (Adam on bf16/fp16 weights would
// lose the small updates of the late epochs).
#include <torch/torch.h>

#if DISTCLUST_TORCH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <chrono>
#include <cstring>
#include <stdexcept>

#include "kernels/torch_abi.h"
#include "kernels/torch_types.h"
#include "scan/scan_compute.h"

namespace distclust {
namespace {

namespace F = torch::nn::functional;

class TorchHeads : public HeadsCompute {
 public:
  TorchHeads(const HeadShape& s, const TorchComputeSpec& spec, Communicator& comm)
      : HeadsCompute(s), comm_(comm), dev_(spec.device),
        store_type_(torch_type(spec.storage, "runtime.storage", /*tf32_ok=*/false)) {
    if (dev_.is_cpu()) {
      torch::set_num_threads(std::max(1, spec.threads));
    } else {
#if DISTCLUST_TORCH_CUDA
      // The rank's own GPU as the thread's current device: a CUDA call that
      // names no device then never opens a context on GPU 0 (one per rank there).
      if (dev_.has_index()) c10::cuda::set_device(dev_.index());
      // Over NCCL the gradient goes from device memory; mpi and local
      // communicators take host buffers.
      device_comm_ = comm.name() == "nccl";
      at::globalContext().setFloat32MatmulPrecision(spec.precision == "fp32" ? "highest" : "high");
#else
      throw std::runtime_error("this LibTorch has no CUDA: device " + spec.device + " is not available");
#endif
    }
    const int64_t H = s.heads, D = s.d, C = s.c, Hd = s.hidden;
    const bool mlp = s.kind == "mlp";
    n_ = mlp ? H * (Hd * (D + 1) + C * (Hd + 1)) : H * C * (D + 1);
    flat_ = torch::zeros({n_}, torch::TensorOptions().dtype(torch::kFloat).device(dev_)).requires_grad_(true);
    adam_ = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{flat_}, torch::optim::AdamOptions(1e-3));
  }

  std::string describe() const override {
    return dev_.str() + " (LibTorch " + TORCH_VERSION + ", autograd, torch::optim::Adam" +
           (rows_.defined() ? std::string(", feature rows held on the device") +
                                  (store_type_ == torch::kFloat ? "" : std::string(" in ") + torch_type_name(store_type_))
                            : std::string()) +
           (dev_.is_cpu() ? std::string() : device_comm_ ? ", gradient over NCCL from the device" : ", gradient via host") +
           ")";
  }

  void load(const float* p, const float* m, const float* v, int64_t step) override {
    torch::NoGradGuard ng;
    adam_->state().clear();
    if (step > 0) {
      // Adam creates its state for a parameter on its first step: take one
      // with a zero gradient, then overwrite the state and the parameters.
      flat_.mutable_grad() = torch::zeros_like(flat_);
      adam_->step();
      torch::optim::AdamParamState& st = state();
      st.exp_avg().copy_(host(m));
      st.exp_avg_sq().copy_(host(v));
      st.step(step);
    }
    flat_.copy_(host(p));
  }

  void store(float* p, float* m, float* v, int64_t* step) override {
    torch::NoGradGuard ng;
    out(flat_, p);
    if (adam_->state().empty()) {
      std::memset(m, 0, sizeof(float) * size_t(n_));
      std::memset(v, 0, sizeof(float) * size_t(n_));
      *step = 0;
      return;
    }
    torch::optim::AdamParamState& st = state();
    out(st.exp_avg(), m);
    out(st.exp_avg_sq(), v);
    *step = st.step();
  }

  void forward(const float* x, int64_t n, float* z, bool train) override {
    run(torch::from_blob(const_cast<float*>(x), {n, shape().d}, torch::kFloat), z, train);
  }

  void forward_rows(const int64_t* rows, int64_t n, float* z, bool train) override {
    const torch::Tensor idx = torch::from_blob(const_cast<int64_t*>(rows), {n}, torch::kLong).to(dev_);
    const torch::Tensor x = rows_.index_select(0, idx);
    run(x.scalar_type() == torch::kFloat ? x : x.to(torch::kFloat), z, train);
  }

  void backward(const float* dz) override {
    if (!z_.defined()) throw std::runtime_error("scan: backward() without a training forward()");
    const torch::Tensor g = torch::from_blob(const_cast<float*>(dz), z_.sizes(), torch::kFloat).to(dev_);
    flat_.mutable_grad() = torch::Tensor();
    z_.backward(g);
    z_ = torch::Tensor();
  }

  bool offers_loss() const override { return true; }

  void probs(int64_t n, double* colsum) override {
    if (!z_.defined()) throw std::runtime_error("scan: probs() without a training forward()");
    const int64_t H = shape().heads, C = shape().c;
    p_ = torch::softmax(z_.view({z_.size(0), H, C}), -1);  // [2n x H x C]
    const torch::Tensor s = p_.narrow(0, 0, n).detach().sum(0).to(torch::kDouble).reshape({H * C});
    add_out(s, colsum);
  }

  void scan_loss_backward(const double* pbar, double b_global, double entropy_weight, double* cons_sum) override {
    if (!p_.defined()) throw std::runtime_error("scan: scan_loss_backward() without probs()");
    const int64_t n = p_.size(0) / 2, H = shape().heads, C = shape().c;
    // The [2n x H x C] work in fp32 (sums over C or over the batch's rows);
    // the [n x H] and [H x C] results in double, as on the host.
    const torch::Tensor pa = p_.narrow(0, 0, n), pn = p_.narrow(0, n, n);
    // -log max(<pa, pn>, 1e-7) [n x H]; clamp passes no gradient below the floor.
    const torch::Tensor cons = -torch::log(torch::clamp_min((pa * pn).sum(-1).to(torch::kDouble), 1e-7));
    // The mean prediction has the GLOBAL value (the loop's allreduce) and
    // the gradient of this rank's anchors: d pbar / d pa_i = 1/B.
    const torch::Tensor local = pa.sum(0).to(torch::kDouble) / b_global;  // [H x C]
    const torch::Tensor q = torch::clamp_min(device_doubles(pbar, H * C).view({H, C}) + (local - local.detach()), 1e-8);
    const torch::Tensor entropy = -(q * torch::log(q)).sum();
    const torch::Tensor loss = cons.sum() / b_global - entropy_weight * entropy;
    flat_.mutable_grad() = torch::Tensor();
    loss.backward();
    z_ = p_ = torch::Tensor();
    add_out(cons.detach().sum(0), cons_sum);
  }

  double ce_backward(const int64_t* y, const double* weight, double w_total) override {
    if (!z_.defined()) throw std::runtime_error("scan: ce_backward() without a training forward()");
    const int64_t n = z_.size(0);
    const torch::Tensor yt = torch::from_blob(const_cast<int64_t*>(y), {n}, torch::kLong).to(dev_);
    const torch::Tensor w = device_doubles(weight, shape().c).index_select(0, yt) / w_total;  // [n]
    const torch::Tensor logp = torch::log_softmax(z_, 1).gather(1, yt.unsqueeze(1)).squeeze(1).to(torch::kDouble);
    // The gradient w * (p - onehot(y)) everywhere (log_softmax, unclamped);
    // the value with the host's floor on p, -log max(p_y, 1e-30).
    const torch::Tensor loss = -(w * logp).sum();
    const double value = (-(w * torch::clamp_min(logp.detach(), std::log(1e-30)))).sum().item<double>();
    flat_.mutable_grad() = torch::Tensor();
    loss.backward();
    z_ = torch::Tensor();
    return value;
  }

  void step(const AdamConfig& a, double* t_comm, double* t_adam) override {
    auto t = std::chrono::steady_clock::now();
    // No backward since the last step: a zero gradient, so the allreduce
    // still takes part and Adam still steps as on the other ranks.
    if (!flat_.grad().defined()) flat_.mutable_grad() = torch::zeros_like(flat_);
    allreduce_grad();
    *t_comm += since(t);
    auto& o = static_cast<torch::optim::AdamOptions&>(adam_->param_groups()[0].options());
    o.lr(a.lr).weight_decay(a.weight_decay).betas({a.beta1, a.beta2}).eps(a.eps);
    adam_->step();
    sync();
    *t_adam += since(t);
  }

 protected:
  /// CPU tensors use the host rows in place; on a GPU they are copied once,
  /// and refused when the device has no room for them. runtime.storage
  /// fp16/bf16: rounded on the host, then held in that type.
  bool hold_rows(const float* x, int64_t n) override {
    const torch::Tensor host = torch::from_blob(const_cast<float*>(x), {n, shape().d}, torch::kFloat);
    try {
      rows_ = host.to(store_type_).to(dev_);
    } catch (const c10::Error&) {
      return false;
    }
    return true;
  }

 private:
  /// Logits of x [n x D] (host or device) into z (host); train: keeps the graph.
  void run(const torch::Tensor& x, float* z, bool train) {
    std::unique_ptr<torch::NoGradGuard> ng;
    if (!train) ng = std::make_unique<torch::NoGradGuard>();
    torch::Tensor zt = logits(x.to(dev_));
    if (z != nullptr) out(zt, z);
    if (train) z_ = zt;
  }

  /// Z [n x H*C] for x [n x D] on the device. The layers' weights are
  /// views of flat_ taken per call (so they never outlive an in-place
  /// update of it), in the flat layout's order.
  torch::Tensor logits(const torch::Tensor& x) const {
    const int64_t n = x.size(0), H = shape().heads, D = shape().d, Hd = shape().hidden, C = shape().c;
    int64_t off = 0;
    auto view = [&](std::initializer_list<int64_t> dims) {
      int64_t len = 1;
      for (int64_t v : dims) len *= v;
      torch::Tensor t = flat_.narrow(0, off, len).view(dims);
      off += len;
      return t;
    };
    if (shape().kind != "mlp") {
      const torch::Tensor w1 = view({H * C, D}), b1 = view({H * C});
      return F::linear(x, w1, b1);
    }
    const torch::Tensor w1 = view({H * Hd, D}), b1 = view({H * Hd}), w2 = view({H, C, Hd}), b2 = view({H * C});
    const torch::Tensor hid = torch::relu(F::linear(x, w1, b1));      // [n x H*hid]
    const torch::Tensor per = hid.view({n, H, Hd}).transpose(0, 1);   // [H x n x hid]
    const torch::Tensor z = torch::bmm(per, w2.transpose(1, 2));      // [H x n x C]
    return z.transpose(0, 1).reshape({n, H * C}) + b2;
  }

  /// The gradient summed over ranks, in place (one flat buffer, one call).
  void allreduce_grad() {
    if (comm_.size() == 1) return;
    torch::Tensor g = flat_.mutable_grad();
    if (dev_.is_cpu() || device_comm_) {
      sync();  // the gradient is complete before NCCL reads it
      comm_.allreduce_sum(g.data_ptr<float>(), size_t(n_), DType::f32);
      return;
    }
    torch::Tensor h = g.to(torch::kCPU).contiguous();
    comm_.allreduce_sum(h.data_ptr<float>(), size_t(n_), DType::f32);
    g.copy_(h);
  }

  /// Waits for the device's queued work (a no-op on the CPU).
  void sync() const {
#if DISTCLUST_TORCH_CUDA
    if (dev_.is_cuda()) c10::cuda::getCurrentCUDAStream(dev_.index()).synchronize();
#endif
  }

  torch::optim::AdamParamState& state() {
    return static_cast<torch::optim::AdamParamState&>(*adam_->state().begin()->second);
  }
  torch::Tensor host(const float* p) const { return torch::from_blob(const_cast<float*>(p), {n_}, torch::kFloat); }
  /// k doubles (host) as a device tensor.
  torch::Tensor device_doubles(const double* p, int64_t k) const {
    return torch::from_blob(const_cast<double*>(p), {k}, torch::kDouble).to(dev_);
  }
  /// dst[j] += t[j] for a double tensor t (device).
  static void add_out(const torch::Tensor& t, double* dst) {
    const torch::Tensor c = t.to(torch::kCPU).contiguous();
    const double* s = c.data_ptr<double>();
    for (int64_t j = 0; j < c.numel(); ++j) dst[j] += s[j];
  }
  static void out(const torch::Tensor& t, float* dst) {
    const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    std::memcpy(dst, c.data_ptr<float>(), sizeof(float) * size_t(c.numel()));
  }
  static double since(std::chrono::steady_clock::time_point& t) {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  }

  Communicator& comm_;
  torch::Device dev_;
  bool device_comm_ = false;
  int64_t n_ = 0;
  torch::Tensor flat_;  // [n_] all parameters, the flat layout
  torch::Tensor z_;     // last training forward's logits (graph attached)
  torch::Tensor p_;     // their softmax [rows x H x C] (probs(), for the device loss)
  torch::Tensor rows_;  // held feature rows [N x D] on the device (hold_rows), in store_type_
  torch::ScalarType store_type_;  // runtime.storage
  std::unique_ptr<torch::optim::Adam> adam_;
};

}  // namespace
}  // namespace distclust

/// The plugin's entry point (scan/scan_compute.cpp): new heads, or null with
/// *error set. Never throws across the C boundary.
extern "C" __attribute__((visibility("default"))) distclust::HeadsCompute* distclust_torch_scan_heads_v3(
    const distclust::HeadShape* shape, const distclust::TorchComputeSpec* spec, distclust::Communicator* comm,
    std::string* error) noexcept {
  try {
    return new distclust::TorchHeads(*shape, *spec, *comm);
  } catch (const std::exception& e) {
    *error = e.what();
  } catch (...) {
    *error = "unknown error";
  }
  return nullptr;
}
