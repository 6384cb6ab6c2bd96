// The PCA of a features.h5: written by extract beside /features, read back
// by extract.pca_from so new images are projected exactly as the file's were.
//
//   /pca_mean          [D_in]      float64  mean subtracted (after the L2 step)
//   /pca_components    [d x D_in]  float64  unit rows, by decreasing variance
//   /pca_variances     [d]         float64  variance along each component
//   /pca_whiten_scales [d]         float64  only when whitened: 1 / sqrt(var + eps)
//   attributes pca_normalize_input (0/1: rows L2-normalised before the PCA),
//   pca_sample_rows, pca_total_variance, pca_checksum (of the datasets, the
//   L2 flag and the total variance: io/state_checksum.h; checked on read)
//
// float64 as computed: a projection read back is the one that was applied,
// bit for bit, so re-extracting an image with pca_from gives its row again.
#pragma once

#include <string>

#include "distclust/comm.h"
#include "extract/extract_output.h"
#include "extract/pca.h"

namespace distclust {

/// Writes p into the features file being written (collective).
void write_projection(extract::FeatureOutput& out, const Projection& p);

/// What extract's resume found of the PCA in `out`.tmp.
enum class ResumablePca {
  none,     ///< nothing to take: no OUT.tmp, other settings, or no row done yet
  taken,    ///< read into proj: the PCA the resumed rows were projected with
  refused,  ///< OUT.tmp holds rows of these settings but its PCA cannot be read
            ///< or fails its checksum: those rows must not be resumed either
};

/// The projection of `out`.tmp when extract will resume it: made with these
/// settings (config hash `hash`) and holding rows done under that
/// projection (a done flag set, or complete). The resumed rows were
/// projected with it, and a refit runs the backbone over the whole sample
/// again. Rank 0 reads, every rank gets the answer (proj is set only when
/// taken). Refused: a refit need not give the same components bit for bit
/// (other threads, another GPU), and rows projected with the old one
/// beside rows projected with the new one would be silently inconsistent;
/// extract then starts afresh. Collective.
ResumablePca read_resumable_projection(const std::string& out, const std::string& hash, Communicator& comm,
                                       Projection& proj);

/// The projection stored in the features file `path` (collective). Throws
/// Error naming `what` and the file when it cannot be read, holds no
/// projection, or its pca_checksum does not match the data.
Projection read_projection(const std::string& path, Communicator& comm,
                           const std::string& what = "extract.pca_from");

}  // namespace distclust
