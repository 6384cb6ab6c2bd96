// Preprocessing: RGB pixels -> the backbone's input, a float CHW tensor.
//
// The steps and their arithmetic are those of the usual torchvision eval
// transform on PIL images, so features match what the model was trained and
// evaluated with:
//   Resize(resize)   shorter side -> `resize`, longer side -> int(resize *
//                    long / short) (truncated, as torchvision computes it);
//                    resampled with Pillow's algorithm, reimplemented here
//                    bit for bit: separable, antialiased when shrinking
//                    (filter support scaled by the shrink factor), 8-bit
//                    fixed-point coefficients, horizontal pass first, uint8
//                    between passes. Same-size resizes are the identity.
//   CenterCrop(crop) offsets round((H - crop) / 2) with Python's round-half-
//                    to-even; an image smaller than `crop` is zero-padded
//                    first, split as torchvision splits it.
//   ToTensor+Normalize  out[c][y][x] = (v / 255 - mean[c]) / std[c] in float32
//                    with the same operation order as torch (bit-equal).
// Differences from torchvision: only "bilinear", "bicubic", "area" (Pillow's
// BOX) and "lanczos" filters; no "nearest"; 16-bit sources are scaled, not
// clipped (decode.h). The 32 x 32 CIFAR case with resize 32, crop 32 touches
// no pixel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace distclust {

/// How images become backbone input (derived from the `extract` section:
/// extract_params.cpp; not a YAML section of its own).
/// The smallest extract.std accepted (with scale_to_unit): a grey step of
/// 1/255 then moves a feature by at most ~40.
constexpr float kMinStd = 1e-4f;

struct PreprocessParams {
  /// Shorter side after resizing, in pixels; 0 = keep the size.
  int resize = 32;
  /// Side of the centre crop, in pixels; 0 = no crop (output size then varies).
  int crop = 32;
  /// Per-channel mean (R, G, B) subtracted after scaling; 1 value = all channels.
  std::vector<float> mean{0.485f, 0.456f, 0.406f};
  /// Per-channel standard deviation (R, G, B) divided by; 1 value = all channels.
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  /// Divide pixel values by 255 before normalising (mean/std are then in [0,1] units).
  bool scale_to_unit = true;
  /// Resampling filter: bilinear|bicubic|area|lanczos (Pillow's filters).
  std::string interpolation = "bilinear";

  template <class V>
  void visit(V& v) {
    v("resize", resize, "shorter side after resizing (0 = keep size)");
    v("crop", crop, "centre crop side (0 = none)");
    v("mean", mean, "per-channel mean, R,G,B (after /255 when scale_to_unit)");
    v("std", std, "per-channel std, R,G,B");
    v("scale_to_unit", scale_to_unit, "divide pixels by 255 before normalising");
    v("interpolation", interpolation, "bilinear|bicubic|area|lanczos (Pillow-exact)");
  }
  /// Throws Error naming the bad field and value.
  void validate() const;
};

/// True for the resampling filters resize_pil knows: bilinear|bicubic|area|lanczos.
bool known_interpolation(const std::string& name);

/// Pillow-exact resize of an 8-bit image (CV_8UC1 or CV_8UC3) to width x height
/// with filter `interpolation` (bilinear|bicubic|area|lanczos). Throws Error
/// for an unknown filter or a non-positive size.
cv::Mat resize_pil(const cv::Mat& img, int width, int height, const std::string& interpolation);

/// (height, width) after torchvision's Resize(shorter) of an H x W image;
/// shorter = 0 keeps the size. Throws Error when the result would exceed
/// 2^28 pixels (an extreme aspect ratio enlarged).
std::pair<int, int> resized_shape(int height, int width, int shorter);

/// torchvision CenterCrop(size) of an 8-bit image: zero-pads when smaller,
/// then crops at round-half-even offsets. Returns a view when no pad is needed.
cv::Mat center_crop(const cv::Mat& img, int size);

/// Resize then crop as p says: H x W CV_8UC3 RGB -> H' x W' CV_8UC3 RGB.
cv::Mat preprocess_geometry(const cv::Mat& rgb, const PreprocessParams& p);

/// Writes rgb (H x W CV_8UC3, RGB) as normalised float CHW:
/// out[(c * H + y) * W + x], 3 * H * W floats.
void normalize_chw(const cv::Mat& rgb, const PreprocessParams& p, float* out);

/// The whole transform: out receives [3 x crop x crop] floats (with crop = 0,
/// [3 x H' x W'] of the resized image). Throws Error when out_len does not
/// equal that size, rgb is not CV_8UC3, or the resize is refused (see
/// resized_shape): the decode pool should catch Error per row and mark the
/// row invalid.
void preprocess(const cv::Mat& rgb, const PreprocessParams& p, float* out, size_t out_len);

/// The preprocessing a TorchScript model expects, from the JSON sidecar
/// written beside it (e.g. models/cifar10-resnet20.json):
///   {"input_size": [H, W] or N, "mean": [3], "std": [3],
///    "resize": N (optional), "interpolation": "bilinear" (optional),
///    "output_dim": D (optional), other keys ignored}
struct ModelSidecar {
  /// Model input height and width in pixels.
  int input_height = 0, input_width = 0;
  /// Per-channel mean and std in [0,1] units (3 values each).
  std::vector<float> mean, std;
  /// Shorter side before cropping; 0 when the file has no "resize".
  int resize = 0;
  /// Filter name; empty when the file has none.
  std::string interpolation;
  /// Feature dimension the model outputs; -1 when the file has none.
  int64_t output_dim = -1;
};

/// Throws Error starting with `what` when v, a mean (is_std false) or std
/// value for pixels divided by 255, is off that [0, 1] scale: |mean| > 1, or
/// std outside [kMinStd, 1].
void require_unit_scale(float v, bool is_std, const std::string& what);

/// v with every digit a float holds (%.9g): 1.0000001 is not "1".
std::string float_digits(float v);

/// Parses the sidecar. Errors name the file and the key (missing, wrong
/// type, wrong length) or the line and column of a JSON syntax error.
ModelSidecar load_model_sidecar(const std::string& json_path);

/// "dir/model.json" for "dir/model.pt" (extension replaced).
std::string sidecar_path_for(const std::string& model_path);

/// Sets p from the sidecar: crop = input size (square inputs only, else
/// Error), resize = the sidecar's resize or else the input size, mean, std,
/// interpolation when given, scale_to_unit = true. Not validated: the
/// caller applies its overrides, then validates.
void apply_sidecar(const ModelSidecar& s, PreprocessParams& p);

}  // namespace distclust
