// PCA of feature rows across ranks, for any backbone: the keyed sample, the
// exact moments, the solve on rank 0, and the projection applied to rows.
//
// Exactness: the moments are accumulated over integer-valued rows v whose
// entries and partial sums stay below 2^53, so every product and every sum is
// exact in double whatever the order of addition (GEMM threads and blocking,
// ranks): the allreduced moments, and so the projection, do not depend on the
// rank count. The caller maps its rows to such v with a per-column affine map
// x_j = a_j v_j + b_j: 8-bit pixel values for the pixels backbone (exact), or
// a backbone's float outputs rounded to 2^-k of the sample's largest value in
// each column (feature_pca.h). Rank 0 solves the eigenproblem single-threaded
// and broadcasts the projection; each row is projected with a fixed-order dot
// product, so a row's output does not depend on its batch or thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/backbone.h"

namespace distclust {

/// out = scales .* (components * (x' - mean)), where x' is x L2-normalised
/// when normalize_input, else x.
struct Projection {
  int64_t in_dim = 0;              ///< D_in, the backbone's output dimension
  int64_t out_dim = 0;             ///< d, rows of components
  std::vector<double> mean;        ///< [D_in], in the backbone's output units (after normalize_input)
  std::vector<double> components;  ///< [d x D_in] row-major, unit rows, by decreasing variance
  std::vector<double> variances;   ///< [d] variance along each component
  std::vector<double> scales;      ///< [d] whitening 1 / sqrt(variance + eps); empty = not whitened
  double total_variance = 0;       ///< trace of the covariance (explained ratio = sum(variances) / this)
  int64_t sample_rows = 0;         ///< valid rows the PCA was fitted on (all ranks); 0 = read from a file
  bool normalize_input = false;    ///< rows are L2-normalised before the projection
  std::string from;                ///< the features.h5 it was read from ('' = fitted here)
};

/// Whitening epsilon relative to the largest kept variance: component k is
/// scaled by 1 / sqrt(variance_k + kWhitenEps * variance_0), so a component
/// with (numerically) no variance is not blown up to noise, and components
/// with variance above ~1e-4 of the first come out with unit variance within 1%.
constexpr double kWhitenEps = 1e-6;

/// Fit settings shared by every backbone.
struct PcaOptions {
  int dim = 50;                    ///< d, components kept (<= D_in)
  bool whiten = false;             ///< also fill Projection::scales
  int64_t max_sample = 20000;      ///< rows sampled (at least min(N, this); pca_sample_rows)
  uint64_t seed = 1;               ///< sample key
  /// D_in up to this uses the full Eigen SelfAdjointEigenSolver; above it,
  /// block subspace iteration then Eigen's solver on the small projected
  /// matrix (a full solve at D_in = 2352 takes ~15 s here; this, under 1 s).
  int64_t exact_max_dim = 1024;
};

/// The largest D_in a PCA is fitted for: the D_in x D_in moments are held in
/// double on every rank (8192: 512 MiB).
constexpr int64_t kPcaMaxInputDim = 8192;

/// The rows of `mine` in the keyed sample of N rows: row i is in when
/// unit_double(key_hash(seed, i, key)) < max_sample / N, or when its key is
/// among the max_sample smallest (so never fewer than min(max_sample, N)
/// rows; all rows when N <= max_sample). Depends on (seed, global row) only,
/// never on the rank count.
std::vector<int64_t> pca_sample_rows(int64_t n, RowRange mine, int64_t max_sample, uint64_t seed);

/// Bytes a PCA of d columns holds at its peak (rank 0), solved with
/// exact_max_dim as in PcaOptions: checked when its moments are made.
double pca_memory_bytes(int64_t d, int64_t exact_max_dim = PcaOptions{}.exact_max_dim);

/// require_memory for a PCA of d columns plus `held_bytes` this rank holds
/// beside it (the sampled rows): throws Error naming D. Callers whose sample
/// costs a backbone pass call it before that pass, so a PCA that cannot fit
/// fails in seconds, not after minutes of sampling.
void require_pca_memory(int64_t d, int64_t exact_max_dim, double held_bytes);

/// Sums over integer-valued rows v [m x D] (see the file comment).
struct PcaMoments {
  /// Checks the machine holds the PCA (require_pca_memory) before allocating.
  explicit PcaMoments(int64_t dim, int64_t exact_max_dim = PcaOptions{}.exact_max_dim);
  /// v: [m x dim] row-major doubles holding integers.
  void add(const double* v, int64_t m);
  /// Sums over ranks (collective).
  void allreduce(Communicator& comm);
  int64_t dim = 0;
  std::vector<double> cross;  ///< [D x D] sum of v v^T
  std::vector<double> sum;    ///< [D] sum of v
  int64_t count = 0;          ///< rows added
};

/// The PCA of x = a .* v + b from the moments of v (allreduced), solved on
/// rank 0 and broadcast (collective). Throws Error when fewer than 2 rows.
Projection solve_pca(const PcaMoments& mo, const std::vector<double>& a, const std::vector<double>& b,
                     const PcaOptions& o, Communicator& comm);

/// Top `dim` eigenpairs of the symmetric matrix cov [n x n] (row-major):
/// vectors [dim x n] row-major, each with its largest-magnitude entry
/// positive (a stable sign). Deterministic: runs single-threaded.
/// exact_max_dim as in PcaOptions; seed keys the subspace start.
void top_eigenpairs(const std::vector<double>& cov, int64_t n, int dim, int64_t exact_max_dim, uint64_t seed,
                    std::vector<double>& vectors, std::vector<double>& values);

/// Applies p to rows x [n x D_in] -> out [n x d] with `threads` threads.
/// Each row in one fixed order (the same bits on every rank, batch and thread).
void project_rows(const Projection& p, const float* x, int64_t n, float* out, int threads);

/// `inner` followed by the projection: dim() = p->out_dim. Throws Error when
/// p's input dimension is not inner's output dimension.
std::unique_ptr<Backbone> make_projected_backbone(std::unique_ptr<Backbone> inner,
                                                  std::shared_ptr<const Projection> p, int threads);

/// Checks that p applies to rows of `in_dim` values: throws Error naming
/// where the projection came from and both dimensions.
void require_projection_input(const Projection& p, int64_t in_dim, const std::string& what);

}  // namespace distclust
