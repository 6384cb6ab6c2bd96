// Decoding: encoded image bytes -> 8-bit RGB pixels, without ever throwing for
// bad input. A corrupt, truncated, empty, non-image or oversized file gives
// ok = false and a reason; the pipeline marks that row invalid, counts it and
// logs it with the row's id, and goes on.
//
// Formats: JPEG, PNG, BMP, TIFF, WebP, recognised by their signature (not
// the file name). Conversions, all to H x W CV_8UC3 in RGB order:
//   - grayscale -> R = G = B;
//   - alpha is dropped: the colour under it is kept, as PIL's
//     Image.convert("RGB") does (no compositing on black or white); except
//     an 8-bit TIFF with unassociated alpha (ExtraSamples = 2): OpenCV reads
//     it through libtiff's RGBA interface, which multiplies the colour by
//     alpha (composited on black; under alpha 0 the colour is gone, so it
//     cannot be undone here): a known difference;
//   - 16-bit -> 8-bit by v/257, rounded (65535 -> 255); float TIFF in [0,1]
//     -> v*255 (PIL would clip 16-bit samples instead: a known difference);
//   - CMYK (and YCCK) JPEG -> RGB by OpenCV's libjpeg path;
//   - EXIF orientation (JPEG) is applied: the result is upright as viewers
//     show it (OpenCV's IMREAD_COLOR does this; IMREAD_IGNORE_ORIENTATION is
//     never used). Multi-frame files give their first frame
//     (APNG, TIFF); an animated WebP is invalid, said so (OpenCV decodes none).
//
// Decompression bombs: the width and height are read from the header (PNG
// IHDR, JPEG SOFn, BMP info header, TIFF first IFD, WebP VP8/VP8L/VP8X)
// before any pixel is decoded, and an image over max_pixels is refused
// without decoding. OpenCV has its own limits (OPENCV_IO_MAX_IMAGE_PIXELS,
// default 2^30, and OPENCV_IO_MAX_IMAGE_WIDTH/HEIGHT), but it reads those
// environment variables once when the library loads, so they cannot be set
// per job from the config; ours is the one that counts. The size of a file is
// capped before it is read (SourceParams::max_file_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

#include "extract/image_source.h"

namespace distclust {

/// Limits for decoding (derived from the `extract` section; not a YAML
/// section of its own).
struct DecodeParams {
  /// Images with more pixels (width * height, from the header) are refused undecoded.
  int64_t max_pixels = 100'000'000;

  template <class V>
  void visit(V& v) {
    v("max_pixels", max_pixels, "refuse images with more pixels than this (decompression-bomb guard)");
  }
  /// Throws Error naming the bad value.
  void validate() const;
};

/// The outcome of decoding one row.
struct DecodeResult {
  /// true when `rgb` holds the image.
  bool ok = false;
  /// H x W, CV_8UC3, RGB order; empty when !ok.
  cv::Mat rgb;
  /// Why !ok, e.g. "truncated JPEG (no end-of-image marker)"; empty when ok.
  /// Decode reasons do not repeat the row's id (the caller logs id and reason
  /// together); read failures carry the source's message, which names the file.
  std::string reason;
};

/// What an image's header says, read without decoding it.
struct ImageHeader {
  /// "jpeg", "png", "bmp", "tiff" or "webp".
  std::string format;
  /// Stored width and height in pixels (before EXIF rotation).
  int64_t width = 0, height = 0;
  /// TIFF: samples are IEEE floats (SampleFormat 3), which OpenCV's colour
  /// decode refuses, printing its own line on stderr.
  bool float_samples = false;
};

/// Reads format and dimensions from the first bytes of an encoded image.
/// Returns false with `reason` set for an unknown signature, a truncated or
/// malformed header. Never throws.
bool read_image_header(const uint8_t* data, size_t size, ImageHeader& header, std::string& reason);

/// Decodes an encoded image to RGB (see the file comment). Never throws.
DecodeResult decode_image(const uint8_t* data, size_t size, const DecodeParams& p = {});
/// Same, for a byte vector.
DecodeResult decode_image(const std::vector<uint8_t>& bytes, const DecodeParams& p = {});

/// Reads row i of src and decodes it: the per-row path of the decode pool.
/// Read failures (missing file, file over max_file_bytes, HDF5 read error)
/// and decode failures give ok = false with the reason; pixel sources (HDF5,
/// CIFAR) are checked against max_pixels too. Never throws, so it can run on
/// worker threads; i out of range is a programming error and gives ok = false.
DecodeResult load_image(const ImageSource& src, int64_t i, const DecodeParams& p = {}) noexcept;

}  // namespace distclust
