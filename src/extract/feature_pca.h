// PCA of a backbone's output rows across ranks (the pixels backbone has its
// own exact path, pixels.h). The keyed sample (pca.h's pca_sample_rows) is
// run through the backbone once before the extraction pass; its rows, L2-
// normalised first when asked, are held on their rank ([sampled rows x D]
// float32: ~80 MiB per 10,000 rows at D = 2048), and each column j is
// rounded to integers v_j = round(x_j / s_j) with s_j = (the sample's largest
// |x_j|, allreduced) / 2^bits, bits chosen so that every moment stays an
// integer below 2^53. The moments are then exact whatever the rank count (as
// for pixels) and the PCA is solved for x_j = s_j v_j: rounding to 2^-bits of
// the column's range (bits = 18 at 20,000 rows, 21 at 1,000) is below float32
// resolution for typical values and adds a variance of s_j^2 / 12 to each
// column, far below any component worth keeping.
//
// The sample rows are computed again in the extraction pass (the sample is
// ~2% of ImageNet; on a small set such as CIFAR's 10,000 test images every
// row is sampled and extraction runs the backbone twice).
#pragma once

#include "extract/backbone.h"
#include "extract/decode_pool.h"
#include "extract/pca.h"

namespace distclust {

/// How the sample is read and what the PCA keeps.
struct FeaturePcaOptions {
  PcaOptions pca;                  ///< components, whitening, sample size, seed
  bool normalize_input = false;    ///< L2-normalise each row before the PCA (fit and apply)
  DecodeParams decode;             ///< limits for decoding
  RowPreprocessor prep;            ///< decoded image -> the backbone's input row
  int64_t row_floats = 0;          ///< floats per input row
  int decode_threads = 1;         ///< threads decoding the sampled images
  int batch = 64;                  ///< images per backbone call
  int queue_batches = 3;           ///< decoded batches queued ahead of the backbone
  double progress_seconds = -1;    ///< the sample pass's progress interval (extract.progress_seconds; < 0: default)
};

/// Fits the PCA of net's output rows over a keyed sample of src's rows [0, N),
/// sharded as row_block says. Collective. Rows that fail to decode are left
/// out. Throws Error naming the setting when pca.dim > D, D > kPcaMaxInputDim
/// or fewer than 2 rows were readable, and naming D when the PCA and its
/// sample do not fit this rank's memory (require_pca_memory, before the
/// sample pass).
Projection fit_feature_pca(const ImageSource& src, Backbone& net, const FeaturePcaOptions& o, Communicator& comm);

/// Integer bits per value that keep every moment of `count` rows exact in
/// double: (2 bits + ceil(log2 count)) <= 52, at most 24 (float32's precision).
int pca_quantization_bits(int64_t count);

/// Exact moments of the rows held [m x d] on every rank (count rows in all):
/// each column rounded to integers on a grid of 2^-bits of its largest
/// magnitude over all ranks (pca_quantization_bits), so the sums, and the
/// PCA solved from them, do not depend on the rank split. scale: [d] the
/// grid step of each column (input to solve_pca). exact_max_dim: the
/// solve's, as in PcaOptions (sizes the memory check). Collective.
PcaMoments quantized_moments(const std::vector<float>& held, int64_t d, int64_t count, int64_t exact_max_dim,
                             std::vector<double>& scale, Communicator& comm);

}  // namespace distclust
