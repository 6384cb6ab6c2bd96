// embed's settings: validation, the default epoch count, and UMAP's curve
// fitted from min_dist and spread.
#include <cmath>
#include <vector>

#include "distclust/error.h"
#include "embed/embed.h"

namespace distclust {

void EmbedParams::validate() const {
  require(dim >= 1 && dim <= 1024, "embed.dim: ", dim, " must be in [1, 1024]");
  require(std::isfinite(spread) && spread > 0, "embed.spread: ", spread, " must be > 0");
  require(std::isfinite(min_dist) && min_dist >= 0 && min_dist <= spread, "embed.min_dist: ", min_dist,
          " must be in [0, spread = ", spread, "]");
  require(epochs >= 0 && epochs <= 100000, "embed.epochs: ", epochs, " must be in [0, 100000] (0 = auto)");
  require(std::isfinite(learning_rate) && learning_rate > 0, "embed.learning_rate: ", learning_rate, " must be > 0");
  require(negative_sample_rate >= 0 && negative_sample_rate <= 1000, "embed.negative_sample_rate: ",
          negative_sample_rate, " must be in [0, 1000]");
  require(checkpoint_every >= 0, "embed.checkpoint_every: ", checkpoint_every, " must be >= 0");
}

int embed_epochs(const EmbedParams& p, int64_t n) { return p.epochs > 0 ? p.epochs : (n < 10000 ? 500 : 200); }

namespace {

/// fit_ab at spread 1: the curve 1 / (1 + a x^2b) nearest (least squares)
/// to 1 below min_dist and exp(-(x - min_dist)) above, on 300 points of [0, 3].
CurveAB fit_unit_spread(double min_dist) {
  const int m = 300;
  std::vector<double> xs(m), ys(m);
  for (int i = 0; i < m; ++i) {
    xs[i] = 3.0 * i / (m - 1);
    ys[i] = xs[i] < min_dist ? 1.0 : std::exp(-(xs[i] - min_dist));
  }
  auto residuals = [&](double a, double b, double* jta, double* jtj) {
    double sse = 0;
    if (jta) jta[0] = jta[1] = 0;
    if (jtj) jtj[0] = jtj[1] = jtj[2] = 0;
    for (int i = 0; i < m; ++i) {
      const double x = xs[i];
      const double p = x > 0 ? std::pow(x, 2 * b) : 0.0;
      const double f = 1.0 / (1.0 + a * p), r = f - ys[i];
      sse += r * r;
      if (!jta) continue;
      const double da = -p * f * f, db = x > 0 ? -a * p * 2.0 * std::log(x) * f * f : 0.0;
      jta[0] += da * r;
      jta[1] += db * r;
      jtj[0] += da * da;
      jtj[1] += da * db;
      jtj[2] += db * db;
    }
    return sse;
  };
  double a = 1, b = 1, lambda = 1e-3;
  double sse = residuals(a, b, nullptr, nullptr);
  for (int it = 0; it < 500; ++it) {
    double g[2], h[3];
    residuals(a, b, g, h);
    bool stepped = false;
    for (int tries = 0; tries < 30 && !stepped; ++tries) {
      const double h00 = h[0] * (1 + lambda), h11 = h[2] * (1 + lambda), det = h00 * h11 - h[1] * h[1];
      if (det == 0) break;
      const double sa = -(h11 * g[0] - h[1] * g[1]) / det, sb = -(h00 * g[1] - h[1] * g[0]) / det;
      const double next = residuals(a + sa, b + sb, nullptr, nullptr);
      if (std::isfinite(next) && next <= sse) {
        const bool done = sse - next <= 1e-15 * sse && std::fabs(sa) + std::fabs(sb) < 1e-12;
        a += sa, b += sb, sse = next, lambda = std::max(lambda / 10, 1e-12), stepped = true;
        if (done) return {a, b};
      } else {
        lambda *= 10;
      }
    }
    if (!stepped) break;
  }
  return {a, b};
}

}  // namespace

CurveAB fit_ab(double min_dist, double spread) {
  // umap-learn's find_ab_params: 300 points of [0, 3 spread], target 1 below
  // min_dist and exp(-(x - min_dist) / spread) above; scipy's curve_fit
  // (Levenberg-Marquardt from a = b = 1) finds the least squares minimum.
  // With x = spread * u that is the fit at spread 1 and min_dist / spread,
  // and a = a_1 spread^(-2b): the same minimum, but Levenberg-Marquardt
  // from a = b = 1 on the unscaled axis found b = -125 at spread 0.2 (and
  // scipy too): a curve that rises with distance, and noise for a layout.
  CurveAB ab = fit_unit_spread(min_dist / spread);
  ab.a *= std::pow(spread, -2.0 * ab.b);
  require(std::isfinite(ab.a) && std::isfinite(ab.b) && ab.a > 0 && ab.b > 0, "embed: the curve fitted to ",
          "embed.min_dist=", min_dist, " and embed.spread=", spread, " is degenerate (a ", ab.a, ", b ", ab.b,
          "): choose a spread nearer 1");
  return ab;
}

}  // namespace distclust
