// The LibTorch search kernel (search_torch.h): held rows, device blocks, the
// blocks of a search and the plugin's entry point distclust_torch_search_v6
// (the products and picks: scores_torch.cpp).
#include "kernels/search_torch.h"

#if DISTCLUST_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <algorithm>

#include "distclust/comm.h"
#include "distclust/error.h"
#include "kernels/torch_types.h"

namespace distclust {
namespace torch_search {
namespace {
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/// running (best first, ids below the new block's) merged with a block's picks.
Picks merge(const Picks& running, const Picks& block, int64_t keep) {
  if (!running.v.defined()) return block;
  return best_by_key(torch::cat({running.v, block.v}, 1), torch::cat({running.ids, block.ids}, 1), keep);
}

/// Picks of query rows lo..hi (block rows off..) of q into top.
void push(const Picks& p, const SearchQueries& q, int64_t lo, int64_t hi, int64_t off, TopK& top) {
  const torch::Tensor v = p.v.narrow(0, off, hi - lo).to(torch::kCPU).contiguous();
  const torch::Tensor id = p.ids.narrow(0, off, hi - lo).to(torch::kCPU).contiguous();
  const int64_t kk = v.size(1);
  const float* pv = v.data_ptr<float>();
  const int64_t* pi = id.data_ptr<int64_t>();
  for (int64_t i = lo; i < hi; ++i) {
    const int64_t row = q.top_rows ? q.top_rows[i] : i, r = i - lo;
    for (int64_t x = 0; x < kk; ++x)
      if (pv[r * kk + x] > kNever) top.push(row, pv[r * kk + x], pi[r * kk + x]);
  }
}

/// Each query's own column in base rows c0..c0+cn ([rows], -1: none; any:
/// whether one is; all -1 without exclude_self).
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

TorchSearch::TorchSearch(const TorchComputeSpec& s) : spec_(s), dev_(s.device), clock_(dev_) {
  const std::string& p = s.precision;
  mm_type_ = torch_type(p, "runtime.precision", /*tf32_ok=*/true);
  low_ = p != "fp32";
  store_type_ = torch_type(s.storage, "runtime.storage", /*tf32_ok=*/false);
  int64_t total = s.memory_bytes;
  if (dev_.is_cuda()) {
#if DISTCLUST_TORCH_CUDA
    require(torch::cuda::is_available() && dev_.index() < int(torch::cuda::device_count()), "runtime.device: '",
            s.device, "' but ", torch::cuda::is_available() ? torch::cuda::device_count() : 0, " GPU(s) are visible");
    // The rank's own GPU as the thread's current device: a CUDA call that
    // names no device then never opens a context on GPU 0 (one per rank there).
    if (dev_.has_index()) c10::cuda::set_device(dev_.index());
    // Ranks sharing the GPU share the 40% (cli/context.cpp logs it).
    if (total <= 0)
      total = int64_t(double(at::cuda::getDeviceProperties(dev_.index())->totalGlobalMem) * 0.4 /
                      std::max(1, s.ranks_on_device));
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
  reserve_budget_ = low_mm() ? work_budget_ / 8 : 0;
}

std::string TorchSearch::time_report() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Where a call's rows came from is half of where its time went on a GPU.
  char traffic[160];
  int at = std::snprintf(traffic, sizeof(traffic), "%lld calls, %.4g MB of rows not held",
                         static_cast<long long>(calls_), double(streamed_bytes_) / 1e6);
  // Rows with keep + margin equal scores are each picked again over their
  // whole row: said when any were (duplicate rows do it).
  if (repicked_rows_ > 0)
    std::snprintf(traffic + at, sizeof(traffic) - size_t(at), ", %lld query rows picked again by exact keys (ties)",
                  static_cast<long long>(repicked_rows_));
  return clock_.report(traffic);
}

std::string TorchSearch::name() const {
  return fmt("torch:", spec_.device, " ", spec_.precision, spec_.storage != "fp32" ? " rows " + spec_.storage : "");
}

torch::Tensor TorchSearch::upload(const void* p, int64_t n, torch::ScalarType t) const {
  // from_blob does not copy: on CPU tensors the caller's memory is used as
  // is (never written), on a GPU .to() copies it over.
  return torch::from_blob(const_cast<void*>(p), {n}, torch::TensorOptions().dtype(t)).to(dev_);
}

torch::Tensor TorchSearch::in_block(const float* x, int64_t n, int64_t d) const {
  for (const torch::Tensor& t : blocks_) {
    const float* b = t.data_ptr<float>();
    if (t.size(1) == d && x >= b && x + n * d <= b + t.numel() && (x - b) % d == 0) return t.narrow(0, (x - b) / d, n);
  }
  return {};
}

bool TorchSearch::is_held(const float* x, int64_t n, int64_t d) const {
  if (in_block(x, n, d).defined()) return true;
  for (const Held& h : held_)
    if (h.t.defined() && h.d == d && x >= h.x && x + n * d <= h.x + h.n * h.d && (x - h.x) % d == 0) return true;
  return false;
}

torch::Tensor TorchSearch::rows(const float* x, int64_t n, int64_t d) const {
  if (torch::Tensor b = in_block(x, n, d); b.defined()) return b;
  for (const Held& h : held_) {
    if (!h.t.defined() || h.d != d || x < h.x || x + n * d > h.x + h.n * h.d || (x - h.x) % d != 0) continue;
    const torch::Tensor t = h.t.narrow(0, (x - h.x) / d, n);
    return t.scalar_type() == torch::kFloat ? t : t.to(torch::kFloat);
  }
  streamed_bytes_ += n * d * int64_t(sizeof(float));
  return upload(x, n * d, torch::kFloat).view({n, d});
}

void TorchSearch::hold(const float* x, int64_t n, int64_t d) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_locked(x, n, d);
}

void TorchSearch::hold_locked(const float* x, int64_t n, int64_t d) {
  Held h{x, n, d, {}};
  // Per-row scalars ([n x 1]: k-means' |x|^2) stay fp32 whatever the
  // storage: they are tiny, and a distance is |x|^2 - score, so a norm
  // rounded to bf16 moved every distance (the inertia, the tol rule) by up
  // to 0.4% of the norm.
  const torch::ScalarType type = d == 1 ? torch::kFloat : store_type_;
  const int64_t bytes = n * d * int64_t(c10::elementSize(type));
  if (x && n > 0 && held_bytes_ + bytes <= held_budget_) {
    if (type == torch::kFloat) {
      h.t = upload(x, n * d, torch::kFloat).view({n, d});
      if (!dev_.is_cuda()) h.t = h.t.clone();  // CPU tensors: an own copy, as on a device
    } else {
      // Rounded on the host, so the device never holds an fp32 copy of the shard.
      const torch::Tensor host = torch::from_blob(const_cast<float*>(x), {n, d}, torch::kFloat);
      h.t = host.to(type).to(dev_);
      // fp16 tops out at 65504: a larger value became inf, and every sum,
      // score and distance of its row after it (k-means' grids: garbage sums).
      if (type == torch::kHalf)
        require(!h.t.isinf().any().item<bool>(), "runtime.storage=fp16: a row value is beyond fp16's range (",
                "|x| > 65504; largest |x| ", host.abs().max().item<float>(),
                "): use runtime.storage=bf16 or fp32, or rescale the features");
    }
    held_bytes_ += bytes;
  }
  held_.push_back(std::move(h));
}

void TorchSearch::release(const float* x) {
  std::lock_guard<std::mutex> lock(mu_);
  release_locked(x);
}

void TorchSearch::release_locked(const float* x) {
  for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
    if (it->x != x) continue;
    if (it->t.defined()) held_bytes_ -= it->t.numel() * int64_t(it->t.element_size());
    held_.erase(std::next(it).base());
    return;
  }
}

float* TorchSearch::alloc_block(int64_t n, int64_t d, const Communicator& comm) {
  std::lock_guard<std::mutex> lock(mu_);
  // A GPU's memory goes only to NCCL (MPI would read a device pointer as a host one).
  if (n < 1 || d < 1 || (dev_.is_cuda() && comm.name() != "nccl")) return nullptr;
  const int64_t bytes = n * d * int64_t(sizeof(float));
  if (held_bytes_ + bytes > held_budget_) return nullptr;
  try {
    blocks_.push_back(torch::empty({n, d}, torch::TensorOptions().dtype(torch::kFloat).device(dev_)));
  } catch (const c10::Error& e) {
    throw Error(fmt("LibTorch device block of ", n, " x ", d, " on ", spec_.device, ": ", e.what_without_backtrace()));
  }
  held_bytes_ += bytes;
  return blocks_.back().data_ptr<float>();
}

void TorchSearch::write_block(float* block, const float* x, int64_t n, int64_t d) {
  if (n == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  torch::Tensor b = in_block(block, n, d);
  require(b.defined(), "write_block: ", n, " x ", d, " rows are not inside a device block of ", name());
  torch::NoGradGuard no_grad;
  b.copy_(torch::from_blob(const_cast<float*>(x), {n, d}, torch::TensorOptions().dtype(torch::kFloat)));
  block_fence();  // written before the comm (NCCL: its own stream) sends it
}

void TorchSearch::block_fence() {
#if DISTCLUST_TORCH_CUDA
  if (dev_.is_cuda()) c10::cuda::getCurrentCUDAStream(dev_.index()).synchronize();
#endif
}

void TorchSearch::free_block(float* block) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
    if (it->data_ptr<float>() != block) continue;
    block_fence();  // no queued work may read it after the free
    held_bytes_ -= it->numel() * int64_t(sizeof(float));
    blocks_.erase(it);
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

torch::Tensor TorchSearch::base_bias(int64_t cn, const torch::Tensor& bx, const float* norms, const uint8_t* valid,
                                     bool l2) const {
  if (!l2 && !valid) return {};  // inner products of valid rows: no pass over the scores
  torch::Tensor bias = !l2    ? torch::zeros({cn}, torch::TensorOptions().dtype(torch::kFloat).device(dev_))
                       : norms ? upload(norms, cn, torch::kFloat).neg()
                               : bx.mul(bx).sum(1).neg();
  if (valid) bias.masked_fill_(upload(valid, cn, torch::kByte) == 0, kNever);
  return bias;
}

void TorchSearch::block_sizes(int64_t n, int64_t nb, int64_t d, int64_t cap, int64_t& qb, int64_t& cb) const {
  constexpr int64_t kScoreBytes = 40;  // fp32 scores, a low-precision product, topk temporaries, re-picked rows' int64 keys
  (void)n;  // block sizes must not depend on a rank's row count (aligned blocks)
  const int64_t work = work_budget_ - reserve_budget_;
  cb = std::min(nb, std::max<int64_t>(16, work / (kScoreBytes * 1024)));
  const int64_t c = std::min(cb, cap + margin(cap));
  const int64_t per_row = cb * kScoreBytes + d * 8 + c * 16 + (low_ ? c * d * 8 : 0);
  qb = std::clamp<int64_t>(work / per_row, 1, 8192);
}

void TorchSearch::search(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
                         const std::function<void(int64_t)>& on_rows) {
  require(q.d >= 1 && (q.n == 0 || q.x) && (b.n == 0 || b.x), "search: bad shapes (", q.n, " x ", q.d,
          " queries, ", b.n, " base rows)");
  if (q.n == 0 || b.n == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  // On a GPU, rows that fit are uploaded once for this call (each query
  // block meets every base block).
  std::vector<const float*> temp;
  auto release_temp = [&] {
    for (const float* x : temp) release_locked(x);
  };
  try {
    torch::NoGradGuard no_grad;
    clock_.start();
    ++calls_;
    const int64_t d = q.d;
    for (const auto& [x, n] : {std::pair<const float*, int64_t>{b.x, b.n}, {q.x, q.n}})
      if (dev_.is_cuda() && !is_held(x, n, d) && held_bytes_ + n * d * int64_t(c10::elementSize(store_type_)) <= held_budget_)
        hold_locked(x, n, d), temp.push_back(x);
    clock_.mark(Phase::upload);
    search_blocks(q, b, m, top, on_rows);
  } catch (const c10::Error& e) {
    release_temp();
    throw Error(fmt("LibTorch search on ", spec_.device, ": ", e.what_without_backtrace()));
  } catch (...) {
    release_temp();
    throw;
  }
  release_temp();
}

// Longer than a screen on purpose: base_parts is built once per call or once
// per block pair depending on `shared`/`once`, and the phase clock's marks
// follow each step; apart, the two loops would share ten locals.
void TorchSearch::search_blocks(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
                                const std::function<void(int64_t)>& on_rows) {
  const int64_t d = q.d, cap = top.cap();
  const bool l2 = m == Metric::l2;
  int64_t qb = 0, cb = 0;
  block_sizes(q.n, b.n, d, cap, qb, cb);
  if (!q.aligned) qb = std::min(qb, q.n);
  const int64_t origin = q.aligned ? q.first_row : 0;
  const int64_t t_first = floor_div(origin, qb), t_last = floor_div(origin + q.n - 1, qb);
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  const float alpha = l2 ? 2.f : 1.f;
  // Per base block, once per call where several query blocks meet it: bias,
  // ids and (bf16/fp16, where they fit the reserve) the low operand;
  // otherwise made per block pair. The rows are read here only where the
  // bias or operand needs them: rows not held are copied per read on a GPU.
  const bool shared = t_last > t_first, once = shared && operands_fit(b.n, d);
  // A base block's bias, ids and (with_low) low operand; bx undefined: read
  // the rows only if those need them.
  auto base_parts = [&](int64_t c0, torch::Tensor bx, bool with_low) {
    const int64_t cn = std::min(cb, b.n - c0);
    if (!bx.defined() && (with_low || (l2 && !b.norms))) bx = rows(b.x + c0 * d, cn, d);
    const torch::Tensor bias =
        base_bias(cn, bx, b.norms ? b.norms + c0 : nullptr, b.valid ? b.valid + c0 : nullptr, l2);
    Operand o = with_low ? base_operand(bx, bias, alpha) : Operand{{}, bias, {}};
    const torch::Tensor id = b.ids ? upload(b.ids + c0, cn, torch::kLong)
                                   : torch::arange(b.first_id + c0, b.first_id + c0 + cn, i64.device(dev_));
    return std::make_pair(std::move(o), id);
  };
  std::vector<std::pair<Operand, torch::Tensor>> base;
  if (shared)
    for (int64_t c0 = 0; c0 < b.n; c0 += cb) base.push_back(base_parts(c0, {}, once));
  clock_.mark(Phase::operands);
  for (int64_t t = t_first; t <= t_last; ++t) {
    const int64_t g0 = t * qb;
    const int64_t lo = std::max(origin, g0) - origin, hi = std::min(origin + q.n, g0 + qb) - origin;
    const int64_t off = q.aligned ? origin + lo - g0 : 0, n = q.aligned ? qb : hi - lo;
    const torch::Tensor qx = query_block(q.x, d, lo, hi, off, n);
    clock_.mark(Phase::upload);
    const Operand qo = query_operand(qx);
    clock_.mark(Phase::operands);
    Picks best;
    for (int64_t c0 = 0, blk = 0; c0 < b.n; c0 += cb, ++blk) {
      const int64_t cn = std::min(cb, b.n - c0);
      bool any = false;
      const std::vector<int64_t> sc = self_columns(q, b, lo, hi, off, n, c0, cn, any);
      const torch::Tensor selfcol = any ? torch::tensor(sc, i64).to(dev_) : torch::Tensor();
      const torch::Tensor bx = rows(b.x + c0 * d, cn, d);
      clock_.mark(Phase::upload);
      auto [bo, id] = shared ? base[size_t(blk)] : base_parts(c0, bx, false);
      if (!once) bo = base_operand(bx, bo.bias, alpha);
      bo.x = bx;
      clock_.mark(Phase::operands);
      const Candidates c = candidates(qo, bo, selfcol, alpha, cap, off, hi - lo);  // marks gemm, select, rescore
      const torch::Tensor cid = c.cols.defined() ? id.index_select(0, c.cols.reshape({-1})).view_as(c.cols)
                                                 : id.unsqueeze(0).expand_as(c.e);
      best = merge(best, best_by_key(c.e, cid, cap), cap);
      clock_.mark(Phase::merge);
    }
    push(best, q, lo, hi, off, top);  // waits for the device
    clock_.mark(Phase::download);
    clock_.settle();
    if (on_rows) on_rows(hi);
  }
}

}  // namespace torch_search
}  // namespace distclust

extern "C" __attribute__((visibility("default"))) distclust::SearchKernel* distclust_torch_search_v6(
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
