#include "synth/synth_features.h"

#include <cmath>

#include "distclust/runtime.h"
#include "distclust/error.h"
#include "distclust/rng.h"

namespace distclust {

void SynthFeaturesParams::validate() const {
  require(n >= 1, "synth_features.n: ", n, " must be >= 1");
  require(d >= 1, "synth_features.d: ", d, " must be >= 1");
  require(k >= 1, "synth_features.k: ", k, " must be >= 1");
  // Past float32's range the rows were written as NaN and the run said it
  // wrote them; centres are unit vectors, so above ~10 rows are noise anyway.
  require(noise >= 0 && noise <= 1e6, "synth_features.noise: ", noise,
          " must be in [0, 1e6] (centres are unit vectors: above about 10 the rows are pure noise)");
  require(!out.empty(), "synth_features.out: no output file given");
}

FeatureBlock synth_features(const SynthFeaturesParams& p, int rank, int size, const std::string& section) {
  p.validate();
  const int64_t d = p.d;
  // This rank's block, its labels and a copy on the way to the file: a size
  // past the machine failed as a bare std::bad_alloc naming nothing.
  // Rounded up in integers: ceil of a double near 2^63 cast back to int64
  // overflowed (n = 2^63 - 1 said "-9223372036854775808 rows per rank").
  const int64_t ranks = std::max(1, size), rows = p.n / ranks + (p.n % ranks != 0);
  require_memory(double(rows) * (double(d) * 8.0 + 16.0) + double(p.k) * double(d) * 4.0,
                 fmt(section, ".n x d = ", p.n, " x ", d, " (", rows, " rows per rank)"));
  // Centres: keyed normal vectors, normalised (uniform on the sphere).
  std::vector<float> centres(static_cast<size_t>(p.k * d));
  for (int c = 0; c < p.k; ++c) {
    KeyedRng rng(static_cast<uint64_t>(p.seed), 0xCE000000ull + c);
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += std::pow(centres[c * d + j] = float(rng.normal()), 2);
    for (int64_t j = 0; j < d; ++j) centres[c * d + j] /= float(std::sqrt(s));
  }
  FeatureBlock b;
  b.n_total = p.n;
  b.d = d;
  b.rows = row_block(p.n, rank, size);
  const int64_t n = b.rows.size();
  b.x.resize(static_cast<size_t>(n * d));
  b.labels.resize(n);
  b.valid.assign(n, 1);
  const double sigma = p.noise / std::sqrt(double(d));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t g = static_cast<uint64_t>(b.rows.begin + i);
    KeyedRng rng(static_cast<uint64_t>(p.seed), g);
    const int64_t c = static_cast<int64_t>(rng.below(static_cast<uint64_t>(p.k)));
    b.labels[i] = c;
    float* x = b.x.data() + i * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      x[j] = float(centres[c * d + j] + sigma * rng.normal());
      s += double(x[j]) * x[j];
    }
    const float inv = s > 0 ? float(1.0 / std::sqrt(s)) : 1.0f;
    for (int64_t j = 0; j < d; ++j) x[j] *= inv;
  }
  return b;
}

}  // namespace distclust
