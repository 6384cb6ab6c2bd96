// The heads' compute (scan_compute.h): the hand-written heads on OpenBLAS, or
// the LibTorch plugin's on the compute target's device.
#include "scan/scan_compute.h"

#include <algorithm>

#include "distclust/error.h"
#include "kernels/compute_target.h"
#include "kernels/torch_plugin.h"
#include "scan/scan_step.h"

namespace distclust {
namespace {

/// The hand-written heads: h is the working state (no copy), the step is
/// DataParallelStep's (allreduce, or ZeRO-1 sharded Adam).
class CpuHeadsCompute : public HeadsCompute {
 public:
  CpuHeadsCompute(ScanHeads& h, Communicator& comm)
      : HeadsCompute(h.shape()), h_(h), dp_(int64_t(h.num_params()), comm), ranks_(comm.size()) {}

  std::string describe() const override {
    return fmt("cpu (OpenBLAS, hand-written heads", dp_.sharded() ? fmt("; Adam sharded over ", ranks_, " ranks") : "",
               ")");
  }

  void load(const float* p, const float* m, const float* v, int64_t step) override {
    copy(p, h_.params().data());
    copy(m, h_.adam_m().data());
    copy(v, h_.adam_v().data());
    h_.adam_step() = step;
  }
  void store(float* p, float* m, float* v, int64_t* step) override {
    dp_.gather_moments(h_);
    copy(h_.params().data(), p);
    copy(h_.adam_m().data(), m);
    copy(h_.adam_v().data(), v);
    *step = h_.adam_step();
  }
  void forward(const float* x, int64_t n, float* z, bool) override { h_.forward(x, n, z); }
  void backward(const float* dz) override {
    h_.zero_grad();
    h_.backward(dz);
  }
  void step(const AdamConfig& a, double* t_comm, double* t_adam) override { dp_.step(h_, a, t_comm, t_adam); }

 private:
  void copy(const float* from, float* to) const {
    if (from != to) std::copy_n(from, h_.num_params(), to);
  }
  ScanHeads& h_;
  DataParallelStep dp_;
  int ranks_;
};

}  // namespace

std::unique_ptr<HeadsCompute> heads_compute(ScanHeads& h, Communicator& comm, const ScanRows* rows) {
  const ComputeTarget& t = compute_target();
  if (!t.torch) return std::make_unique<CpuHeadsCompute>(h, comm);
  auto make = torch_plugin_function<TorchScanHeadsFn>(kTorchScanHeadsV3);
  const TorchComputeSpec spec = t.spec();
  std::string error;
  std::unique_ptr<HeadsCompute> c(make(&h.shape(), &spec, &comm, &error));
  require(c != nullptr, "scan: the LibTorch heads on ", t.describe(), " failed: ", error);
  c->load(h.params().data(), h.adam_m().data(), h.adam_v().data(), h.adam_step());
  // Every row on this rank, contiguous: replicated, or one rank's block of all.
  const bool all = rows && rows->n_total() > 0 &&
                   (rows->replicated() || (rows->own().begin == 0 && rows->own().end == rows->n_total()));
  if (all) c->hold(rows->row(0), rows->n_total());
  return c;
}

void forward_global_rows(HeadsCompute& h, const ScanRows& rows, const std::vector<int64_t>& g, std::vector<float>& x,
                         float* z, bool train) {
  const int64_t n = int64_t(g.size()), D = h.shape().d;
  if (h.holds_rows()) return h.forward_rows(g.data(), n, z, train);
  x.resize(size_t(n * D));
  for (int64_t q = 0; q < n; ++q) std::copy_n(rows.row(g[q]), D, x.data() + q * D);
  h.forward(x.data(), n, z, train);
}

void store_heads(HeadsCompute& c, ScanHeads& h) {
  c.store(h.params().data(), h.adam_m().data(), h.adam_v().data(), &h.adam_step());
}

}  // namespace distclust
