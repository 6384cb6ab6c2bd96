// The initial layout: PCA of the features (pca.h: a keyed sample, moments
// exact in double, so the same projection for any rank count), scaled as
// umap-learn scales its initialisation.
//
// Why PCA and not umap-learn's spectral init: the spectral init needs the
// graph Laplacian's eigenvectors, an iterative sparse solve over the whole
// distributed graph (tens of sweeps of alltoallv); the PCA costs one pass
// over the rows and a D_in x D_in solve, and gives the SGD a global
// arrangement of the same kind (umap-learn itself offers init="pca", and
// the SGD's 200+ epochs then shape the local structure).
#include <algorithm>
#include <cmath>

#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/rng.h"
#include "distclust/runtime.h"
#include "embed/embed.h"
#include "extract/feature_pca.h"
#include "extract/pca.h"

namespace distclust {
namespace {

/// The PCA of b's rows (L2-normalised first when cosine) to `dim` components.
Projection fit_rows_pca(const FeatureBlock& b, int dim, bool cosine, uint64_t seed, Communicator& comm) {
  const int64_t d = b.d;
  PcaOptions o;
  o.dim = dim;
  o.seed = seed;
  std::vector<int64_t> rows = pca_sample_rows(b.n_total, b.rows, o.max_sample, seed);
  std::vector<float> held;
  for (int64_t g : rows) {
    const int64_t i = g - b.rows.begin;
    if (!b.valid[size_t(i)]) continue;
    const float* x = b.x.data() + i * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += double(x[j]) * x[j];
    const double inv = cosine && ss > 0 ? 1.0 / std::sqrt(ss) : 1.0;
    for (int64_t j = 0; j < d; ++j) held.push_back(float(double(x[j]) * inv));
  }
  const int64_t m = int64_t(held.size()) / d, count = comm.sum(m);
  require(count >= 2, "embed: fewer than 2 valid rows to initialise the layout from");
  // Columns rounded to integers: exact moments (feature_pca.h).
  std::vector<double> scale, zero(static_cast<size_t>(d), 0.0);
  PcaMoments mo = quantized_moments(held, d, count, o.exact_max_dim, scale, comm);
  Projection p = solve_pca(mo, scale, zero, o, comm);
  p.normalize_input = cosine;
  return p;
}

/// b's rows (L2-normalised first when cosine) times a keyed Gaussian
/// [D x pdim] matrix: the initial layout above the PCA's input limit, where
/// the D x D moments would not fit (D = 20000: 9.5 GB and 38 s for 60 rows).
/// The same matrix on every rank: the same layout for any rank count.
void random_projection(const FeatureBlock& b, int pdim, bool cosine, uint64_t seed, float* proj) {
  const int64_t d = b.d, nloc = b.local_rows();
  std::vector<float> w(size_t(d * pdim));
  for (int64_t j = 0; j < d; ++j) {
    KeyedRng rng(key_hash(seed, 0x52414E44), uint64_t(j));
    for (int c = 0; c < pdim; ++c) w[size_t(j * pdim + c)] = float(rng.normal());
  }
  for (int64_t i = 0; i < nloc; ++i) {
    const float* x = b.x.data() + i * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += double(x[j]) * x[j];
    const double inv = cosine && ss > 0 ? 1.0 / std::sqrt(ss) : 1.0;
    for (int c = 0; c < pdim; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < d; ++j) acc += double(x[j]) * w[size_t(j * pdim + c)];
      proj[i * pdim + c] = float(acc * inv);
    }
  }
}

}  // namespace

std::vector<float> pca_init(const FeatureBlock& b, int dim, bool cosine, uint64_t seed, Communicator& comm) {
  const int64_t nloc = b.local_rows();
  const int pdim = int(std::min<int64_t>(dim, b.d));
  std::vector<float> proj(size_t(nloc * pdim));
  if (b.d <= kPcaMaxInputDim) {
    Projection p = fit_rows_pca(b, pdim, cosine, seed, comm);
    project_rows(p, b.x.data(), nloc, proj.data(), compute_threads());
  } else {
    log::info("embed: initial layout from a random projection of the rows (D = ", b.d, " is above the PCA's ",
              kPcaMaxInputDim, ")");
    random_projection(b, pdim, cosine, seed, proj.data());
  }
  // Axes beyond the features' dimension (dim > D): keyed uniform values.
  std::vector<float> y(size_t(nloc * dim), 0.0f);
  for (int64_t i = 0; i < nloc; ++i) {
    if (!b.valid[size_t(i)]) continue;
    KeyedRng rng(key_hash(seed, 0xE3BED), uint64_t(b.rows.begin + i));
    for (int c = 0; c < dim; ++c)
      y[i * dim + c] = c < pdim ? proj[i * pdim + c] : float(rng.uniform());
  }
  // Per axis to [0, 10] over valid rows (umap-learn rescales any init so).
  std::vector<double> hi(size_t(dim), -INFINITY), neg_lo(size_t(dim), -INFINITY);
  for (int64_t i = 0; i < nloc; ++i)
    if (b.valid[size_t(i)])
      for (int c = 0; c < dim; ++c) {
        hi[c] = std::max<double>(hi[c], y[i * dim + c]);
        neg_lo[c] = std::max<double>(neg_lo[c], -y[i * dim + c]);
      }
  comm.allreduce_max(hi.data(), hi.size());
  comm.allreduce_max(neg_lo.data(), neg_lo.size());
  for (int64_t i = 0; i < nloc; ++i) {
    if (!b.valid[size_t(i)]) continue;
    KeyedRng rng(key_hash(seed, 0x4015E), uint64_t(b.rows.begin + i));
    for (int c = 0; c < dim; ++c) {
      const double lo = -neg_lo[c], span = hi[c] - lo;
      const double t = span > 0 ? 10.0 * (y[i * dim + c] - lo) / span : 0.0;
      y[i * dim + c] = float(t + 1e-4 * rng.normal());
    }
  }
  return y;
}

}  // namespace distclust
