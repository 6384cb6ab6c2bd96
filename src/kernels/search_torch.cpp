// The LibTorch search kernel (search_torch.h): blocks, scores, selection and
// the plugin's entry point distclust_torch_search_v1.
#include "kernels/search_torch.h"

#if DISTCLUST_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include <algorithm>
#include <limits>

#include "distclust/error.h"

namespace distclust {
namespace torch_search {
namespace {

constexpr float kNever = -std::numeric_limits<float>::infinity();

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/// Where a block's picks go: query rows lo..hi of q (block rows off..),
/// base rows c0.. of b.
struct Offer {
  const SearchQueries& q;
  const SearchBase& b;
  int64_t lo, hi, off, c0;
  int64_t id(int64_t col) const { return b.ids ? b.ids[c0 + col] : b.first_id + c0 + col; }
  int64_t row(int64_t i) const { return q.top_rows ? q.top_rows[i] : i; }
};

/// The best `keep` candidates of each row into top. A row whose keep-th
/// score is tied with candidates topk left out offers all candidates at or
/// above it, so the TopK's order (ties to the lower id) decides, as on the CPU.
void offer_best(const Candidates& c, int64_t keep, const Offer& o, TopK& top) {
  const int64_t w = c.e.size(1), kk = std::min(keep, w);
  auto tk = torch::topk(c.e, kk, 1, /*largest=*/true, /*sorted=*/true);
  torch::Tensor v = std::get<0>(tk), j = std::get<1>(tk);
  torch::Tensor cols = c.cols.defined() ? c.cols.gather(1, j) : j;
  torch::Tensor tied;
  if (kk < w) {
    const torch::Tensor t = v.select(1, kk - 1).unsqueeze(1);
    tied = ((c.e >= t).sum(1) > kk).logical_and(t.squeeze(1) > kNever).to(torch::kCPU);
  }
  v = v.to(torch::kCPU).contiguous();
  cols = cols.to(torch::kCPU).contiguous();
  const float* pv = v.data_ptr<float>();
  const int64_t* pc = cols.data_ptr<int64_t>();
  const bool* pt = tied.defined() ? tied.data_ptr<bool>() : nullptr;
  for (int64_t i = o.lo; i < o.hi; ++i) {
    const int64_t r = o.off + i - o.lo, row = o.row(i);
    if (pt && pt[r]) {  // rare: all candidates at or above the tied score
      const torch::Tensor e = c.e[r].to(torch::kCPU).contiguous();
      const torch::Tensor ec = (c.cols.defined() ? c.cols[r] : torch::arange(w, c.e.options().dtype(torch::kLong)))
                                   .to(torch::kCPU).contiguous();
      const float t = pv[r * kk + kk - 1];
      for (int64_t x = 0; x < w; ++x)
        if (e.data_ptr<float>()[x] >= t) top.push(row, e.data_ptr<float>()[x], o.id(ec.data_ptr<int64_t>()[x]));
      continue;
    }
    for (int64_t x = 0; x < kk; ++x) {
      const float s = pv[r * kk + x];
      if (s > kNever) top.push(row, s, o.id(pc[r * kk + x]));
    }
  }
}

/// Each query's own column in base rows c0..c0+cn ([rows], -1: none), or an
/// undefined tensor without exclude_self.
std::vector<int64_t> self_columns(const SearchQueries& q, const SearchBase& b, int64_t lo, int64_t hi, int64_t off,
                                  int64_t rows, int64_t c0, int64_t cn, bool& any) {
  std::vector<int64_t> sc(static_cast<size_t>(rows), -1);
  any = false;
  if (!b.exclude_self) return sc;
  for (int64_t i = lo; i < hi; ++i) {
    const int64_t self = q.ids ? q.ids[i] : q.first_row + i;
    int64_t col = -1;
    if (b.ids) {
      const int64_t* at = std::lower_bound(b.ids + c0, b.ids + c0 + cn, self);
      if (at != b.ids + c0 + cn && *at == self) col = at - (b.ids + c0);
    } else if (self - b.first_id - c0 >= 0 && self - b.first_id - c0 < cn) {
      col = self - b.first_id - c0;
    }
    sc[size_t(off + i - lo)] = col;
    any = any || col >= 0;
  }
  return sc;
}

}  // namespace

TorchSearch::TorchSearch(const TorchComputeSpec& s) : spec_(s), dev_(s.device) {
  const std::string& p = s.precision;
  require(p == "fp32" || p == "tf32" || p == "bf16" || p == "fp16", "runtime.precision: '", p, "' is not one of fp32|tf32|bf16|fp16");
  mm_type_ = p == "bf16" ? torch::kBFloat16 : p == "fp16" ? torch::kHalf : torch::kFloat;
  low_ = p != "fp32";
  int64_t total = s.memory_bytes;
  if (dev_.is_cuda()) {
#if DISTCLUST_TORCH_CUDA
    require(torch::cuda::is_available() && dev_.index() < int(torch::cuda::device_count()), "runtime.device: '",
            s.device, "' but ", torch::cuda::is_available() ? torch::cuda::device_count() : 0, " GPU(s) are visible");
    if (total <= 0) total = int64_t(double(at::cuda::getDeviceProperties(dev_.index())->totalGlobalMem) * 0.4);
    // tf32: tensor-core products for fp32 matrices (the candidates are re-scored in fp32).
    at::globalContext().setFloat32MatmulPrecision(p == "tf32" ? "high" : "highest");
#else
    throw Error(fmt("runtime.device: '", s.device, "' needs a LibTorch with CUDA; this plugin's has none"));
#endif
  } else {
    if (total <= 0) total = int64_t(512) << 20;
    at::set_num_threads(std::max(1, s.threads));
  }
  held_budget_ = total / 2;
  work_budget_ = std::max<int64_t>(total - held_budget_, 1);
}

std::string TorchSearch::name() const { return fmt("torch:", spec_.device, " ", spec_.precision); }

torch::Tensor TorchSearch::upload(const void* p, int64_t n, torch::ScalarType t) const {
  // from_blob does not copy: on CPU tensors the caller's memory is used as
  // is (never written), on a GPU .to() copies it over.
  return torch::from_blob(const_cast<void*>(p), {n}, torch::TensorOptions().dtype(t)).to(dev_);
}

torch::Tensor TorchSearch::rows(const float* x, int64_t n, int64_t d) const {
  for (const Held& h : held_) {
    if (!h.t.defined() || h.d != d || x < h.x || x + n * d > h.x + h.n * h.d || (x - h.x) % d != 0) continue;
    return h.t.narrow(0, (x - h.x) / d, n);
  }
  return upload(x, n * d, torch::kFloat).view({n, d});
}

void TorchSearch::hold(const float* x, int64_t n, int64_t d) {
  Held h{x, n, d, {}};
  const int64_t bytes = n * d * int64_t(sizeof(float));
  if (x && n > 0 && held_bytes_ + bytes <= held_budget_) {
    h.t = upload(x, n * d, torch::kFloat).view({n, d});
    if (!dev_.is_cuda()) h.t = h.t.clone();  // CPU tensors: an own copy, as on a device
    held_bytes_ += bytes;
  }
  held_.push_back(std::move(h));
}

void TorchSearch::release(const float* x) {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    if (it->x != x) continue;
    if (it->t.defined()) held_bytes_ -= it->n * it->d * int64_t(sizeof(float));
    held_.erase(std::next(it).base());
    return;
  }
}

torch::Tensor TorchSearch::query_block(const float* x, int64_t d, int64_t lo, int64_t hi, int64_t off,
                                       int64_t n) const {
  torch::Tensor real = rows(x + lo * d, hi - lo, d);
  if (hi - lo == n) return real;
  torch::Tensor pad = torch::zeros({n, d}, torch::TensorOptions().dtype(torch::kFloat).device(dev_));
  pad.narrow(0, off, hi - lo).copy_(real);
  return pad;
}

torch::Tensor TorchSearch::base_bias(const torch::Tensor& bx, const float* norms, const uint8_t* valid,
                                     bool l2) const {
  const int64_t cn = bx.size(0);
  torch::Tensor bias = !l2    ? torch::zeros({cn}, bx.options())
                       : norms ? upload(norms, cn, torch::kFloat).neg()
                               : bx.mul(bx).sum(1).neg();
  if (valid) bias.masked_fill_(upload(valid, cn, torch::kByte) == 0, kNever);
  return bias;
}

Candidates TorchSearch::candidates(const torch::Tensor& qx, const torch::Tensor& bx, const torch::Tensor& bias,
                                   const torch::Tensor& selfcol, float alpha, int64_t keep) const {
  torch::Tensor s;
  if (!low_) {
    s = torch::mm(qx, bx.t());
  } else if (dev_.is_cuda()) {
    s = torch::mm(qx.to(mm_type_), bx.to(mm_type_).t()).to(torch::kFloat);
  } else {
    // CPU tensors: inputs rounded to the low type, products accumulated in
    // fp32 (what tensor cores do), so the re-scoring below is exercised.
    s = torch::mm(qx.to(mm_type_).to(torch::kFloat), bx.to(mm_type_).to(torch::kFloat).t());
  }
  s.mul_(alpha).add_(bias.unsqueeze(0));
  torch::Tensor own;
  if (selfcol.defined()) {
    own = selfcol.ge(0).nonzero().squeeze(1);
    if (own.numel()) s.index_put_({own, selfcol.index_select(0, own)}, kNever);
  }
  if (!low_) return {s, {}};
  const int64_t m = qx.size(0), d = qx.size(1), c = std::min<int64_t>(bx.size(0), keep + margin(keep));
  torch::Tensor cols = std::get<1>(torch::topk(s, c, 1, true, false));
  const torch::Tensor flat = cols.reshape({-1});
  torch::Tensor e = (bx.index_select(0, flat).view({m, c, d}) * qx.unsqueeze(1)).sum(2);
  e.mul_(alpha).add_(bias.index_select(0, flat).view({m, c}));
  if (selfcol.defined()) e.masked_fill_(cols == selfcol.unsqueeze(1), kNever);
  return {e, cols};
}

void TorchSearch::block_sizes(int64_t n, int64_t nb, int64_t d, int64_t cap, int64_t& qb, int64_t& cb) const {
  constexpr int64_t kScoreBytes = 16;  // fp32 scores, a low-precision copy, topk and mask temporaries
  (void)n;  // block sizes must not depend on a rank's row count (aligned blocks)
  cb = std::min(nb, std::max<int64_t>(16, work_budget_ / (kScoreBytes * 1024)));
  const int64_t c = std::min(cb, cap + margin(cap));
  const int64_t per_row = cb * kScoreBytes + d * 8 + c * 16 + (low_ ? c * d * 8 : 0);
  qb = std::clamp<int64_t>(work_budget_ / per_row, 1, 8192);
}

void TorchSearch::search(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
                         const std::function<void(int64_t)>& on_rows) {
  require(q.d >= 1 && (q.n == 0 || q.x) && (b.n == 0 || b.x), "search: bad shapes (", q.n, " x ", q.d,
          " queries, ", b.n, " base rows)");
  if (q.n == 0 || b.n == 0) return;
  try {
    torch::NoGradGuard no_grad;
    const int64_t d = q.d, cap = top.cap();
    const bool l2 = m == Metric::l2;
    int64_t qb = 0, cb = 0;
    block_sizes(q.n, b.n, d, cap, qb, cb);
    if (!q.aligned) qb = std::min(qb, q.n);
    const int64_t origin = q.aligned ? q.first_row : 0;
    const int64_t t_first = floor_div(origin, qb), t_last = floor_div(origin + q.n - 1, qb);
    const auto i64 = torch::TensorOptions().dtype(torch::kLong);
    for (int64_t c0 = 0; c0 < b.n; c0 += cb) {
      const int64_t cn = std::min(cb, b.n - c0);
      const torch::Tensor bx = rows(b.x + c0 * d, cn, d);
      const torch::Tensor bias = base_bias(bx, b.norms ? b.norms + c0 : nullptr, b.valid ? b.valid + c0 : nullptr, l2);
      for (int64_t t = t_first; t <= t_last; ++t) {
        const int64_t g0 = t * qb;
        const int64_t lo = std::max(origin, g0) - origin, hi = std::min(origin + q.n, g0 + qb) - origin;
        const int64_t off = origin + lo - g0, n = q.aligned ? qb : hi - lo;
        const int64_t o = q.aligned ? off : 0;
        bool any = false;
        std::vector<int64_t> sc = self_columns(q, b, lo, hi, o, n, c0, cn, any);
        const torch::Tensor selfcol = any ? torch::tensor(sc, i64).to(dev_) : torch::Tensor();
        const Candidates c = candidates(query_block(q.x, d, lo, hi, o, n), bx, bias, selfcol, l2 ? 2.f : 1.f, cap);
        offer_best(c, cap, Offer{q, b, lo, hi, o, c0}, top);
      }
      if (on_rows) on_rows(int64_t(double(q.n) * double(c0 + cn) / double(b.n)));
    }
  } catch (const c10::Error& e) {
    throw Error(fmt("LibTorch search on ", spec_.device, ": ", e.what_without_backtrace()));
  }
}

}  // namespace torch_search
}  // namespace distclust

extern "C" __attribute__((visibility("default"))) distclust::SearchKernel* distclust_torch_search_v1(
    const distclust::TorchComputeSpec* spec, std::string* error) noexcept {
  try {
    return new distclust::torch_search::TorchSearch(*spec);
  } catch (const c10::Error& e) {
    *error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return nullptr;
}
