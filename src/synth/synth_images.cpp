// Procedural synthetic images in class folders; see synth/synth_images.h.
//
// Rendering is analytic: every pixel is mapped into the shape's local frame
// (inverse of the per-image translation, rotation and scale) and tested
// against the class' shape on a small supersampling grid, which gives
// anti-aliased edges without depending on OpenCV's drawing code. All random
// draws come from one std::mt19937_64 per image, seeded with a splitmix64 hash
// of (seed, index), and are turned into numbers by our own code (not the
// implementation-defined std:: distributions), in a fixed order.

#include "synth/synth_images.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "distclust/error.h"

namespace distclust {
namespace {

namespace fs = std::filesystem;

constexpr int kMinClasses = 1;
constexpr int kMaxClasses = 64;
constexpr int kMinSize = 16;
constexpr int kMaxSize = 1024;
constexpr double kPi = 3.14159265358979323846;

// ---------------------------------------------------------------- classes --

enum Shape { kCircle, kSquare, kTriangle, kStar, kCross, kRing, kStripes, kChecker, kNumShapes };
const char* const kShapeNames[kNumShapes] = {"circle", "square",  "triangle", "star",
                                             "cross",  "ring",    "stripes",  "checker"};

constexpr int kNumHues = 8;
const char* const kHueNames[kNumHues] = {"red",  "orange", "yellow", "green",
                                         "cyan", "blue",   "purple", "magenta"};
const double kHueDeg[kNumHues] = {0.0, 30.0, 58.0, 120.0, 180.0, 222.0, 272.0, 318.0};

enum Texture { kFlat, kGradientBg, kStripedFg, kMottledBg, kNumTextures };
const char* const kTextureNames[kNumTextures] = {"flat", "gradient background",
                                                 "striped foreground", "mottled background"};

struct ClassStyle {
  int shape;      // Shape
  int scheme;     // colour scheme 0..15: background hue family x dark/light
  int bg_hue;     // index into kHueDeg
  bool light_bg;  // light (pastel) background with a darker foreground
  int fg_hue;     // index into kHueDeg, never the background's
  int texture;    // Texture
};

// Class c -> (shape, colour scheme, texture).
//   scheme = c % 16 (8 background hue families x dark/light), so for up to 16
//   classes every class has its own background; block = c / 8;
//   shape = (c % 8 + block) % 8: the first 8 classes are the 8 shapes, and
//   classes c and c + 8 differ in shape too. Classes sharing a scheme are
//   c % 16 + 16 q (q = 0..3); their shapes are offset by 2q, hence distinct,
//   so no two of the 64 classes share both shape and scheme. The foreground
//   hue is 2..6 steps from the background's around the hue circle and also
//   varies with the block, as does the texture.
ClassStyle class_style(int c) {
  ClassStyle s{};
  s.scheme = c % 16;
  const int block = c / 8;
  // Light backgrounds visit the hues in an order that keeps consecutive
  // classes far apart (pale hues are closer to each other than deep ones).
  static const int kLightHueOrder[kNumHues] = {4, 0, 6, 2, 5, 1, 7, 3};
  s.light_bg = s.scheme >= kNumHues;
  s.bg_hue = s.light_bg ? kLightHueOrder[s.scheme - kNumHues] : s.scheme;
  s.shape = (c % 8 + block) % kNumShapes;
  s.fg_hue = (s.bg_hue + 2 + (block * 3) % 5) % kNumHues;
  s.texture = block % kNumTextures;
  return s;
}

// -------------------------------------------------------------- randomness --

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Per-image engine keyed only by (seed, index).
class ImageRng {
 public:
  ImageRng(int64_t seed, int64_t index)
      : engine_(splitmix64(splitmix64(static_cast<uint64_t>(seed)) ^
                           splitmix64(static_cast<uint64_t>(index) ^ 0x632BE59BD9B4E019ULL))) {}
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Standard normal (Box-Muller, pairs cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * kPi * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// ------------------------------------------------------------------ colour --

struct Rgb {
  double r, g, b;
};

Rgb hsv_to_rgb(double hue_deg, double s, double v) {
  s = std::clamp(s, 0.0, 1.0);
  v = std::clamp(v, 0.0, 1.0);
  double h = std::fmod(hue_deg, 360.0);
  if (h < 0) h += 360.0;
  const double c = v * s;
  const double hp = h / 60.0;
  const double x = c * (1.0 - std::fabs(std::fmod(hp, 2.0) - 1.0));
  double r = 0, g = 0, b = 0;
  if (hp < 1) { r = c; g = x; }
  else if (hp < 2) { r = x; g = c; }
  else if (hp < 3) { g = c; b = x; }
  else if (hp < 4) { g = x; b = c; }
  else if (hp < 5) { r = x; b = c; }
  else { r = c; b = x; }
  const double m = v - c;
  return {r + m, g + m, b + m};
}

// ------------------------------------------------------------------ shapes --

struct Pt {
  double x, y;
};

std::vector<Pt> regular_star(int points, double outer, double inner) {
  std::vector<Pt> v;
  const int n = inner > 0 ? 2 * points : points;
  for (int k = 0; k < n; ++k) {
    const double rad = (inner > 0 && k % 2 == 1) ? inner : outer;
    const double a = -kPi / 2 + 2.0 * kPi * k / n;  // first vertex points up
    v.push_back({rad * std::cos(a), rad * std::sin(a)});
  }
  return v;
}

const std::vector<Pt>& triangle_poly() {
  static const std::vector<Pt> p = regular_star(3, 1.15, 0.0);
  return p;
}
const std::vector<Pt>& star_poly() {
  static const std::vector<Pt> p = regular_star(5, 1.1, 0.45);
  return p;
}

bool in_polygon(const std::vector<Pt>& poly, double x, double y) {
  bool in = false;
  const size_t n = poly.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const Pt& a = poly[i];
    const Pt& b = poly[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) in = !in;
  }
  return in;
}

/// Shape membership in the local frame; every shape fits in about the unit disc.
bool inside(int shape, double u, double v) {
  const double au = std::fabs(u), av = std::fabs(v);
  switch (shape) {
    case kCircle: return u * u + v * v <= 1.0;
    case kSquare: return au <= 0.8 && av <= 0.8;
    case kTriangle: return in_polygon(triangle_poly(), u, v);
    case kStar: return in_polygon(star_poly(), u, v);
    case kCross: return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    case kRing: {
      const double r2 = u * u + v * v;
      return r2 <= 1.0 && r2 >= 0.36;
    }
    case kStripes: {  // three bars of width 0.36 with two gaps, in a 1.8 square
      if (au > 0.9 || av > 0.9) return false;
      const int bar = std::min(4, static_cast<int>((u + 0.9) / 0.36));
      return bar % 2 == 0;
    }
    case kChecker: {  // 3 x 3 checkerboard, corners filled
      if (au > 0.9 || av > 0.9) return false;
      const int i = std::min(2, static_cast<int>((u + 0.9) / 0.6));
      const int j = std::min(2, static_cast<int>((v + 0.9) / 0.6));
      return (i + j) % 2 == 0;
    }
    default: return false;
  }
}

// -------------------------------------------------------------- validation --

void check_range(const char* name, long long v, long long lo, long long hi) {
  require(v >= lo, "synth images: ", name, "=", v, " is below the minimum ", lo);
  require(v <= hi, "synth images: ", name, "=", v, " is above the maximum ", hi);
}

/// Everything rendering needs (all but `out`).
void validate_render_params(const SynthImagesParams& p) {
  check_range("classes", p.classes, kMinClasses, kMaxClasses);
  check_range("per_class", p.per_class, 1, std::numeric_limits<int>::max());
  check_range("size", p.size, kMinSize, kMaxSize);
  require(!std::isnan(p.noise), "synth images: noise=", p.noise, " is not a number");
  require(p.noise >= 0.0, "synth images: noise=", p.noise, " is below the minimum 0");
  require(p.noise <= 1.0, "synth images: noise=", p.noise, " is above the maximum 1");
}

int index_digits(const SynthImagesParams& p) {
  int digits = 1;
  for (int64_t last = synth_images_total(p) - 1; last >= 10; last /= 10) ++digits;
  return std::max(6, digits);
}

// ------------------------------------------------------------------- files --

std::string errno_text(int err) { return std::generic_category().message(err); }

void make_folder(const fs::path& dir) {
  std::error_code ec;
  // create_directories may race with another process creating the same
  // folder; whatever the race, success means the folder exists afterwards.
  for (int attempt = 0; attempt < 3; ++attempt) {
    ec.clear();
    fs::create_directories(dir, ec);
    std::error_code ec2;
    if (fs::is_directory(dir, ec2)) return;
    if (!ec) ec = std::make_error_code(std::errc::not_a_directory);
  }
  throw Error(fmt("synth images: cannot create folder '", dir.string(), "': ", ec.message()));
}

/// Suffix that makes a temporary name unique: pid + random bits (two hosts
/// may share a file system and a pid) + a per-process counter (two threads
/// may write the same image).
std::string temp_token() {
  static const std::string process = [] {
    std::random_device rd;
    return fmt(static_cast<long>(::getpid()), "-", rd());
  }();
  static std::atomic<uint64_t> counter{0};
  return fmt(process, "-", counter.fetch_add(1, std::memory_order_relaxed));
}

/// Writes bytes to `target` via a hidden temporary file in the same folder
/// and an atomic rename.
void write_file_atomic(const fs::path& target, const std::vector<uchar>& bytes) {
  const fs::path tmp =
      target.parent_path() / fmt(".", target.filename().string(), ".", temp_token(), ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    throw Error(fmt("synth images: cannot create file '", tmp.string(), "': ", errno_text(err)));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(fmt("synth images: cannot write file '", tmp.string(), "': ", errno_text(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt("synth images: cannot write file '", tmp.string(), "': ", errno_text(err)));
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt("synth images: cannot write image '", target.string(), "' (rename from '",
                    tmp.string(), "'): ", errno_text(err)));
  }
}

}  // namespace

// ------------------------------------------------------------------ public --

void SynthImagesParams::validate() const {
  validate_render_params(*this);
  require(!out.empty(), "synth images: out is empty; give the output folder (--out DIR)");
}

int64_t synth_images_total(const SynthImagesParams& p) {
  return static_cast<int64_t>(p.classes) * static_cast<int64_t>(p.per_class);
}

int synth_image_class(const SynthImagesParams& p, int64_t index) {
  return static_cast<int>(index / p.per_class);
}

std::string synth_class_folder(int cls) {
  std::string digits = std::to_string(cls);
  if (digits.size() < 2) digits.insert(0, 2 - digits.size(), '0');
  return "class_" + digits;
}

std::string synth_image_path(const SynthImagesParams& p, int64_t index) {
  std::string name = std::to_string(index);
  const size_t width = static_cast<size_t>(index_digits(p));
  if (name.size() < width) name.insert(0, width - name.size(), '0');
  return (fs::path(p.out) / synth_class_folder(synth_image_class(p, index)) / (name + ".png"))
      .string();
}

std::string synth_class_description(int cls) {
  require(cls >= 0 && cls < kMaxClasses, "synth images: class ", cls, " is outside [0, ",
          kMaxClasses, ")");
  const ClassStyle s = class_style(cls);
  return fmt(kShapeNames[s.shape], ", ", s.light_bg ? "dark " : "bright ", kHueNames[s.fg_hue],
             " on ", s.light_bg ? "light " : "dark ", kHueNames[s.bg_hue], ", ",
             kTextureNames[s.texture]);
}

namespace {

constexpr int kGrid = 5;  // mottle: kGrid x kGrid random values, bilinear

/// Everything an image's pixels depend on besides its class style, drawn
/// from its keyed stream in a fixed order.
struct ImageLayout {
  double cx, cy, radius, cos_t, sin_t;  // placement: centre, scale, rotation
  Rgb bg, fg;                           // colours, slightly jittered
  double grad_cx, grad_cy, stripe_phase;
  double grid[kGrid][kGrid];
};

ImageLayout draw_layout(const ClassStyle& st, ImageRng& rng, double S) {
  ImageLayout l;
  l.cx = S * rng.uniform(0.38, 0.62);
  l.cy = S * rng.uniform(0.38, 0.62);
  l.radius = S * rng.uniform(0.25, 0.35);
  const double theta = rng.uniform(0.0, 2.0 * kPi);
  l.cos_t = std::cos(theta), l.sin_t = std::sin(theta);
  const double bg_h = kHueDeg[st.bg_hue] + rng.uniform(-6.0, 6.0);
  const double bg_s = (st.light_bg ? 0.40 : 0.85) + rng.uniform(-0.05, 0.05);
  const double bg_v = (st.light_bg ? 0.94 : 0.50) + rng.uniform(-0.05, 0.05);
  const double fg_h = kHueDeg[st.fg_hue] + rng.uniform(-6.0, 6.0);
  const double fg_s = 0.90 + rng.uniform(-0.06, 0.06);
  const double fg_v = (st.light_bg ? 0.55 : 0.97) + rng.uniform(-0.05, 0.03);
  l.bg = hsv_to_rgb(bg_h, bg_s, bg_v);
  l.fg = hsv_to_rgb(fg_h, fg_s, fg_v);
  // Texture parameters (always drawn, so the draw order is class-independent).
  const double grad_angle = rng.uniform(0.0, 2.0 * kPi);
  l.grad_cx = std::cos(grad_angle), l.grad_cy = std::sin(grad_angle);
  l.stripe_phase = rng.uniform(0.0, 2.0 * kPi);
  for (auto& row : l.grid)
    for (double& g : row) g = rng.uniform(-1.0, 1.0);
  return l;
}

/// Background brightness factor at pixel centre (px, py) (texture).
double bg_factor(const ClassStyle& st, const ImageLayout& l, double px, double py, double S) {
  if (st.texture == kGradientBg) return 1.0 + 0.18 * ((px - S / 2) * l.grad_cx + (py - S / 2) * l.grad_cy) / (S / 2);
  if (st.texture != kMottledBg) return 1.0;
  const double gx = px / S * (kGrid - 1), gy = py / S * (kGrid - 1);
  const int ix = std::min(kGrid - 2, static_cast<int>(gx));
  const int iy = std::min(kGrid - 2, static_cast<int>(gy));
  const double fx = gx - ix, fy = gy - iy;
  const double m = (1 - fx) * (1 - fy) * l.grid[iy][ix] + fx * (1 - fy) * l.grid[iy][ix + 1] +
                   (1 - fx) * fy * l.grid[iy + 1][ix] + fx * fy * l.grid[iy + 1][ix + 1];
  return 1.0 + 0.20 * m;
}

/// Foreground brightness factor (texture): diagonal stripes in the shape's
/// frame, so they rotate and scale with it.
double fg_factor(const ClassStyle& st, const ImageLayout& l, double px, double py) {
  if (st.texture != kStripedFg) return 1.0;
  const double dx = px - l.cx, dy = py - l.cy, inv_r = 1.0 / l.radius;
  const double u = (l.cos_t * dx + l.sin_t * dy) * inv_r;
  const double v = (-l.sin_t * dx + l.cos_t * dy) * inv_r;
  return 1.0 - 0.30 * (0.5 + 0.5 * std::sin(2.0 * kPi * (u + v) / 0.4 + l.stripe_phase));
}

/// Coverage of the shape over pixel (x, y), supersampled ss x ss.
double coverage(const ClassStyle& st, const ImageLayout& l, int x, int y, int ss) {
  const double inv_r = 1.0 / l.radius;
  int hits = 0;
  for (int sy = 0; sy < ss; ++sy) {
    const double dy = y + (sy + 0.5) / ss - l.cy;
    for (int sx = 0; sx < ss; ++sx) {
      const double dx = x + (sx + 0.5) / ss - l.cx;
      const double u = (l.cos_t * dx + l.sin_t * dy) * inv_r;
      const double v = (-l.sin_t * dx + l.cos_t * dy) * inv_r;
      hits += inside(st.shape, u, v);
    }
  }
  return hits * (1.0 / (ss * ss));
}

}  // namespace

cv::Mat synth_image(const SynthImagesParams& p, int64_t index) {
  validate_render_params(p);
  require(index >= 0 && index < synth_images_total(p), "synth images: image index ", index,
          " is outside [0, ", synth_images_total(p), ")");
  const ClassStyle st = class_style(synth_image_class(p, index));
  ImageRng rng(p.seed, index);
  const int n = p.size;
  const double S = n;
  const ImageLayout l = draw_layout(st, rng, S);
  const int ss = std::clamp(256 / n, 1, 4);  // supersampling per axis
  cv::Mat img(n, n, CV_8UC3);
  for (int y = 0; y < n; ++y) {
    uchar* row = img.ptr<uchar>(y);
    for (int x = 0; x < n; ++x) {
      const double cov = coverage(st, l, x, y, ss);
      const double px = x + 0.5, py = y + 0.5;
      const double bg_f = bg_factor(st, l, px, py, S);
      const double fg_f = cov > 0 ? fg_factor(st, l, px, py) : 1.0;
      const double rgb[3] = {
          l.bg.r * bg_f * (1 - cov) + l.fg.r * fg_f * cov,
          l.bg.g * bg_f * (1 - cov) + l.fg.g * fg_f * cov,
          l.bg.b * bg_f * (1 - cov) + l.fg.b * fg_f * cov,
      };
      // Noise drawn for every channel of every pixel (fixed order R, G, B),
      // even when sigma is 0, so the stream does not depend on `noise`.
      for (int ch = 0; ch < 3; ++ch) {
        const double val = rgb[ch] + p.noise * rng.normal();
        const double q = std::clamp(val, 0.0, 1.0) * 255.0;
        row[3 * x + (2 - ch)] = static_cast<uchar>(std::lround(q));  // BGR
      }
    }
  }
  return img;
}

int64_t synth_images(const SynthImagesParams& p, int64_t begin, int64_t end) {
  p.validate();
  const int64_t total = synth_images_total(p);
  require(begin >= 0 && begin <= end && end <= total, "synth images: block [", begin, ", ", end,
          ") is not inside [0, ", total, ") (classes=", p.classes, ", per_class=", p.per_class,
          ")");
  if (begin == end) return 0;

  // Folders first, once per class touched by this block.
  make_folder(fs::path(p.out));
  const int c0 = synth_image_class(p, begin), c1 = synth_image_class(p, end - 1);
  for (int c = c0; c <= c1; ++c) make_folder(fs::path(p.out) / synth_class_folder(c));

  const std::vector<int> png_opts = {cv::IMWRITE_PNG_COMPRESSION, 3};
  std::atomic<bool> failed{false};
  std::mutex err_mutex;
  int64_t err_index = std::numeric_limits<int64_t>::max();
  std::string err_text;
  std::atomic<int64_t> written{0};

#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 4)
#endif
  for (int64_t i = begin; i < end; ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    const std::string path = synth_image_path(p, i);
    try {
      const cv::Mat img = synth_image(p, i);
      std::vector<uchar> bytes;
      require(cv::imencode(".png", img, bytes, png_opts), "synth images: cannot encode image ", i,
              " as PNG for '", path, "'");
      write_file_atomic(path, bytes);
      written.fetch_add(1, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      const std::string text = dynamic_cast<const Error*>(&e)
                                   ? std::string(e.what())
                                   : fmt("synth images: image ", i, " ('", path, "'): ", e.what());
      std::lock_guard<std::mutex> lock(err_mutex);
      if (i < err_index) {
        err_index = i;
        err_text = text;
      }
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (failed.load()) throw Error(err_text);
  return written.load();
}

}  // namespace distclust
