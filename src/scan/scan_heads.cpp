#include "scan/scan_heads.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "distclust/error.h"
#include "distclust/runtime.h"
#include "distclust/rng.h"
#include "kernels/gemm.h"

namespace distclust {

namespace {

/// One product of the heads (see kernels/gemm.h: fixed tiles, thread-count
/// independent). ta: A is [K x M]; tb: B is [N x K].
Gemm gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc) {
  Gemm g;
  g.ta = ta, g.tb = tb, g.m = M, g.n = N, g.k = K, g.a = A, g.lda = lda, g.b = B, g.ldb = ldb, g.beta = beta,
  g.c = C, g.ldc = ldc;
  return g;
}

/// out[j] += sum_i x[i*ld + j] over rows in order (double accumulators), for j < cols.
void add_column_sums(const float* x, int64_t rows, int64_t cols, int64_t ld, float* out) {
  const int64_t blk = 256;
  const int64_t nb = (cols + blk - 1) / blk;
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t j0 = b * blk, j1 = std::min(cols, j0 + blk);
    double acc[256] = {0};
    for (int64_t i = 0; i < rows; ++i) {
      const float* r = x + i * ld;
      for (int64_t j = j0; j < j1; ++j) acc[j - j0] += r[j];
    }
    for (int64_t j = j0; j < j1; ++j) out[j] += float(acc[j - j0]);
  }
}

/// Adds bias[j] to every row of z [rows x cols] (leading dimension ld).
void add_bias(float* z, int64_t rows, int64_t cols, int64_t ld, const float* bias) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t i = 0; i < rows; ++i) {
    float* r = z + i * ld;
    for (int64_t j = 0; j < cols; ++j) r[j] += bias[j];
  }
}

}  // namespace

ScanHeads::ScanHeads(const HeadShape& s) : s_(s) {
  require(s.kind == "linear" || s.kind == "mlp", "scan.head: '", s.kind, "' is not one of linear|mlp");
  require(s.d >= 1 && s.c >= 1 && s.heads >= 1 && (s.kind == "linear" || s.hidden >= 1), "scan heads: bad shape D=",
          s.d, " C=", s.c, " H=", s.heads, " hidden=", s.hidden);
  const size_t H = s.heads, D = s.d, C = s.c, Hd = s.hidden;
  const double n_params = s.kind == "linear" ? double(H) * C * (D + 1) : double(H) * (Hd * (D + 1.0) + C * (Hd + 1.0));
  // Weights, gradients and Adam's two moments; checked before allocating.
  require_memory(n_params * 4.0 * 4.0, fmt("scan heads (", H, " heads, ", s.kind, ", D=", D, ", C=", C,
                                             s.kind == "mlp" ? fmt(", hidden=", Hd) : std::string(), ")"));
  if (s.kind == "linear") {
    L_.w1 = 0;
    L_.b1 = H * C * D;
    params_.resize(L_.b1 + H * C);
  } else {
    L_.w1 = 0;
    L_.b1 = H * Hd * D;
    L_.w2 = L_.b1 + H * Hd;
    L_.b2 = L_.w2 + H * C * Hd;
    params_.resize(L_.b2 + H * C);
  }
  grad_.assign(params_.size(), 0.f);
  reset_adam();
}

void ScanHeads::init(uint64_t seed) {
  const int64_t H = s_.heads, D = s_.d, C = s_.c, Hd = s_.hidden;
  auto fill = [&](size_t off, int64_t h, int64_t count, uint64_t tensor, double fan_in) {
    const double bound = 1.0 / std::sqrt(fan_in);
    for (int64_t j = 0; j < count; ++j)
      params_[off + j] = float((2.0 * unit_double(key_hash(seed, 0x5CA4'0000ull + tensor, uint64_t(h), uint64_t(j))) - 1.0) * bound);
  };
  for (int64_t h = 0; h < H; ++h) {
    if (!mlp()) {
      fill(L_.w1 + h * C * D, h, C * D, 0, double(D));
      fill(L_.b1 + h * C, h, C, 1, double(D));
    } else {
      fill(L_.w1 + h * Hd * D, h, Hd * D, 0, double(D));
      fill(L_.b1 + h * Hd, h, Hd, 1, double(D));
      fill(L_.w2 + h * C * Hd, h, C * Hd, 2, double(Hd));
      fill(L_.b2 + h * C, h, C, 3, double(Hd));
    }
  }
  reset_adam();
}

void ScanHeads::forward(const float* x, int64_t n, float* z) {
  x_ = x;
  n_ = n;
  const int64_t H = s_.heads, D = s_.d, C = s_.c, Hd = s_.hidden, W = H * C;
  const float* P = params_.data();
  if (!mlp()) {
    tiled_gemm(gemm(false, true, n, W, D, x, D, P + L_.w1, D, 0.f, z, W));
    add_bias(z, n, W, W, P + L_.b1);
    return;
  }
  const int64_t HW = H * Hd;
  hid_.resize(size_t(n * HW));
  tiled_gemm(gemm(false, true, n, HW, D, x, D, P + L_.w1, D, 0.f, hid_.data(), HW));
  float* hp = hid_.data();
  const float* b1 = P + L_.b1;
#pragma omp parallel for schedule(static) if (n * HW > 65536)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < HW; ++j) hp[i * HW + j] = std::max(0.f, hp[i * HW + j] + b1[j]);
  // Second layer: one GEMM per head, all their tiles in one parallel loop.
  std::vector<Gemm> ops;
  for (int64_t h = 0; h < H; ++h)
    ops.push_back(gemm(false, true, n, C, Hd, hp + h * Hd, HW, P + L_.w2 + h * C * Hd, Hd, 0.f, z + h * C, W));
  tiled_gemm(ops);
  add_bias(z, n, W, W, P + L_.b2);
}

void ScanHeads::backward(const float* dz) {
  const int64_t H = s_.heads, D = s_.d, C = s_.c, Hd = s_.hidden, W = H * C, n = n_;
  float* G = grad_.data();
  const float* P = params_.data();
  if (n == 0) return;
  if (!mlp()) {
    tiled_gemm(gemm(true, false, W, D, n, dz, W, x_, D, 1.f, G + L_.w1, D));
    add_column_sums(dz, n, W, W, G + L_.b1);
    return;
  }
  const int64_t HW = H * Hd;
  add_column_sums(dz, n, W, W, G + L_.b2);
  dhid_.resize(size_t(n * HW));
  std::vector<Gemm> ops;
  for (int64_t h = 0; h < H; ++h) {
    // dW2_h [C x hid] += dz_h^T hid_h ; dhid_h [n x hid] = dz_h W2_h
    ops.push_back(gemm(true, false, C, Hd, n, dz + h * C, W, hid_.data() + h * Hd, HW, 1.f, G + L_.w2 + h * C * Hd, Hd));
    ops.push_back(gemm(false, false, n, Hd, C, dz + h * C, W, P + L_.w2 + h * C * Hd, Hd, 0.f, dhid_.data() + h * Hd, HW));
  }
  tiled_gemm(ops);
  float* dh = dhid_.data();
  const float* hp = hid_.data();
#pragma omp parallel for schedule(static) if (n * HW > 65536)
  for (int64_t i = 0; i < n * HW; ++i)
    if (hp[i] <= 0.f) dh[i] = 0.f;
  tiled_gemm(gemm(true, false, HW, D, n, dh, HW, x_, D, 1.f, G + L_.w1, D));
  add_column_sums(dh, n, HW, HW, G + L_.b1);
}

void ScanHeads::zero_grad() { std::fill(grad_.begin(), grad_.end(), 0.f); }

void ScanHeads::reset_adam() {
  m_.assign(params_.size(), 0.f);
  v_.assign(params_.size(), 0.f);
  t_ = 0;
}

void ScanHeads::adam(const AdamConfig& a, int64_t begin, int64_t end, const float* g) {
  ++t_;
  const double bc1 = 1.0 - std::pow(a.beta1, double(t_)), bc2 = 1.0 - std::pow(a.beta2, double(t_));
  const float lr = float(a.lr / bc1), wd = float(a.weight_decay), b1 = float(a.beta1), b2 = float(a.beta2);
  const float isq = float(1.0 / std::sqrt(bc2)), eps = float(a.eps);
  if (end < 0) end = int64_t(params_.size());
  require(begin >= 0 && begin <= end && end <= int64_t(params_.size()), "scan: Adam range [", begin, ", ", end,
          ") outside ", params_.size(), " parameters");
  const int64_t n = end - begin;
  if (!g) g = grad_.data() + begin;
  float *p = params_.data() + begin, *m = m_.data() + begin, *v = v_.data() + begin;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    p[i] -= lr * m[i] / (std::sqrt(v[i]) * isq + eps);
  }
}

ScanHeads ScanHeads::extract(int h) const {
  require(h >= 0 && h < s_.heads, "scan: head ", h, " out of range (", s_.heads, " heads)");
  HeadShape one = s_;
  one.heads = 1;
  ScanHeads out(one);
  const int64_t D = s_.d, C = s_.c, Hd = s_.hidden;
  auto copy = [&](size_t from, size_t to, int64_t count) {
    std::copy_n(params_.begin() + from, count, out.params_.begin() + to);
  };
  if (!mlp()) {
    copy(L_.w1 + h * C * D, out.L_.w1, C * D);
    copy(L_.b1 + h * C, out.L_.b1, C);
  } else {
    copy(L_.w1 + h * Hd * D, out.L_.w1, Hd * D);
    copy(L_.b1 + h * Hd, out.L_.b1, Hd);
    copy(L_.w2 + h * C * Hd, out.L_.w2, C * Hd);
    copy(L_.b2 + h * C, out.L_.b2, C);
  }
  return out;
}

namespace {

/// exp(x) for x <= 0 (softmax after subtracting the max), within ~2 ulp of
/// expf: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-6
/// polynomial for e^r, then 2^n by exponent bits. Plain arithmetic, so the
/// compiler vectorises it (expf calls do not vectorise without -ffast-math)
/// and the result is the same on every rank.
inline float exp_nonpos(float x) {
  x = std::max(x, -86.0f);  // keeps 2^n normal; e^-86 ~ 4e-38 is 0 for a softmax
  const float n = std::nearbyint(x * 1.44269504088896341f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  const float e = (q * r) * r + r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &e, 4);
  // n <= 0: shifted as unsigned (a left shift of a negative value is
  // undefined before C++20). A NaN x (a diverged head) keeps e NaN, and
  // must not reach int32_t(n), undefined for NaN: the divergence check
  // reads the NaN off the loss.
  const int32_t ni = n == n ? int32_t(n) : 0;
  bits += int32_t(uint32_t(ni) << 23);
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

}  // namespace

void softmax_heads(const float* z, int64_t n, int heads, int64_t c, float* p) {
  const int64_t W = heads * c;
#pragma omp parallel for schedule(static) if (n * W > 16384)
  for (int64_t i = 0; i < n; ++i)
    for (int h = 0; h < heads; ++h) {
      const float* zi = z + i * W + h * c;
      float* pi = p + i * W + h * c;
      float mx = zi[0];
      for (int64_t j = 1; j < c; ++j) mx = std::max(mx, zi[j]);
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < c; ++j) {
        const float e = exp_nonpos(zi[j] - mx);
        pi[j] = e;
        s += e;
      }
      const float inv = 1.0f / s;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) pi[j] *= inv;
    }
}

void mean_entropy(const double* pbar, int heads, int64_t c, double* out) {
  for (int h = 0; h < heads; ++h) {
    double e = 0;
    for (int64_t j = 0; j < c; ++j) {
      const double q = std::max(pbar[h * c + j], 1e-8);
      e -= q * std::log(q);
    }
    out[h] = e;
  }
}

void scan_loss_grad(const float* pa, const float* pn, int64_t n, int heads, int64_t c, const double* pbar,
                    double b_global, double entropy_weight, float* dz, double* cons_sum) {
  constexpr double kDotEps = 1e-7, kProbEps = 1e-8;
  const int64_t W = heads * c;
  const double inv_b = 1.0 / b_global;
  // Entropy gradient w.r.t. each anchor's probabilities: g_c = w/B (log pbar_c + 1)
  // where pbar_c is not clamped (torch.clamp passes no gradient below the floor).
  std::vector<float> g(static_cast<size_t>(W));
  for (int64_t j = 0; j < W; ++j)
    g[j] = pbar[j] > kProbEps ? float(entropy_weight * inv_b * (std::log(pbar[j]) + 1.0)) : 0.f;
  std::vector<double> cons(static_cast<size_t>(n * heads));
#pragma omp parallel for schedule(static) if (n * W > 16384)
  for (int64_t i = 0; i < n; ++i)
    for (int h = 0; h < heads; ++h) {
      const float* a = pa + i * W + h * c;
      const float* b = pn + i * W + h * c;
      float* da = dz + i * W + h * c;
      float* db = dz + (n + i) * W + h * c;
      const float* gh = g.data() + h * c;
      double s = 0, ga = 0;
#pragma omp simd reduction(+ : s, ga)
      for (int64_t j = 0; j < c; ++j) {
        s += double(a[j]) * double(b[j]);
        ga += double(gh[j]) * double(a[j]);
      }
      const bool clamped = s < kDotEps;
      cons[i * heads + h] = -std::log(std::max(s, kDotEps));
      // consistency: d/dz_a = 1/B (pa - pa*pn/s), d/dz_n = 1/B (pn - pa*pn/s); entropy: pa*(g - <g,pa>)
      const float ib = clamped ? 0.f : float(inv_b), is = clamped ? 0.f : float(1.0 / s), gaf = float(ga);
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) {
        const float ab = a[j] * b[j] * is;
        da[j] = ib * (a[j] - ab) + a[j] * (gh[j] - gaf);
        db[j] = ib * (b[j] - ab);
      }
    }
  for (int64_t i = 0; i < n; ++i)
    for (int h = 0; h < heads; ++h) cons_sum[h] += cons[i * heads + h];
}

double balanced_ce_grad(const float* p, const int64_t* y, int64_t n, int64_t c, const double* weight,
                        double w_total, float* dz) {
  std::vector<double> li(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n * c > 16384)
  for (int64_t i = 0; i < n; ++i) {
    const double w = weight[y[i]] / w_total;
    const float* pi = p + i * c;
    float* d = dz + i * c;
    for (int64_t j = 0; j < c; ++j) d[j] = float(w * pi[j]);
    d[y[i]] = float(w * (double(pi[y[i]]) - 1.0));
    li[i] = -w * std::log(std::max(double(pi[y[i]]), 1e-30));
  }
  double s = 0;
  for (double v : li) s += v;
  return s;
}

}  // namespace distclust
