// The k-means step on the LibTorch kernel's device (SearchKernel::lloyd_step,
// include/distclust/search.h): assignment and the grids' maxima
// (kernels/lloyd_grids.h: k + 1 floats, allreduce_max through the host),
// then exact grid sums by index_add_ on int64 (order-independent, so with
// fp32 storage bit-identical to the CPU's accumulation for the same
// assignments), one allreduce of the int64 buffer (from device memory when
// the communicator is NCCL), then the buffer to the host. Two passes over
// the blocks because the grids depend on every rank's assignment: the
// second reads held rows where they are and uploads the others again. Pass
// 1 keeps each valid row's label (int32) and distance (8 bytes a row: 1/32
// of the row itself at D = 64 in fp32) outside the memory budget.
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <cmath>
#include <limits>
#include <vector>

#include "distclust/comm.h"
#include "distclust/error.h"
#include "kernels/lloyd_grids.h"
#include "kernels/score_rounding.h"
#include "kernels/search_torch.h"

#if DISTCLUST_TORCH_CUDA
#include <c10/cuda/CUDAStream.h>
#endif

namespace distclust {
namespace torch_search {
namespace {

/// Drops LibTorch's warnings for its scope. scatter_reduce_ (1.12 on) warns
/// once per process that it is in beta: on every rank's stderr, under -q
/// too, and it is the only warning the maxima can raise.
class QuietWarnings : public c10::WarningHandler {
 public:
#if TORCH_VERSION_MAJOR >= 2
  void process(const c10::Warning&) override {}
  using Guard = c10::WarningUtils::WarningHandlerGuard;
#else
  void process(const c10::SourceLocation&, const std::string&, const bool) override {}
  using Guard = c10::Warning::WarningHandlerGuard;
#endif
};

/// Each row's best candidate: score v [m] and column [m]. max() returns the
/// first of equal maxima and candidate columns increase along a row, so ties
/// go to the lower column, in one pass over the scores.
void best_of(const Candidates& c, torch::Tensor& v, torch::Tensor& col) {
  auto [best, at] = c.e.max(1);
  v = best;
  col = c.cols.defined() ? c.cols.gather(1, at.unsqueeze(1)).squeeze(1) : at;
}

}  // namespace

bool TorchSearch::lloyd_step(const LloydStep& s, Communicator& comm, int64_t* out) {
  const int64_t k = s.k, d = s.d, width = k * (d + 1) + 2;
  require(k >= 1 && d >= 1 && s.n >= 0 && s.c && s.maxima && s.col_max &&
              (s.n == 0 || (s.x && s.valid && (s.spherical || s.norms))),
          "lloyd_step: bad input (k=", k, " d=", d, " n=", s.n, ")");
  std::lock_guard<std::mutex> lock(mu_);
  torch::Tensor acc;
  try {
    torch::NoGradGuard no_grad;
    clock_.start();
    ++calls_;
    acc = torch::zeros({width}, torch::TensorOptions().dtype(torch::kLong).device(dev_));
    int64_t qb = 0, cb = 0;
    block_sizes(s.n, k, d, 1, qb, cb);
    const CentroidBlocks cents = centroid_blocks(s, cb);
    clock_.mark(Phase::operands);
    // Pass 1: every row's centroid, and the grids' maxima (kernels/lloyd_grids.h).
    std::vector<Assigned> blocks;
    torch::Tensor maxima = torch::zeros({k + 1}, torch::TensorOptions().dtype(torch::kFloat).device(dev_));
    // L2: rows whose float scores may not tell their centroid, counted; the
    // host step decides those again (the step declines, below).
    RoundingCheck rc;
    if (!s.spherical) rc.cx = cents.all, rc.cn = cents.all.to(torch::kDouble).pow(2).sum(1).sqrt();
    const bool count = !s.spherical && s.unsure_rows && k >= 2;
    if (count) rc.count = torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(dev_));
    const int64_t t_first = s.n ? s.first_row / qb : 0, t_last = s.n ? (s.first_row + s.n - 1) / qb : -1;
    for (int64_t t = t_first; t <= t_last; ++t) {
      // Query blocks aligned to global rows as in search().
      const int64_t g0 = t * qb;
      const int64_t lo = std::max(s.first_row, g0) - s.first_row, hi = std::min(s.first_row + s.n, g0 + qb) - s.first_row;
      const int64_t off = s.first_row + lo - g0;
      const torch::Tensor qb_x = query_block(s.x, d, lo, hi, off, qb);
      clock_.mark(Phase::upload);
      const Operand qo = query_operand(qb_x);
      clock_.mark(Phase::operands);
      torch::Tensor best, lab, second;
      nearest(qo, cents, best, lab, count, second);
      const int64_t m = hi - lo;
      blocks.push_back(assigned(s, lo, m, qo.x.narrow(0, off, m), best.narrow(0, off, m),
                                count ? second.narrow(0, off, m) : second, lab.narrow(0, off, m), maxima,
                                s.spherical ? nullptr : &rc));
      clock_.mark(Phase::sums);
    }
    if (s.unsure_rows) {  // collective: every rank's step declines together
      *s.unsure_rows = comm.sum(count ? rc.count.item<int64_t>() : int64_t(0));
      clock_.mark(Phase::reduce);
      if (*s.unsure_rows > 0) {
        clock_.settle();
        return false;
      }
    }
    const LloydGrids grids = reduce_maxima(maxima, s, comm);
    const torch::Tensor col_scale = upload(grids.col_scale.data(), d, torch::kDouble).view({1, d});
    const torch::Tensor cluster_scale = upload(grids.cluster_scale.data(), k, torch::kDouble);
    clock_.mark(Phase::upload);
    // Pass 2: the sums on those grids. Held rows are read where they are;
    // rows not held (a shard larger than the device) are uploaded again:
    // such a step moves its rows twice.
    for (const Assigned& a : blocks) {
      add_sums(s, a, grids, col_scale, cluster_scale, acc);
      clock_.mark(Phase::sums);
    }
    acc = reduce_sums(acc, comm);
    clock_.settle();
  } catch (const c10::Error& e) {
    throw Error(fmt("LibTorch k-means step on ", spec_.device, ": ", e.what_without_backtrace()));
  }
  std::copy(acc.data_ptr<int64_t>(), acc.data_ptr<int64_t>() + width, out);
  return true;
}

TorchSearch::Assigned TorchSearch::assigned(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& x,
                                            const torch::Tensor& best, const torch::Tensor& second,
                                            const torch::Tensor& lab, torch::Tensor& maxima,
                                            RoundingCheck* check) const {
  Assigned a;
  a.lo = lo, a.m = m;
  // The distance as assign_nearest takes it.
  torch::Tensor dist = !s.spherical ? (rows(s.norms + lo, m, 1).view({m}) - best).clamp_min(0.f)
                                    : (2.f - 2.f * best).clamp_min(0.f);
  if (check) {
    dist = l2_distances(s, lo, m, x, lab, dist, *check);
    if (check->count.defined()) check->count += unsure(s, lo, m, best, second, lab, dist, check->cn);
  }
  const torch::Tensor at = valid_positions(s, lo, m);
  const torch::Tensor valid_lab = lab.index_select(0, at);
  a.lab = valid_lab.to(torch::kInt);
  a.dist = dist.index_select(0, at);
  if (at.numel() == 0) return a;
  const int64_t k = s.k;
  const torch::Tensor row_max = x.index_select(0, at).abs().amax(1);
  {
    QuietWarnings quiet;
    QuietWarnings::Guard guard(&quiet);
    maxima.narrow(0, 0, k).scatter_reduce_(0, valid_lab, row_max, "amax");
  }
  maxima.narrow(0, k, 1).copy_(torch::maximum(maxima.narrow(0, k, 1), a.dist.max().view({1})));
  return a;
}

torch::Tensor TorchSearch::l2_distances(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& x,
                                        const torch::Tensor& lab, const torch::Tensor& dist,
                                        const RoundingCheck& check) const {
  // l2_float_distance_unsure on tensors: the float form's rounding (the
  // score's and |x|^2's) against kFloatDistanceShare of it;
  // rows far from the origin for their distances were ~100 off, and so was
  // the step's inertia (what --tol compares).
  const double gamma = gamma_sum(s.d);
  const torch::Tensor r2 = rows(s.norms + lo, m, 1).view({m}).to(torch::kDouble).clamp_min(0.0), r = r2.sqrt();
  const torch::Tensor own = check.cn.index_select(0, lab);
  const torch::Tensor off = gamma * (2 * r * own + own * own) + gamma * r2;
  const torch::Tensor redo = (off > kFloatDistanceShare * dist.to(torch::kDouble)).nonzero().squeeze(1);
  if (redo.numel() == 0) return dist;
  const torch::Tensor xr = x.index_select(0, redo).to(torch::kFloat);
  const torch::Tensor cr = check.cx.index_select(0, lab.index_select(0, redo)).to(torch::kFloat);
  return dist.index_put({redo}, (xr - cr).pow(2).sum(1));
}

torch::Tensor TorchSearch::unsure(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& best,
                                  const torch::Tensor& second, const torch::Tensor& lab, const torch::Tensor& dist,
                                  const torch::Tensor& cn) const {
  // l2_choice_unsure on tensors (double).
  const int64_t d = s.d;
  const torch::Tensor r = rows(s.norms + lo, m, 1).view({m}).to(torch::kDouble).clamp_min(0.0).sqrt();
  const torch::Tensor d1 = dist.to(torch::kDouble);
  const double rel = double(d + 2) * 0x1p-24, gamma = gamma_sum(d);
  const torch::Tensor window = (d1 * (1 + 2 * rel)).sqrt() + 2 * rel * r;
  const torch::Tensor reach = torch::minimum(r + window, cn.max());
  const torch::Tensor own = cn.index_select(0, lab);
  const torch::Tensor margin = gamma * (2 * r * own + own * own) + gamma * (2 * r * reach + reach * reach);
  const torch::Tensor gap = best.to(torch::kDouble) - second.to(torch::kDouble);
  const torch::Tensor valid = upload(s.valid + lo, m, torch::kByte).ne(0);
  return ((gap <= margin) & (margin > kMarginShare * d1) & valid).sum();
}

torch::Tensor TorchSearch::valid_positions(const LloydStep& s, int64_t lo, int64_t m) const {
  return upload(s.valid + lo, m, torch::kByte).ne(0).nonzero().squeeze(1);
}

LloydGrids TorchSearch::reduce_maxima(const torch::Tensor& maxima, const LloydStep& s, Communicator& comm) {
  const int64_t size = s.k + 1;
  const torch::Tensor host = maxima.to(torch::kCPU).contiguous();
  clock_.mark(Phase::download);
  std::copy_n(host.data_ptr<float>(), size, s.maxima);
  comm.allreduce_max(s.maxima, size_t(size));
  clock_.mark(Phase::reduce);
  return LloydGrids(s.col_max, s.maxima, s.k, s.d, s.n_valid);
}

TorchSearch::CentroidBlocks TorchSearch::centroid_blocks(const LloydStep& s, int64_t cb) const {
  const int64_t k = s.k, d = s.d;
  CentroidBlocks out;
  const bool l2 = !s.spherical;
  out.alpha = l2 ? 2.f : 1.f;
  // Centroid blocks' operands, once per step where they fit the reserve.
  out.once = operands_fit(k, d);
  const torch::Tensor cx = rows(s.c, k, d);
  out.all = cx;
  const torch::Tensor bias = base_bias(k, cx, nullptr, nullptr, l2);
  for (int64_t c0 = 0; c0 < k; c0 += cb) {
    const int64_t cn = std::min(cb, k - c0);
    const torch::Tensor cb_x = cx.narrow(0, c0, cn), cb_bias = bias.defined() ? bias.narrow(0, c0, cn) : bias;
    out.blocks.push_back(out.once ? base_operand(cb_x, cb_bias, out.alpha) : Operand{{}, cb_bias, {}});
    out.blocks.back().x = cb_x;
    out.first.push_back(c0);
  }
  return out;
}

void TorchSearch::nearest(const Operand& qo, const CentroidBlocks& cents, torch::Tensor& best, torch::Tensor& lab,
                          bool want_second, torch::Tensor& second) const {
  for (size_t blk = 0; blk < cents.blocks.size(); ++blk) {  // a later block wins only when strictly better
    const Operand& pre = cents.blocks[blk];
    Operand co = cents.once ? pre : base_operand(pre.x, pre.bias, cents.alpha);
    co.x = pre.x;
    if (!cents.once) clock_.mark(Phase::operands);
    // fp32: every centroid's score, the best by max(); low precision: the
    // best 1 + margin by the low products, re-scored in fp32 (candidates
    // marks gemm, select and rescore).
    Candidates c;
    if (low_) {
      c = candidates(qo, co, {}, cents.alpha, 1);
    } else {
      c.e = scores(qo, co, cents.alpha);
      clock_.mark(Phase::gemm);
    }
    torch::Tensor v, col;
    best_of(c, v, col);
    if (want_second) {  // the block's second best, then the second of all blocks so far
      const torch::Tensor v2 = c.e.size(1) >= 2 ? std::get<0>(c.e.topk(2, 1)).select(1, 1)
                                                : torch::full_like(v, -std::numeric_limits<float>::infinity());
      second = !best.defined() ? v2 : torch::maximum(torch::maximum(second, v2), torch::minimum(best, v));
    }
    if (!best.defined()) {
      best = v, lab = col;
    } else {
      const torch::Tensor win = v > best;
      best = torch::where(win, v, best), lab = torch::where(win, col + cents.first[blk], lab);
    }
    clock_.mark(Phase::select);
  }
}

void TorchSearch::add_sums(const LloydStep& s, const Assigned& a, const LloydGrids& g, const torch::Tensor& col_scale,
                           const torch::Tensor& cluster_scale, torch::Tensor& acc) const {
  const int64_t k = s.k, d = s.d;
  if (a.lab.numel() == 0) return;
  const torch::Tensor at = valid_positions(s, a.lo, a.m), lab = a.lab.to(torch::kLong);
  torch::Tensor sums = acc.narrow(0, 0, k * d).view({k, d}), counts = acc.narrow(0, k * d, k);
  torch::Tensor total = acc.narrow(0, k * (d + 1), 1), total_fine = acc.narrow(0, k * (d + 1) + 1, 1);
  // Each sum's grid scale (LloydGrids::scale: the finer of its column's and
  // its centroid's), per row by its label: x * scale is exact (a power of
  // two), round_ ties to even as FixedGrid::round_scaled.
  const torch::Tensor x = rows(s.x + a.lo * d, a.m, d).index_select(0, at);
  const torch::Tensor scale = torch::maximum(col_scale, cluster_scale.index_select(0, lab).unsqueeze(1));
  sums.index_add_(0, lab, x.to(torch::kDouble).mul_(scale).round_().to(torch::kLong));
  counts.index_add_(0, lab, torch::ones_like(lab));
  // SplitGrid::add: the nearest coarse step, then the exact rest on the fine grid.
  const double dist_scale = std::ldexp(1.0, g.dist.shift()), dist_step = std::ldexp(1.0, -g.dist.shift());
  const double fine_scale = std::ldexp(1.0, g.dist.fine_shift());
  const torch::Tensor dv = a.dist.to(torch::kDouble);
  const torch::Tensor hi = (dv * dist_scale).round_();
  total.add_(hi.to(torch::kLong).sum());
  total_fine.add_((dv - hi * dist_step).mul_(fine_scale).round_().to(torch::kLong).sum());
}

torch::Tensor TorchSearch::reduce_sums(torch::Tensor acc, Communicator& comm) {
  bool reduced = false;
#if DISTCLUST_TORCH_CUDA
  if (dev_.is_cuda() && comm.name() == "nccl") {
    // NCCL reads device memory on its own stream: torch's work must be done.
    c10::cuda::getCurrentCUDAStream(dev_.index()).synchronize();
    comm.allreduce_sum(acc.data_ptr<int64_t>(), size_t(acc.numel()));
    reduced = true;
    clock_.mark(Phase::reduce);
  }
#endif
  acc = acc.to(torch::kCPU).contiguous();
  clock_.mark(Phase::download);
  if (!reduced) comm.allreduce_sum(acc.data_ptr<int64_t>(), size_t(acc.numel()));  // local, MPI: host memory
  clock_.mark(Phase::reduce);
  return acc;
}

}  // namespace torch_search
}  // namespace distclust
