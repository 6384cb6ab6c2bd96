// Moment deskew for the pixels backbone: the classic preprocessing of
// handwriting (LeCun et al.'s deskewed MNIST). A slanted stroke and an
// upright one of the same shape are far apart in pixel space; shearing each
// image so that its ink's principal axis is vertical brings them together.
// On the MNIST test digits (pixels + PCA 50, cosine 15-NN) it raises the
// share of same-class neighbours from 0.913 to 0.949 (bench/RESULTS.md,
// "Digits without a pretrained network").
#pragma once

#include <opencv2/core/mat.hpp>

namespace distclust {

/// The most a deskew shears: |dx/dy| <= kMaxDeskewShear (45 degrees), so a
/// blob with almost no vertical extent is not smeared across the image.
inline constexpr double kMaxDeskewShear = 1.0;

/// rgb (H x W CV_8UC3) sheared along x so that its ink's principal axis is
/// vertical, and shifted so that the ink's centre of mass is the image
/// centre. Ink is |grey - background| with grey = R + G + B and background
/// the median grey of the border pixels, so light strokes on dark and dark
/// strokes on light both work. Bilinear resampling with the border pixels
/// replicated outside; the result is 8-bit (rounded), so the pixels PCA keeps
/// its exact integer moments (pixels.h). The moments are integer sums and the
/// arithmetic is fixed, so the result is the same bytes on every rank.
/// Returned unchanged (a copy) when there is no ink or the ink lies in one
/// row. Throws Error on an empty or non-CV_8UC3 image.
cv::Mat deskew(const cv::Mat& rgb);

}  // namespace distclust
