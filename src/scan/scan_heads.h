// SCAN clustering heads on frozen features: H heads trained together, each a
// linear map D -> C or an MLP D -> hidden (ReLU) -> C, with explicit backward
// passes and Adam, on OpenBLAS sgemm (no LibTorch: deterministic, and the
// stage does not depend on the torch build).
//
// Parameter layout (one flat float buffer, all heads; gradients and Adam
// moments use the same layout, so one allreduce carries every gradient):
//   linear: W [H*C x D] (head h = rows h*C ..), b [H*C]
//   mlp:    W1 [H*hid x D], b1 [H*hid], W2 [H x C x hid], b2 [H*C]
// Logits of n rows for all heads: Z [n x H*C], head h = columns h*C ...
//
// Determinism: every GEMM runs in fixed output tiles, one single-threaded
// sgemm each (kernels/gemm.h), and sums over rows run in row order, so a
// result depends on the inputs alone, not on the thread count, whatever
// OpenBLAS kernel is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace distclust {

/// Shape of a set of heads.
struct HeadShape {
  std::string kind = "linear";  ///< linear | mlp
  int64_t d = 0;                ///< D, input width
  int64_t c = 0;                ///< C, outputs per head
  int64_t hidden = 0;           ///< mlp hidden width (ignored for linear)
  int heads = 1;                ///< H
};

/// Adam settings (torch.optim.Adam semantics: weight decay added to the gradient).
struct AdamConfig {
  double lr = 1e-3;          ///< step size
  double weight_decay = 0;   ///< L2 penalty, added to the gradient (not decoupled as in AdamW)
  double beta1 = 0.9;        ///< decay of the first-moment (mean) estimate
  double beta2 = 0.999;      ///< decay of the second-moment (uncentred variance) estimate
  double eps = 1e-8;         ///< added to sqrt of the second moment before dividing
};

class ScanHeads {
 public:
  ScanHeads() = default;
  explicit ScanHeads(const HeadShape& s);

  const HeadShape& shape() const { return s_; }
  bool mlp() const { return s_.kind == "mlp"; }
  /// Outputs of all heads per row: H*C.
  int64_t width() const { return s_.heads * s_.c; }
  size_t num_params() const { return params_.size(); }

  /// Keyed initialisation (torch nn.Linear default: uniform in
  /// +-1/sqrt(fan_in) for weights and biases); identical on every rank.
  void init(uint64_t seed);

  /// Forward n rows x [n x D] -> logits z [n x H*C]. Keeps what backward()
  /// needs (the input pointer and, for mlp, the hidden activations): x must
  /// stay alive and unchanged until backward().
  void forward(const float* x, int64_t n, float* z);
  /// Adds the gradient of the loss for dz = dLoss/dz [n x H*C] of the last
  /// forward() to grad() (call zero_grad() first).
  void backward(const float* dz);

  std::vector<float>& params() { return params_; }
  const std::vector<float>& params() const { return params_; }
  std::vector<float>& grad() { return grad_; }
  void zero_grad();

  /// Adam state (same layout as params).
  std::vector<float>& adam_m() { return m_; }
  std::vector<float>& adam_v() { return v_; }
  int64_t& adam_step() { return t_; }
  /// One Adam step on parameters [begin, end) (end < 0: all) with their
  /// gradient g [end - begin] (nullptr: grad() from begin), already summed
  /// over ranks and scaled; the step count advances once.
  void adam(const AdamConfig& a, int64_t begin = 0, int64_t end = -1, const float* g = nullptr);
  /// Clears the Adam moments and step count.
  void reset_adam();

  /// A set of one head: head h's parameters (Adam state reset).
  ScanHeads extract(int h) const;

 private:
  struct Layout {
    size_t w1 = 0, b1 = 0, w2 = 0, b2 = 0;  // offsets
  };
  HeadShape s_;
  Layout L_;
  std::vector<float> params_, grad_, m_, v_;
  int64_t t_ = 0;
  const float* x_ = nullptr;  // last forward input [n_ x D]
  int64_t n_ = 0;
  std::vector<float> hid_;    // mlp: ReLU activations [n_ x H*hid]
  std::vector<float> dhid_;   // mlp: scratch
};

/// Row-wise softmax of each head's block: z [n x H*C] -> p (may alias z).
void softmax_heads(const float* z, int64_t n, int heads, int64_t c, float* p);

/// SCAN loss pieces for one step on one rank.
/// pa, pn: [n x H*C] probabilities of anchors and their neighbours.
/// pbar: [H*C] mean anchor probability over the GLOBAL batch; b_global: anchors
/// in the global batch. Writes dz [2n x H*C]: rows 0..n-1 the gradient w.r.t.
/// the anchor logits, rows n..2n-1 w.r.t. the neighbour logits, of
///   total = consistency - w * entropy,  consistency = -1/B sum_i log max(<pa_i, pn_i>, 1e-7),
///   entropy = -sum_c pbar_c log max(pbar_c, 1e-8).
/// cons_sum [H]: adds sum_i -log max(<pa_i, pn_i>, 1e-7) over this rank's rows.
void scan_loss_grad(const float* pa, const float* pn, int64_t n, int heads, int64_t c, const double* pbar,
                    double b_global, double entropy_weight, float* dz, double* cons_sum);

/// Entropy of each head's mean prediction: pbar [H*C] -> out [H].
void mean_entropy(const double* pbar, int heads, int64_t c, double* out);

/// Class-balanced cross-entropy of one head (H = 1): p [n x C] probabilities,
/// y [n] targets, weight [C] class weights, w_total: sum of weight[y] over the
/// global batch. Writes dz [n x C] = weight[y] / w_total * (p - onehot(y));
/// returns sum_i weight[y_i] * -log p_i[y_i] / w_total over this rank's rows.
double balanced_ce_grad(const float* p, const int64_t* y, int64_t n, int64_t c, const double* weight,
                        double w_total, float* dz);

}  // namespace distclust
