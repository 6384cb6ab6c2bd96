// The `pixels` backbone, for data no network fits: each image resized to
// S x S (aspect ratio not kept), scaled and normalised like any backbone
// input, flattened to 3*S*S values (CHW order), and optionally projected on
// its first principal components.
//
// The PCA is computed across ranks on a keyed sample of rows: row i is in the
// sample when unit_double(key_hash(seed, i, kPcaSampleKey)) < p, so the sample
// depends on (seed, global row) only, never on the rank count. Sums and
// cross-products are accumulated over the 8-bit pixel values, where every
// product and every partial sum is an integer below 2^53 and thus exact in
// double whatever the order of addition (threads, GEMM blocking, ranks): the
// allreduced moments are bit-identical for any rank count. Rank 0 solves the
// eigenproblem single-threaded and broadcasts the projection, and each row is
// projected with a fixed-order dot product, so the features are identical for
// any rank count and batch split (a test holds this).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "extract/backbone.h"
#include "distclust/comm.h"
#include "extract/decode.h"
#include "extract/image_source.h"
#include "extract/preprocess.h"

namespace distclust {

/// Pixels-backbone input: rgb (H x W CV_8UC3) resized to size x size with
/// Pillow's filter `interpolation` (identity when already that size), then
/// normalised as norm says (norm.resize/crop are ignored). out: [3 x size x size].
/// Throws Error like preprocess().
void pixels_preprocess(const cv::Mat& rgb, int size, const std::string& interpolation,
                       const PreprocessParams& norm, float* out);

/// A linear projection out = components * (x - mean).
struct PixelProjection {
  int64_t in_dim = 0;              ///< D_in = 3 * S * S
  int64_t out_dim = 0;             ///< d, rows of components
  std::vector<double> mean;        ///< [D_in], in normalised input units
  std::vector<double> components;  ///< [d x D_in] row-major, unit rows, by decreasing variance
  std::vector<double> variances;   ///< [d] variance along each component
  double total_variance = 0;       ///< trace of the covariance (explained ratio = sum(variances) / this)
  int64_t sample_rows = 0;         ///< valid rows the PCA was fitted on (all ranks)
};

/// What fit_pixel_pca needs.
struct PixelPcaOptions {
  int size = 32;                        ///< S
  std::string interpolation = "bilinear";
  PreprocessParams norm;                ///< mean/std/scale_to_unit of the input
  DecodeParams decode;                  ///< limits for decoding
  int dim = 50;                         ///< d, components kept (<= D_in)
  int64_t max_sample = 20000;           ///< rows sampled (expected count; all rows when N is smaller)
  uint64_t seed = 1;                    ///< sample key
  int threads = 1;                      ///< decode threads for the sample pass
  /// D_in up to this uses the full Eigen SelfAdjointEigenSolver; above it,
  /// block subspace iteration then Eigen's solver on the small projected
  /// matrix (a full solve at D_in = 2352 takes ~15 s here; this, under 1 s).
  int64_t exact_max_dim = 1024;
};

/// Fits the PCA over the rows [0, N) of src, sharded as row_block says.
/// Collective. Invalid rows (decode failures) are left out of the sample.
/// Throws Error when no valid row is sampled or dim > D_in.
PixelProjection fit_pixel_pca(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm);

/// Top `dim` eigenpairs of the symmetric matrix cov [n x n] (row-major):
/// vectors [dim x n] row-major, each with its largest-magnitude entry
/// positive (a stable sign). Deterministic: runs single-threaded.
/// exact_max_dim as in PixelPcaOptions; seed keys the subspace start.
void top_eigenpairs(const std::vector<double>& cov, int64_t n, int dim, int64_t exact_max_dim, uint64_t seed,
                    std::vector<double>& vectors, std::vector<double>& values);

/// The pixels backbone on [B x in_dim] inputs: identity (dim = in_dim) when
/// proj is null, else the projection (dim = proj->out_dim).
std::unique_ptr<Backbone> make_pixels_backbone(int64_t in_dim, std::shared_ptr<const PixelProjection> proj,
                                               int threads);

}  // namespace distclust
