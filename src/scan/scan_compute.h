// Where the SCAN heads compute: the seam between the training loop (batches,
// epochs, phases, checkpoints, self-labelling, health checks; shared) and
// the heads' arithmetic (forward, gradient, allreduce, Adam).
//
// ScanHeads (scan_heads.h) holds the state in its flat layout: parameters,
// Adam moments and step count, the layout of checkpoints and scan.h5. A
// HeadsCompute is made from it (heads_compute()), owns the state while the
// loop runs, and gives it back (store) for a checkpoint or when a phase ends.
// Two implementations:
//   - the hand-written heads on OpenBLAS (CpuHeadsCompute: ScanHeads itself
//     plus DataParallelStep's allreduce or sharded Adam), the default;
//   - LibTorch (the plugin's distclust_torch_scan_heads_v3, scan_heads_torch.cpp)
//     when compute_target().torch: parameters, gradient and Adam moments are
//     tensors on the target's device, the gradient comes from autograd and
//     the update from torch::optim::Adam; replicated feature rows stay on
//     the device when they fit (hold), and a batch is gathered by index.
// Where the loss is computed: by default (the CPU heads) the softmax, the
// loss and its gradient w.r.t. the logits (scan_loss_grad, balanced_ce_grad)
// run on the host from the logits forward() returns, and backward() takes
// dz. A compute may offer the loss on its device instead (offers_loss():
// LibTorch does): forward() with z == nullptr keeps the logits there,
// probs() takes the softmax there and returns only the anchors' column sums
// [H*C], the loop reduces them over ranks through the Communicator (as it
// does on the host path: the entropy term needs the global batch mean) and
// hands the global mean back to scan_loss_backward(), which finishes the
// loss, runs autograd and returns only the per-head consistency sums [H]
// (the self-label phase: ce_backward(), the class-balanced cross-entropy).
// Both paths compute the same loss with the same clamps (scan_heads.h); per
// step only [H*C] + [H] values cross to the host instead of the logits and
// dz [2*batch x H*C] each way.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "scan/scan_heads.h"
#include "scan/scan_rows.h"

namespace distclust {

class HeadsCompute {
 public:
  explicit HeadsCompute(const HeadShape& s) : shape_(s) {}
  virtual ~HeadsCompute() = default;

  const HeadShape& shape() const { return shape_; }
  /// Outputs of all heads per row: H*C.
  int64_t width() const { return shape_.heads * shape_.c; }
  /// For the log: where and how the heads compute.
  virtual std::string describe() const = 0;

  /// Parameters and Adam state in the flat layout (scan_heads.h), each
  /// [num_params], into the compute.
  virtual void load(const float* params, const float* m, const float* v, int64_t step) = 0;
  /// The current state out into the flat layout (collective: a sharded
  /// update gathers its moments first).
  virtual void store(float* params, float* m, float* v, int64_t* step) = 0;

  /// Logits of n rows x [n x D] (host) -> z [n x H*C] (host). train: keep
  /// what backward() needs (x must stay alive and unchanged until then).
  /// z == nullptr (train, offers_loss() only): the logits stay on the device
  /// for probs().
  virtual void forward(const float* x, int64_t n, float* z, bool train) = 0;
  /// The gradient of the parameters for dz = dLoss/dz [n x H*C] (host) of
  /// the last training forward(); replaces the previous gradient.
  virtual void backward(const float* dz) = 0;
  /// Sums the gradient over ranks and takes one Adam step (collective). Adds
  /// the time spent in collectives to *t_comm and in the update to *t_adam.
  virtual void step(const AdamConfig& a, double* t_comm, double* t_adam) = 0;

  /// True when the compute takes the softmax, the SCAN loss and its
  /// gradient on its own device (probs, scan_loss_backward, ce_backward);
  /// false (the CPU heads): the loop computes them on the host.
  virtual bool offers_loss() const { return false; }
  /// After a training forward (z == nullptr) of 2n rows, rows 0..n-1 the
  /// anchors and n..2n-1 their neighbours: the softmax per head, kept on the
  /// device for scan_loss_backward(); adds the anchors' probability column
  /// sums to colsum [H*C] (host; the loop reduces them over ranks).
  virtual void probs(int64_t n, double* colsum) {
    (void)n, (void)colsum;
    throw std::logic_error("scan: probs() on heads that offer no loss");
  }
  /// The SCAN loss of the last probs() (scan_loss_grad's definition): pbar
  /// [H*C] the mean anchor prediction over the GLOBAL batch of b_global
  /// anchors. Computes the parameters' gradient (replacing the previous one)
  /// and adds sum_i -log max(<pa_i, pn_i>, 1e-7) per head to cons_sum [H].
  virtual void scan_loss_backward(const double* pbar, double b_global, double entropy_weight, double* cons_sum) {
    (void)pbar, (void)b_global, (void)entropy_weight, (void)cons_sum;
    throw std::logic_error("scan: scan_loss_backward() on heads that offer no loss");
  }
  /// The class-balanced cross-entropy (H = 1, balanced_ce_grad's
  /// definition) of the last training forward (z == nullptr) of n rows:
  /// targets y [n], class weights weight [C], w_total the sum of weight[y]
  /// over the global batch. Computes the gradient (replacing the previous
  /// one) and returns this rank's share of the loss.
  virtual double ce_backward(const int64_t* y, const double* weight, double w_total) {
    (void)y, (void)weight, (void)w_total;
    throw std::logic_error("scan: ce_backward() on heads that offer no loss");
  }

  /// Keeps feature rows x [n x D] (global rows 0..n-1) where the heads
  /// compute, so that a batch is gathered there by index (forward_rows)
  /// instead of copied and uploaded each step. x must outlive the compute.
  /// False when the compute does not (the CPU heads) or the rows do not fit.
  bool hold(const float* x, int64_t n) { return held_ = hold_rows(x, n); }
  bool holds_rows() const { return held_; }
  /// forward() of held rows rows[0..n) (global row numbers).
  virtual void forward_rows(const int64_t* rows, int64_t n, float* z, bool train) {
    (void)rows, (void)n, (void)z, (void)train;
    throw std::logic_error("scan: forward_rows() on heads that hold no rows");
  }

 protected:
  virtual bool hold_rows(const float* x, int64_t n) {
    (void)x, (void)n;
    return false;
  }

 private:
  HeadShape shape_;
  bool held_ = false;
};

/// The compute of the current target (kernels/compute_target.h) for heads
/// h, loaded with h's state. With the CPU compute, h is the working state
/// itself; with LibTorch h is left as it is until store_heads(). h (and
/// rows) must outlive the compute. rows: when this rank has every row
/// (replicated, or one rank), the compute may hold them all (LibTorch: on
/// the device, when they fit).
std::unique_ptr<HeadsCompute> heads_compute(ScanHeads& h, Communicator& comm, const ScanRows* rows = nullptr);

/// Logits z [n x H*C] of global rows g [n]: gathered by the compute when it
/// holds the rows, else copied from rows into x [n x D] first (x must then
/// stay alive until backward()). z == nullptr: kept on the device for the
/// device loss (offers_loss()).
void forward_global_rows(HeadsCompute& h, const ScanRows& rows, const std::vector<int64_t>& g, std::vector<float>& x,
                         float* z, bool train);

/// c's state into h (collective).
void store_heads(HeadsCompute& c, ScanHeads& h);

}  // namespace distclust
