// Procedural synthetic images in class folders (`distclust synth images`).
//
// Layout: image i (global index, 0 <= i < classes * per_class) belongs to
// class i / per_class (blocked order: class 0 holds images 0..per_class-1,
// class 1 the next per_class, ...) and is written to
//   out/class_XX/NNNNNN.png
// where XX is the class (two digits) and NNNNNN the *global* index i, zero
// padded to at least six digits (wider only when classes * per_class needs
// it). Names are therefore unique over the whole data set, and listing the
// class folders in alphabetical order, each file in alphabetical order,
// yields the images in index order.
//
// Each class combines a shape (circle, square, triangle, star, cross, ring,
// stripes, checker), a colour scheme (background hue family, dark or light,
// plus a contrasting foreground hue) and a texture (flat, background
// gradient, striped foreground, mottled background); no two classes share
// both shape and colour scheme, and for classes <= 16 every class has its own
// colour scheme (the strongest cue for raw-pixel features). Per image the
// shape gets a random position, scale and rotation, the colours a slight
// jitter, and every pixel additive Gaussian noise.
//
// Randomness is keyed only by (seed, i): image i is byte-identical whichever
// process or thread renders it, so any split of [0, total) into blocks gives
// the same files.
#pragma once

#include <cstdint>
#include <string>

#include <opencv2/core/mat.hpp>

namespace distclust {

/// Procedural images in class folders (`distclust synth images`).
struct SynthImagesParams {
  int classes = 10;          ///< number of visually distinct classes (1..64)
  int per_class = 100;       ///< images per class
  int size = 32;             ///< image side in pixels (16..1024)
  int64_t seed = 1;          ///< RNG seed; image i depends only on (seed, i) and its class i / per_class
  double noise = 0.05;       ///< std-dev of additive pixel noise, in [0,1] of full scale
  std::string out = "";      ///< output folder; class folders out/class_XX/NNNNNN.png

  template <class V> void visit(V& v) {
    v("classes", classes, "number of visually distinct classes (1..64)");
    v("per_class", per_class, "images per class");
    v("size", size, "image side in pixels (16..1024)");
    v("seed", seed, "RNG seed; image i depends only on (seed, i) and its class (i / per_class)");
    v("noise", noise, "std-dev of additive pixel noise, in [0,1] of full scale");
    v("out", out, "output folder; class folders out/class_XX/NNNNNN.png");
  }
  /// Throws distclust::Error naming the bad value, e.g.
  /// "synth images: size=8 is below the minimum 16".
  void validate() const;
};

/// Total images = classes * per_class.
int64_t synth_images_total(const SynthImagesParams& p);

/// Class of global image index i: i / per_class.
int synth_image_class(const SynthImagesParams& p, int64_t index);

/// Class folder name, "class_XX" (sorted alphabetically = class order).
std::string synth_class_folder(int cls);

/// Path of image i: out/class_XX/NNNNNN.png (NNNNNN = global index).
std::string synth_image_path(const SynthImagesParams& p, int64_t index);

/// Human-readable look of a class, e.g. "star, bright yellow on dark blue, flat".
std::string synth_class_description(int cls);

/// Renders image i in memory: size x size, CV_8UC3 in OpenCV's BGR order.
/// Depends only on (p.classes, p.per_class, p.size, p.noise, p.seed, i).
cv::Mat synth_image(const SynthImagesParams& p, int64_t index);

/// Writes the images with global index in [begin, end) (image i -> class
/// i / per_class, see the file comment), creating folders as needed (safe
/// when several processes create the same folder concurrently). Each PNG is
/// written to a hidden temporary name in its folder and renamed into place,
/// so a killed run never leaves a half-written PNG. Ranks call it on their
/// own block, so the result is identical for any number of ranks. Uses
/// OpenMP threads when built with OpenMP. Returns the number written.
/// Throws Error for invalid params, a bad range, or a folder/file that cannot
/// be created or written (naming the path).
int64_t synth_images(const SynthImagesParams& p, int64_t begin, int64_t end);

}  // namespace distclust
