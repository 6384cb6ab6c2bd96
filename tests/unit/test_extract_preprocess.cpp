// Preprocessing: torchvision's Resize + CenterCrop + ToTensor + Normalize
// arithmetic, Pillow-exact resampling against outputs Pillow wrote
// (tests/data/extract/make_fixtures.py), and the model sidecar reader.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/test_common.h"
#include "distclust/error.h"
#include "extract/model_zip_check.h"
#include "extract/preprocess.h"
#include "io/regular_file.h"

namespace fs = std::filesystem;
using namespace distclust;
using test::error_of;

namespace {

const std::string kFixtures = std::string(DC_SOURCE_DIR) + "/tests/data/extract/";

cv::Mat read_rgb(const std::string& name, int flags = cv::IMREAD_COLOR) {
  cv::Mat m = cv::imread(kFixtures + name, flags);
  EXPECT_FALSE(m.empty()) << kFixtures + name;
  if (m.channels() == 3) cv::cvtColor(m, m, cv::COLOR_BGR2RGB);
  return m;
}

cv::Mat random_rgb(int h, int w, unsigned seed) {
  std::mt19937 rng(seed);
  cv::Mat m(h, w, CV_8UC3);
  for (size_t i = 0; i < m.total() * 3; ++i) m.data[i] = uint8_t(rng());
  return m;
}

TEST(ExtractPreprocess, ResizedShapeFollowsTorchvision) {
  EXPECT_EQ(resized_shape(32, 32, 32), std::make_pair(32, 32));
  EXPECT_EQ(resized_shape(375, 500, 256), std::make_pair(256, 341));  // 341.33 truncated
  EXPECT_EQ(resized_shape(500, 375, 256), std::make_pair(341, 256));
  EXPECT_EQ(resized_shape(33, 50, 32), std::make_pair(32, 48));       // 48.48
  EXPECT_EQ(resized_shape(10, 10, 224), std::make_pair(224, 224));    // enlarging
  EXPECT_EQ(resized_shape(7, 9, 0), std::make_pair(7, 9));            // 0 = keep
  EXPECT_THROW(resized_shape(1, 100000000, 256), Error);             // 256 x 2.56e10
}

TEST(ExtractPreprocess, CenterCropRoundsHalfToEvenAndPads) {
  cv::Mat m(40, 40, CV_8UC3);
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 40; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(x), uint8_t(y), 7);
  // Python round: (35-32)/2 = 1.5 -> 2, (33-32)/2 = 0.5 -> 0, (34-32)/2 -> 1.
  EXPECT_EQ(center_crop(m(cv::Rect(0, 0, 35, 33)), 32).at<cv::Vec3b>(0, 0), cv::Vec3b(2, 0, 7));
  EXPECT_EQ(center_crop(m(cv::Rect(0, 0, 34, 34)), 32).at<cv::Vec3b>(0, 0), cv::Vec3b(1, 1, 7));
  // Smaller than the crop: zero padding, left/top get the smaller half.
  cv::Mat small = m(cv::Rect(0, 0, 5, 6));
  cv::Mat c = center_crop(small, 8);  // pad w 3 -> 1 left, 2 right; h 2 -> 1 top, 1 bottom
  ASSERT_EQ(c.size(), cv::Size(8, 8));
  EXPECT_EQ(c.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(c.at<cv::Vec3b>(1, 1), cv::Vec3b(0, 0, 7));
  EXPECT_EQ(c.at<cv::Vec3b>(6, 5), cv::Vec3b(4, 5, 7));
  EXPECT_EQ(c.at<cv::Vec3b>(6, 6), cv::Vec3b(0, 0, 0));
  // Padded in width only, cropped in height: 5 x 12 -> 8: rows from round(2) = 2.
  c = center_crop(m(cv::Rect(0, 0, 5, 12)), 8);
  EXPECT_EQ(c.at<cv::Vec3b>(0, 1), cv::Vec3b(0, 2, 7));
}

TEST(ExtractPreprocess, Cifar32IsExactIdentityBeforeNormalising) {
  cv::Mat img = random_rgb(32, 32, 1);
  PreprocessParams p;  // resize 32, crop 32, ImageNet mean/std
  p.validate();
  cv::Mat g = preprocess_geometry(img, p);
  ASSERT_EQ(g.size(), img.size());
  EXPECT_EQ(cv::norm(g, img, cv::NORM_INF), 0);

  std::vector<float> out(3 * 32 * 32);
  preprocess(img, p, out.data(), out.size());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) {
        // torchvision: ToTensor divides by 255 in float32, Normalize subtracts then divides.
        float v = float(img.at<cv::Vec3b>(y, x)[c]) / 255.0f;
        float want = (v - p.mean[c]) / p.std[c];
        float got = out[(c * 32 + y) * 32 + x];
        ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0) << c << "," << y << "," << x;
      }
}

TEST(ExtractPreprocess, HandComputedBilinearShrink) {
  // One row 0,100,200,255 shrunk 4 -> 2 with Pillow's bilinear: support
  // 1 * scale 2 = 2. Output 0: centre 1, taps 0..2, weights f(-.25),f(.25),
  // f(.75) = .75,.75,.25 -> 3/7,3/7,1/7: 500/7 = 71.4 -> 71. Output 1:
  // centre 3, taps 1..3, weights 1/7,3/7,3/7: 1465/7 = 209.3 -> 209.
  cv::Mat row = (cv::Mat_<uint8_t>(1, 4) << 0, 100, 200, 255);
  cv::Mat r = resize_pil(row, 2, 1, "bilinear");
  ASSERT_EQ(r.size(), cv::Size(2, 1));
  EXPECT_EQ(r.at<uint8_t>(0, 0), 71);
  EXPECT_EQ(r.at<uint8_t>(0, 1), 209);

  // The same through the whole transform: a 2 x 4 RGB image with that row in
  // R, G = 51, B = 255, resize shorter side 2 -> 1 (so 4 -> 2), no crop,
  // mean 0.5, std 0.25.
  cv::Mat img(2, 4, CV_8UC3);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(row.at<uint8_t>(0, x), 51, 255);
  PreprocessParams p;
  p.resize = 1;
  p.crop = 0;
  p.mean = {0.5f};
  p.std = {0.25f};
  std::vector<float> out(3 * 1 * 2);
  preprocess(img, p, out.data(), out.size());
  const float want[6] = {(71 / 255.0f - 0.5f) / 0.25f, (209 / 255.0f - 0.5f) / 0.25f, -1.2f, -1.2f, 2.0f, 2.0f};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], want[i], tol::kFloatFew) << i;
  EXPECT_NEAR(out[0], -0.886275f, tol::kFloatFew);  // (0.278431 - 0.5) / 0.25
  EXPECT_NEAR(out[1], 1.278431f, tol::kFloatFew);
}

TEST(ExtractPreprocess, ResizeMatchesPillowByteForByte) {
  cv::Mat src = read_rgb("resample_src.png");
  ASSERT_EQ(src.size(), cv::Size(24, 17));
  for (std::string f : {"bilinear", "bicubic", "area", "lanczos"})
    for (auto [w, h] : {std::pair{10, 7}, {7, 10}, {37, 29}, {24, 9}}) {
      std::string name = "pil_" + f + "_" + std::to_string(w) + "x" + std::to_string(h) + ".png";
      cv::Mat want = read_rgb(name);
      cv::Mat got = resize_pil(src, w, h, f);
      ASSERT_EQ(got.size(), want.size()) << name;
      EXPECT_EQ(cv::norm(got, want, cv::NORM_INF), 0) << name;
    }
  // The 1-channel path, on Pillow's own "L" conversion of the source
  // (L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16, libImaging/Convert.c).
  cv::Mat gray(src.rows, src.cols, CV_8UC1);
  for (int y = 0; y < src.rows; ++y)
    for (int x = 0; x < src.cols; ++x) {
      cv::Vec3b v = src.at<cv::Vec3b>(y, x);
      gray.at<uint8_t>(y, x) = uint8_t((19595 * v[0] + 38470 * v[1] + 7471 * v[2] + 0x8000) >> 16);
    }
  cv::Mat want = read_rgb("pil_gray_bilinear_10x7.png", cv::IMREAD_GRAYSCALE);
  EXPECT_EQ(cv::norm(resize_pil(gray, 10, 7, "bilinear"), want, cv::NORM_INF), 0);
}

TEST(ExtractPreprocess, ResizeSameSizeIsACopyAndBadArgumentsThrow) {
  cv::Mat img = random_rgb(9, 11, 3);
  cv::Mat same = resize_pil(img, 11, 9, "bicubic");
  EXPECT_EQ(cv::norm(same, img, cv::NORM_INF), 0);
  EXPECT_NE(same.data, img.data);
  EXPECT_NE(error_of([&] { resize_pil(img, 5, 5, "nearest"); }).find("'nearest'"), std::string::npos);
  EXPECT_THROW(resize_pil(img, 0, 5, "bilinear"), Error);
}

TEST(ExtractPreprocess, ValidateAndBufferSizeErrors) {
  PreprocessParams p;
  std::vector<float> out(10);
  cv::Mat img = random_rgb(32, 32, 2);
  std::string msg = error_of([&] { preprocess(img, p, out.data(), out.size()); });
  EXPECT_NE(msg.find("3072"), std::string::npos) << msg;
  p.mean = {0.1f, 0.2f};
  EXPECT_NE(error_of([&] { p.validate(); }).find("extract.mean"), std::string::npos);
  p = PreprocessParams{};
  p.std = {1.f, 0.f, 1.f};
  EXPECT_NE(error_of([&] { p.validate(); }).find("extract.std"), std::string::npos);
  p = PreprocessParams{};
  p.interpolation = "cubic";
  EXPECT_NE(error_of([&] { p.validate(); }).find("'cubic'"), std::string::npos);
  p = PreprocessParams{};
  p.crop = -1;
  EXPECT_THROW(p.validate(), Error);
}

TEST(ExtractPreprocess, UnscaledNormalisationAndBigImage) {
  // A 300 x 200 image, resize 64, crop 56: output is 3 x 56 x 56.
  cv::Mat img = random_rgb(200, 300, 4);
  PreprocessParams p;
  p.resize = 64;
  p.crop = 56;
  p.scale_to_unit = false;
  p.mean = {127.5f};
  p.std = {1.0f};
  std::vector<float> out(3 * 56 * 56);
  preprocess(img, p, out.data(), out.size());
  cv::Mat resized = resize_pil(img, 96, 64, "bilinear");  // 300*64/200 = 96
  cv::Mat want = resized(cv::Rect(20, 4, 56, 56));         // round((96-56)/2), round((64-56)/2)
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 56; y += 5)
      for (int x = 0; x < 56; x += 5)
        ASSERT_EQ(out[(c * 56 + y) * 56 + x], float(want.at<cv::Vec3b>(y, x)[c]) - 127.5f);
}

// ---------------------------------------------------------------- sidecar

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "dc_extract_pre_XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = (path / name).string();
    std::ofstream(p) << text;
    return p;
  }
};

TEST(ExtractPreprocess, SharedResnet20Sidecar) {
  const std::string file = std::string(DC_SHARED_DIR) + "/models/cifar10-resnet20.json";
  if (!fs::exists(file)) GTEST_SKIP() << file << " is not there";
  EXPECT_EQ(sidecar_path_for(std::string(DC_SHARED_DIR) + "/models/cifar10-resnet20.pt"), file);
  ModelSidecar s = load_model_sidecar(file);
  EXPECT_EQ(s.input_height, 32);
  EXPECT_EQ(s.input_width, 32);
  EXPECT_EQ(s.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(s.std, (std::vector<float>{0.229f, 0.224f, 0.225f}));
  EXPECT_EQ(s.output_dim, 64);
  EXPECT_EQ(s.resize, 0);
  PreprocessParams p;
  p.resize = 7;
  apply_sidecar(s, p);
  EXPECT_EQ(p.resize, 32);
  EXPECT_EQ(p.crop, 32);
  EXPECT_EQ(p.mean, s.mean);
}

TEST(ExtractPreprocess, SidecarParsingIsRobustAndErrorsNameFileAndKey) {
  TempDir t;
  std::string ok = t.write("m.json",
                           "\n\t{ \"notes\": {\"a\": [1, {\"b\": null}], \"c\": \"x\\\"y\\u00e9\"},\r\n"
                           "  \"std\":[1e-1 , 2E-1,0.3], \"interpolation\" : \"bicubic\",\n"
                           "  \"mean\": [0, -0.5, 1.0], \"resize\": 256, \"input_size\": 224, \"flag\": true }\n");
  ModelSidecar s = load_model_sidecar(ok);
  EXPECT_EQ(s.input_height, 224);
  EXPECT_EQ(s.input_width, 224);
  EXPECT_EQ(s.resize, 256);
  EXPECT_EQ(s.interpolation, "bicubic");
  EXPECT_EQ(s.mean, (std::vector<float>{0.f, -0.5f, 1.f}));
  EXPECT_FLOAT_EQ(s.std[1], 0.2f);
  EXPECT_EQ(s.output_dim, -1);
  PreprocessParams p;
  apply_sidecar(s, p);
  EXPECT_EQ(p.resize, 256);
  EXPECT_EQ(p.crop, 224);
  EXPECT_EQ(p.interpolation, "bicubic");

  std::string f = t.write("nomean.json", "{\"input_size\": [32, 32], \"std\": [1,1,1]}");
  std::string msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find(f), std::string::npos) << msg;
  EXPECT_NE(msg.find("'mean'"), std::string::npos) << msg;

  f = t.write("two.json", "{\"input_size\": [32, 32], \"mean\": [1,1], \"std\": [1,1,1]}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find("'mean' has 2 values"), std::string::npos) << msg;

  f = t.write("size.json", "{\"input_size\": \"32\", \"mean\": [1,1,1], \"std\": [1,1,1]}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find("'input_size'"), std::string::npos) << msg;

  f = t.write("syntax.json", "{\"input_size\": 32,\n  \"mean\" [1,1,1]}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find(f + ":2:10"), std::string::npos) << msg;

  f = t.write("rect.json", "{\"input_size\": [32, 48], \"mean\": [1,1,1], \"std\": [1,1,1]}");
  ModelSidecar rect = load_model_sidecar(f);
  EXPECT_EQ(rect.input_width, 48);
  EXPECT_NE(error_of([&] { apply_sidecar(rect, p); }).find("32 x 48"), std::string::npos);

  msg = error_of([&] { load_model_sidecar(t.path.string() + "/absent.json"); });
  EXPECT_NE(msg.find("absent.json"), std::string::npos) << msg;

  // A repeated key was read as "the last one wins": 64 x 64 used silently.
  f = t.write("dup.json", "{\"input_size\": 32, \"mean\": [1,1,1], \"std\": [1,1,1], \"input_size\": 64}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find(f + ":1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"input_size\" appears twice"), std::string::npos) << msg;

  // A bad filter was reported as "extract.interpolation is 'magic'",
  // without naming the sidecar it came from.
  f = t.write("interp.json", "{\"input_size\": 32, \"mean\": [1,1,1], \"std\": [1,1,1], \"interpolation\": \"magic\"}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find(f + ": key 'interpolation' is 'magic'"), std::string::npos) << msg;

  // float32 cannot hold these: 1e-300 was reported as "holds 0", 1e300 became inf.
  f = t.write("tiny.json", "{\"input_size\": 32, \"mean\": [1,1,1], \"std\": [1,1e-300,1]}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find("'std' holds 1e-300 (rounds to 0"), std::string::npos) << msg;
  f = t.write("huge.json", "{\"input_size\": 32, \"mean\": [1e300,1,1], \"std\": [1,1,1]}");
  msg = error_of([&] { load_model_sidecar(f); });
  EXPECT_NE(msg.find("'mean' holds 1e+300 (beyond float32"), std::string::npos) << msg;
}

TEST(ExtractPreprocess, MeanAndStdOffThePixelsUnitScaleAreNamed) {
  PreprocessParams p;
  p.mean = {0.5f, 123.68f, 0.5f};
  std::string msg = error_of([&] { p.validate(); });
  EXPECT_NE(msg.find("extract.mean holds 123.68 but pixels are scaled to [0, 1] before it (expected -1..1"),
            std::string::npos) << msg;
  p.mean = {1e30f};
  msg = error_of([&] { p.validate(); });
  EXPECT_NE(msg.find("extract.mean holds 1.00000002e+30 but"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("0-255"), std::string::npos) << msg;  // no suggestion for what is on no scale
  p.mean = {1.5f};  // nor for what is on neither
  msg = error_of([&] { p.validate(); });
  EXPECT_EQ(msg.find("0-255"), std::string::npos) << msg;
  p.mean = {0.5f};
  p.std = {1.0000001f};  // said with its digits, not as "holds 1"
  msg = error_of([&] { p.validate(); });
  EXPECT_NE(msg.find("extract.std holds 1.00000012 but"), std::string::npos) << msg;
  p.mean = {-1.0f};
  p.std = {1e-30f};
  msg = error_of([&] { p.validate(); });
  EXPECT_NE(msg.find("extract.std holds 1e-30 but pixels are scaled to [0, 1] before it (expected 0.0001..1)"),
            std::string::npos) << msg;
  p.std = {kMinStd, 1.0f, 0.25f};
  EXPECT_NO_THROW(p.validate());
  p.scale_to_unit = false;  // values on the 0-255 scale are the right ones then
  p.mean = {123.68f};
  p.std = {58.4f};
  EXPECT_NO_THROW(p.validate());
}

// ---------------------------------------------------------------- model zip

/// A zip of stored entries, as torch.jit.save writes them: each local header
/// padded by `pad` extra bytes the central directory does not have (PyTorch
/// aligns tensors so), and with zip64 the ZIP64 forms: the central
/// directory's sizes and offsets marked 0xFFFFFFFF and given in its extra
/// field, a ZIP64 end record. Python's zipfile and unzip -t read both.
struct ZipEntry {
  std::string name, data;
  uint16_t method = 0;  // 8: marked deflated (the data are not: the check must skip it)
};
std::string make_zip(const std::vector<ZipEntry>& entries, bool zip64, size_t pad = 11) {
  std::string out, dir;
  auto put = [](std::string& s, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s += char((v >> (8 * i)) & 0xFF);
  };
  const uint64_t mark = 0xFFFFFFFF;
  for (const ZipEntry& e : entries) {
    const uint64_t at = out.size();
    const uint32_t crc = crc32_update(0, reinterpret_cast<const uint8_t*>(e.data.data()), e.data.size());
    put(out, 0x04034b50, 4), put(out, 20, 2), put(out, 0, 2), put(out, e.method, 2), put(out, 0, 4);
    put(out, crc, 4), put(out, e.data.size(), 4), put(out, e.data.size(), 4);
    put(out, e.name.size(), 2), put(out, pad, 2);
    out += e.name;
    put(out, 0x4246, 2), put(out, pad - 4, 2);  // an extra block "FB" of padding, as PyTorch's
    out += std::string(pad - 4, 'Z') + e.data;
    put(dir, 0x02014b50, 4), put(dir, 45, 2), put(dir, 20, 2), put(dir, 0, 2), put(dir, e.method, 2), put(dir, 0, 4);
    put(dir, crc, 4), put(dir, zip64 ? mark : e.data.size(), 4), put(dir, zip64 ? mark : e.data.size(), 4);
    put(dir, e.name.size(), 2), put(dir, zip64 ? 28 : 0, 2), put(dir, 0, 2), put(dir, 0, 2), put(dir, 0, 2);
    put(dir, 0, 4), put(dir, zip64 ? mark : at, 4);
    dir += e.name;
    if (zip64) put(dir, 1, 2), put(dir, 24, 2), put(dir, e.data.size(), 8), put(dir, e.data.size(), 8), put(dir, at, 8);
  }
  const uint64_t dir_at = out.size(), n = entries.size();
  out += dir;
  if (zip64) {
    const uint64_t end64_at = out.size();
    put(out, 0x06064b50, 4), put(out, 44, 8), put(out, 45, 2), put(out, 45, 2), put(out, 0, 4), put(out, 0, 4);
    put(out, n, 8), put(out, n, 8), put(out, dir.size(), 8), put(out, dir_at, 8);
    put(out, 0x07064b50, 4), put(out, 0, 4), put(out, end64_at, 8), put(out, 1, 4);
  }
  put(out, 0x06054b50, 4), put(out, 0, 2), put(out, 0, 2), put(out, zip64 ? 0xFFFF : n, 2);
  put(out, zip64 ? 0xFFFF : n, 2), put(out, zip64 ? mark : dir.size(), 4), put(out, zip64 ? mark : dir_at, 4);
  put(out, 0, 2);
  return out;
}

std::string first_corrupt(const TempDir& t, const std::string& bytes) {
  const std::string p = t.write("m.pt", "");
  std::ofstream(p, std::ios::binary) << bytes;
  return first_corrupt_zip_entry(RegularFile(p, "model file"));
}

// The standard check value of CRC-32, and a continuation in two pieces.
TEST(ExtractModelFile, Crc32MatchesTheStandardCheckValue) {
  const uint8_t* digits = reinterpret_cast<const uint8_t*>("123456789");
  EXPECT_EQ(distclust::crc32_update(0, digits, 9), 0xCBF43926u);
  EXPECT_EQ(distclust::crc32_update(distclust::crc32_update(0, digits, 4), digits + 4, 5), 0xCBF43926u);
  EXPECT_EQ(distclust::crc32_update(0, digits, 0), 0u);
}

TEST(ExtractModelFile, ZipCrcCheckNamesTheCorruptStoredEntry) {
  TempDir t;
  const std::vector<ZipEntry> entries{{"m/data.pkl", "pickle bytes"}, {"m/data/0", std::string(5000, '\x3f')},
                                      {"m/data/1", "weights of the second tensor"}};
  for (bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64 ? "zip64" : "zip");
    const std::string good = make_zip(entries, zip64);
    EXPECT_EQ(first_corrupt(t, good), "");
    std::string bad = good;
    bad[good.find("weights") + 3] ^= 0x01;  // one bit inside m/data/1's bytes
    EXPECT_EQ(first_corrupt(t, bad), "m/data/1");
    // The data start after the local header's name and extra: a changed
    // local extra length moves them, as a reader reading them would.
    bad = good;
    bad[good.find("m/data/0") - 2] += 1;
    EXPECT_EQ(first_corrupt(t, bad), "m/data/0");
  }
  // A deflated entry is not checked here (TorchScript stores its tensors).
  std::vector<ZipEntry> deflated = entries;
  deflated[2].method = 8;
  std::string bad = make_zip(deflated, false);
  bad[bad.find("weights") + 3] ^= 0x01;
  EXPECT_EQ(first_corrupt(t, bad), "");
  // No zip, or no central directory: left to LibTorch's own error.
  EXPECT_EQ(first_corrupt(t, "not a model\n"), "");
  EXPECT_EQ(first_corrupt(t, ""), "");
  const std::string good = make_zip(entries, false);
  EXPECT_EQ(first_corrupt(t, good.substr(0, good.size() - 30)), "");
}

TEST(ExtractModelFile, SharedResnet20PassesTheZipCrcCheck) {
  const std::string file = std::string(DC_SHARED_DIR) + "/models/cifar10-resnet20.pt";
  if (!fs::exists(file)) GTEST_SKIP() << file << " is not there";
  EXPECT_EQ(first_corrupt_zip_entry(RegularFile(file, "model file")), "");
}

}  // namespace
