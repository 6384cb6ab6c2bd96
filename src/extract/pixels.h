// The `pixels` backbone, for data no network fits: each image resized to
// S x S (aspect ratio not kept), scaled and normalised like any backbone
// input, flattened to 3*S*S values (CHW order), and optionally projected on
// its first principal components (pca.h).
//
// The PCA's moments are accumulated over the 8-bit pixel values of the keyed
// sample (pca_sample_rows), where every product and every partial sum is an
// integer below 2^53 and thus exact in double whatever the order of addition
// (threads, GEMM blocking, ranks); the normalisation is the affine map
// x = a v + b that pca.h's solve takes. So the pixel features are identical
// for any rank count and batch split (a test holds this). The rows are not
// L2-normalised before this PCA (see extract.h, `normalize`).
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
#include "extract/pca.h"
#include "extract/preprocess.h"

namespace distclust {

/// The 8-bit image the pixels backbone reads: rgb (H x W CV_8UC3) resized to
/// size x size with Pillow's filter `interpolation` (identity when already
/// that size), then deskewed (deskew.h) when asked. Throws Error like
/// preprocess().
cv::Mat pixels_image(const cv::Mat& rgb, int size, const std::string& interpolation, bool deskew);

/// Pixels-backbone input: pixels_image(rgb, size, interpolation, deskew)
/// normalised as norm says (norm.resize/crop are ignored).
/// out: [3 x size x size]. Throws Error like preprocess().
void pixels_preprocess(const cv::Mat& rgb, int size, const std::string& interpolation,
                       const PreprocessParams& norm, float* out, bool deskew = false);

/// What fit_pixel_pca needs.
struct PixelPcaOptions {
  int size = 32;                        ///< S
  std::string interpolation = "bilinear";  ///< resampling filter: bilinear|bicubic|area|lanczos
  bool deskew = false;                  ///< deskew each resized image (deskew.h)
  PreprocessParams norm;                ///< mean/std/scale_to_unit of the input
  DecodeParams decode;                  ///< limits for decoding
  PcaOptions pca;                       ///< components kept, whitening, sample, seed
  int threads = 1;                      ///< decode threads for the sample pass
};

/// Fits the PCA over the rows [0, N) of src, sharded as row_block says.
/// Collective. Invalid rows (decode failures) are left out of the sample.
/// Throws Error when no valid row is sampled or dim > D_in.
Projection fit_pixel_pca(const ImageSource& src, const PixelPcaOptions& o, Communicator& comm);

/// The pixels backbone on [B x in_dim] inputs: the identity (dim = in_dim);
/// its PCA is make_projected_backbone (pca.h) around it.
std::unique_ptr<Backbone> make_pixels_backbone(int64_t in_dim);

}  // namespace distclust
