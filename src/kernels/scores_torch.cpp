// The LibTorch search kernel's block products (search_torch.h): operands,
// scores and candidate picks. On a GPU the GEMM is the cheap part: each
// elementwise pass over a score block [m x cn] moves as many bytes as the
// GEMM writes, so the scale and bias ride in the GEMM, a low-precision
// operand is made once per block (not per block pair), and the scores are
// read once, by topk.
#include <algorithm>

#include "distclust/error.h"
#include "kernels/search_torch.h"

namespace distclust {
namespace torch_search {

/// The best `keep` of each row of scores e [m x w] with their ids [m x w],
/// ties to the lower position (callers keep positions in id order), best
/// first: int64 keys, the float's bits made monotone in the high half and
/// the complement of the position in the low half, so that topk's order is
/// exact and total (no tie is left to topk's own choice).
Picks best_by_key(const torch::Tensor& e, const torch::Tensor& ids, int64_t keep) {
  const int64_t w = e.size(1), kk = std::min(keep, w);
  const torch::Tensor bits = e.add(0.0f).view(torch::kInt).to(torch::kLong);  // + 0: -0 becomes +0
  const torch::Tensor ord = torch::where(bits >= 0, bits, bits.bitwise_xor(0x7FFFFFFF));
  const torch::Tensor pos = torch::arange(w, ids.options());
  const torch::Tensor key = ord.mul(int64_t(1) << 32).add_(int64_t(0xFFFFFFFF) - pos);
  const torch::Tensor at = std::get<1>(torch::topk(key, kk, 1, /*largest=*/true, /*sorted=*/true));
  return {e.gather(1, at), ids.gather(1, at)};
}

int64_t TorchSearch::operand_bytes(int64_t n, int64_t d) const {
  return low_mm() ? n * ((d + 1 + 7) / 8 * 8) * int64_t(c10::elementSize(mm_type_)) : 0;
}

Operand TorchSearch::query_operand(const torch::Tensor& qx) const {
  Operand q{qx, {}, {}};
  if (!low_mm()) return q;
  q.low = with_column(qx, 1.f, {});
  if (mm_type_ == torch::kHalf) q.norm_max = qx.norm(2, 1).max().item<double>();
  return q;
}

Operand TorchSearch::base_operand(const torch::Tensor& bx, const torch::Tensor& bias, float alpha) const {
  Operand b{{}, bias, {}};
  if (!low_mm()) return b;
  // No bias: a zero column, so that both sides keep one padded width.
  b.low = with_column(bx, alpha, bias.defined() ? bias : torch::zeros({bx.size(0)}, bx.options()));
  if (mm_type_ == torch::kHalf) {
    b.norm_max = bx.norm(2, 1).max().item<double>();
    if (bias.defined())
      b.bias_max = torch::where(bias.isfinite(), bias.abs(), torch::zeros_like(bias)).max().item<double>();
  }
  return b;
}

torch::Tensor TorchSearch::with_column(const torch::Tensor& x, float scale, const torch::Tensor& col) const {
  const int64_t n = x.size(0), d = x.size(1), dp = (d + 1 + 7) / 8 * 8;  // tensor cores want multiples of 8
  torch::Tensor out = torch::empty({n, dp}, x.options().dtype(mm_type_));
  // One pass: read x in fp32, write the scaled rows rounded to mm_type_ (a
  // power-of-two scale is exact, so rounding before or after it agrees).
  torch::Tensor head = out.narrow(1, 0, d);
  if (scale == 1.f) {
    head.copy_(x);
  } else {
    torch::mul_out(head, x, torch::scalar_tensor(scale, x.options().device(torch::kCPU)));
  }
  if (col.defined()) {
    out.select(1, d).copy_(col);
  } else {
    out.select(1, d).fill_(1);
  }
  if (dp > d + 1) out.narrow(1, d + 1, dp - d - 1).zero_();
  return out;
}

torch::Tensor TorchSearch::scores(const Operand& q, const Operand& b, float alpha) const {
  if (!low_mm()) {  // fp32, or tf32 (fp32 tensors, tf32 tensor-core math)
    if (b.bias.defined()) return torch::addmm(b.bias, q.x, b.x.t(), /*beta=*/1, /*alpha=*/alpha);  // in the epilogue
    const torch::Tensor s = torch::mm(q.x, b.x.t());
    return alpha == 1.f ? s : s.mul_(alpha);
  }
  // bf16/fp16: q' = [q, 1], b' = [alpha b, bias], so the scores leave the
  // GEMM in the low type and topk reads them as they are (2 bytes a score,
  // no fp32 pass); they only pick candidates, which are re-scored in fp32.
  if (mm_type_ == torch::kHalf) check_half_range(q, b, alpha);
  if (dev_.is_cuda()) return torch::mm(q.low, b.low.t());
  // CPU tensors: the rounded inputs' products accumulated in fp32 and the
  // result rounded to the low type (what tensor cores and cuBLAS do), held
  // as fp32 (CPU topk has no fp16): the same picks as on a GPU.
  return torch::mm(q.low.to(torch::kFloat), b.low.to(torch::kFloat).t()).to(mm_type_).to(torch::kFloat);
}

void TorchSearch::check_half_range(const Operand& q, const Operand& b, float alpha) const {
  // |score| <= alpha |q| |b| + |bias|: past fp16's largest finite value a
  // score would become inf and the pick silently wrong.
  constexpr double kHalfMax = 65504;
  const double at_most = double(alpha) * q.norm_max * b.norm_max + b.bias_max;
  require(at_most < kHalfMax, "runtime.precision fp16: scores of these rows reach ", at_most,
          ", past fp16's largest value 65504; use bf16 (fp32's range) or fp32, or scale the features");
}

Candidates TorchSearch::candidates(const Operand& q, const Operand& b, const torch::Tensor& selfcol, float alpha,
                                   int64_t keep, int64_t real0, int64_t real_n) const {
  torch::Tensor s = scores(q, b, alpha);
  clock_.mark(Phase::gemm);
  if (selfcol.defined()) {
    const torch::Tensor own = selfcol.ge(0).nonzero().squeeze(1);
    if (own.numel()) s.index_put_({own, selfcol.index_select(0, own)}, kNever);
  }
  const int64_t m = q.x.size(0), d = q.x.size(1), cn = b.x.size(0);
  const int64_t c = std::min<int64_t>(cn, keep + margin(keep));
  if (!low_ && c == cn) {
    clock_.mark(Phase::select);
    return {s, {}};
  }
  // topk on the float scores, one pass over the block; the exact keys
  // (best_by_key) then order only the c picked per row.
  auto [v, at] = torch::topk(s, c, 1, /*largest=*/true, /*sorted=*/!low_);  // fp32: v sorted for the tie check
  if (!low_ && c < cn) {
    // topk leaves the choice among equal scores to itself: where the keep-th
    // score is also the last picked, more equal scores may lie beyond the
    // pick, so that row's picks are made again by exact keys over the whole
    // row (ties to the lower column). Rare: it takes keep + margin equal scores.
    // Padding rows of an aligned block are left out: a zero row scores
    // every column alike (inner products), so each would be picked again.
    const torch::Tensor kth = v.select(1, keep - 1);
    torch::Tensor tied = kth.eq(v.select(1, c - 1)).logical_and_(kth.gt(kNever));
    if (real_n >= 0 && real_n < m) {
      tied.narrow(0, 0, real0).zero_();
      tied.narrow(0, real0 + real_n, m - real0 - real_n).zero_();
    }
    const torch::Tensor redo = tied.nonzero().squeeze(1);
    repicked_rows_ += redo.numel();
    // In pieces of m/8 rows: the int64 keys of a whole block of rows (data
    // with many duplicates) would be ~8x the scores' memory.
    const int64_t piece = std::max<int64_t>(1, m / 8);
    const torch::Tensor pos = redo.numel() ? torch::arange(cn, at.options()).unsqueeze(0) : torch::Tensor();
    for (int64_t i = 0; i < redo.numel(); i += piece) {
      const torch::Tensor r = redo.narrow(0, i, std::min(piece, redo.numel() - i));
      at.index_copy_(0, r, best_by_key(s.index_select(0, r), pos.expand({r.numel(), cn}), c).ids);
    }
  }
  // Columns in increasing order: positions then follow ids (best_by_key).
  const torch::Tensor cols = std::get<0>(torch::sort(at, 1));
  clock_.mark(Phase::select);
  if (!low_) {
    Candidates out{s.gather(1, cols), cols};
    clock_.mark(Phase::rescore);
    return out;
  }
  const torch::Tensor flat = cols.reshape({-1});
  torch::Tensor e = (b.x.index_select(0, flat).view({m, c, d}) * q.x.unsqueeze(1)).sum(2);
  e.mul_(alpha);
  if (b.bias.defined()) e.add_(b.bias.index_select(0, flat).view({m, c}));
  if (selfcol.defined()) e.masked_fill_(cols == selfcol.unsqueeze(1), kNever);
  clock_.mark(Phase::rescore);
  return {e, cols};
}

}  // namespace torch_search
}  // namespace distclust
