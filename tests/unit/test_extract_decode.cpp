// Decoding: every format to RGB, the conversions (gray, alpha, 16-bit, CMYK,
// EXIF orientation), header dimensions, and bad input reported, not thrown.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "extract/decode.h"
#include "distclust/error.h"

using namespace distclust;

namespace {

const std::string kFixtures = std::string(DC_SOURCE_DIR) + "/tests/data/extract/";

std::vector<uint8_t> read_fixture(const std::string& name) {
  std::ifstream in(kFixtures + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << kFixtures + name;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// 20 x 12 RGB test pattern: every pixel different, channels different.
cv::Mat pattern_rgb() {
  cv::Mat m(12, 20, CV_8UC3);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) m.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(12 * x), uint8_t(20 * y), uint8_t(255 - 7 * x - 3 * y));
  return m;
}

// Encodes an RGB (or gray/RGBA/16-bit) image; OpenCV writes BGR(A) order.
std::vector<uint8_t> encode(const cv::Mat& rgb, const std::string& ext, std::vector<int> params = {}) {
  cv::Mat bgr;
  if (rgb.channels() == 3) cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  else if (rgb.channels() == 4) cv::cvtColor(rgb, bgr, cv::COLOR_RGBA2BGRA);
  else bgr = rgb;
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(ext, bgr, out, params)) << ext;
  return out;
}

double max_abs_diff(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF); }

TEST(ExtractDecode, LosslessFormatsRoundTripExactlyInRgbOrder) {
  cv::Mat rgb = pattern_rgb();
  for (std::string ext : {".png", ".bmp", ".tiff", ".webp"}) {
    std::vector<int> params;
    if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 101};  // > 100 = lossless
    DecodeResult d = decode_image(encode(rgb, ext, params));
    ASSERT_TRUE(d.ok) << ext << ": " << d.reason;
    ASSERT_EQ(d.rgb.type(), CV_8UC3) << ext;
    ASSERT_EQ(d.rgb.size(), rgb.size()) << ext;
    EXPECT_EQ(max_abs_diff(d.rgb, rgb), 0) << ext;
  }
}

TEST(ExtractDecode, LossyFormatsAreClose) {
  cv::Mat rgb(16, 16, CV_8UC3, cv::Scalar(200, 30, 90));  // flat colour: little JPEG/WebP error
  for (std::string ext : {".jpg", ".webp"}) {
    std::vector<int> params = {ext == ".jpg" ? cv::IMWRITE_JPEG_QUALITY : cv::IMWRITE_WEBP_QUALITY, 95};
    DecodeResult d = decode_image(encode(rgb, ext, params));
    ASSERT_TRUE(d.ok) << ext << ": " << d.reason;
    EXPECT_LE(max_abs_diff(d.rgb, rgb), 6) << ext;  // and R stays R: not BGR
  }
}

TEST(ExtractDecode, HeaderGivesDimensionsOfEveryFormat) {
  cv::Mat rgb = pattern_rgb();
  for (std::string ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    for (int lossless : {0, 1}) {
      if (lossless && ext != ".webp") continue;
      std::vector<int> params;
      if (ext == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, lossless ? 101 : 80};
      auto bytes = encode(rgb, ext, params);
      ImageHeader h;
      std::string why;
      ASSERT_TRUE(read_image_header(bytes.data(), bytes.size(), h, why)) << ext << ": " << why;
      EXPECT_EQ(h.width, 20) << ext;
      EXPECT_EQ(h.height, 12) << ext;
    }
  }
}

TEST(ExtractDecode, GrayscaleBecomesThreeEqualChannels) {
  cv::Mat g(5, 7, CV_8UC1);
  for (int i = 0; i < 35; ++i) g.data[i] = uint8_t(7 * i);
  for (std::string ext : {".png", ".bmp", ".tiff"}) {
    DecodeResult d = decode_image(encode(g, ext));
    ASSERT_TRUE(d.ok) << ext << ": " << d.reason;
    std::vector<cv::Mat> ch;
    cv::split(d.rgb, ch);
    for (auto& c : ch) EXPECT_EQ(max_abs_diff(c, g), 0) << ext;
  }
}

TEST(ExtractDecode, AlphaIsDroppedKeepingTheColourUnderIt) {
  cv::Mat rgba(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 255));
  rgba.at<cv::Vec4b>(0, 1) = cv::Vec4b(200, 100, 50, 0);  // fully transparent
  rgba.at<cv::Vec4b>(1, 0) = cv::Vec4b(1, 2, 3, 128);
  for (std::string ext : {".png", ".tiff"}) {
    DecodeResult d = decode_image(encode(rgba, ext));
    ASSERT_TRUE(d.ok) << ext << ": " << d.reason;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(10, 20, 30)) << ext;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(200, 100, 50)) << ext;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(1, 0), cv::Vec3b(1, 2, 3)) << ext;
  }
}

TEST(ExtractDecode, SixteenBitIsScaledBy257) {
  cv::Mat rgb16(1, 4, CV_16UC3);
  rgb16.at<cv::Vec3w>(0, 0) = cv::Vec3w(0, 257, 65535);
  rgb16.at<cv::Vec3w>(0, 1) = cv::Vec3w(300, 128 * 257, 65000);   // 1.17 -> 1; 128; 252.9 -> 253
  rgb16.at<cv::Vec3w>(0, 2) = cv::Vec3w(385, 386, 255);            // 1.498 -> 1; 1.502 -> 2; 0.99 -> 1
  rgb16.at<cv::Vec3w>(0, 3) = cv::Vec3w(65535, 0, 257 * 100);
  for (std::string ext : {".png", ".tiff"}) {
    DecodeResult d = decode_image(encode(rgb16, ext));
    ASSERT_TRUE(d.ok) << ext << ": " << d.reason;
    ASSERT_EQ(d.rgb.type(), CV_8UC3);
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 1, 255)) << ext;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(1, 128, 253)) << ext;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(1, 2, 1)) << ext;
    EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 3), cv::Vec3b(255, 0, 100)) << ext;
  }
  cv::Mat g16(1, 2, CV_16UC1);
  g16.at<uint16_t>(0, 0) = 65535;
  g16.at<uint16_t>(0, 1) = 257 * 9;
  DecodeResult d = decode_image(encode(g16, ".png"));
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(d.rgb.at<cv::Vec3b>(0, 1), cv::Vec3b(9, 9, 9));
}

TEST(ExtractDecode, CmykJpegBecomesRgb) {
  // Fixture from make_fixtures.py: top half CMYK red, bottom half CMYK green.
  auto bytes = read_fixture("cmyk.jpg");
  ASSERT_LT(bytes.size(), 5000u);
  DecodeResult d = decode_image(bytes);
  ASSERT_TRUE(d.ok) << d.reason;
  ASSERT_EQ(d.rgb.size(), cv::Size(16, 16));
  cv::Vec3b top = d.rgb.at<cv::Vec3b>(3, 8), bottom = d.rgb.at<cv::Vec3b>(12, 8);
  EXPECT_GT(top[0], 230);
  EXPECT_LT(top[1], 25);
  EXPECT_LT(top[2], 25);
  EXPECT_LT(bottom[0], 25);
  EXPECT_GT(bottom[1], 230);
  EXPECT_LT(bottom[2], 25);
}

TEST(ExtractDecode, ExifOrientationIsApplied) {
  // Stored 16 wide x 8 high, left red, right blue; Orientation 6 = rotate 90
  // degrees clockwise to show: 8 wide x 16 high, red on top, blue below.
  DecodeResult d = decode_image(read_fixture("exif_rot6.jpg"));
  ASSERT_TRUE(d.ok) << d.reason;
  ASSERT_EQ(d.rgb.cols, 8);
  ASSERT_EQ(d.rgb.rows, 16);
  cv::Vec3b top = d.rgb.at<cv::Vec3b>(3, 4), bottom = d.rgb.at<cv::Vec3b>(12, 4);
  EXPECT_GT(top[0], 200);
  EXPECT_LT(top[2], 60);
  EXPECT_LT(bottom[0], 60);
  EXPECT_GT(bottom[2], 200);
  auto bytes = read_fixture("exif_rot6.jpg");
  ImageHeader h;
  std::string why;
  ASSERT_TRUE(read_image_header(bytes.data(), bytes.size(), h, why)) << why;
  EXPECT_EQ(h.width, 16);  // the header tells the stored size
  EXPECT_EQ(h.height, 8);
}

// A TIFF declaring its width twice (10, then 40000): libtiff uses one, a
// size check that reads the other would be fooled. Refused as corrupt.
TEST(ExtractDecode, TiffSizeDeclaredTwiceIsRefused) {
  std::vector<uint8_t> t = {'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0};
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t value) {
    const uint8_t e[12] = {uint8_t(tag), uint8_t(tag >> 8), uint8_t(type), 0, 1, 0, 0, 0,
                           uint8_t(value), uint8_t(value >> 8), uint8_t(value >> 16), uint8_t(value >> 24)};
    t.insert(t.end(), e, e + 12);
  };
  entry(256, 3, 10);
  entry(257, 3, 10);
  entry(256, 4, 40000);
  t.insert(t.end(), {0, 0, 0, 0});
  ImageHeader h;
  std::string why;
  EXPECT_FALSE(read_image_header(t.data(), t.size(), h, why));
  EXPECT_NE(why.find("image width declared twice"), std::string::npos) << why;
}

// A list entry or link may reach a file that is no image (a key): its bytes
// must not reach the log, only its size.
TEST(ExtractDecode, NotAnImageReasonHoldsNoBytesOfTheFile) {
  const std::string secret = "SECRET-KEY-0123456789";
  ImageHeader h;
  std::string why;
  EXPECT_FALSE(read_image_header(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(), h, why));
  EXPECT_NE(why.find("not a supported image"), std::string::npos) << why;
  EXPECT_EQ(why.find("SECRET"), std::string::npos) << why;
  EXPECT_EQ(why.find("53 45"), std::string::npos) << why;  // "SE" in hex
}

void expect_bad(const std::vector<uint8_t>& bytes, const std::string& reason_part, const std::string& what) {
  DecodeResult d;
  ASSERT_NO_THROW(d = decode_image(bytes)) << what;
  EXPECT_FALSE(d.ok) << what;
  EXPECT_TRUE(d.rgb.empty()) << what;
  EXPECT_NE(d.reason.find(reason_part), std::string::npos) << what << ": reason was '" << d.reason << "'";
}

TEST(ExtractDecode, BadInputGivesReasonsNotExceptions) {
  expect_bad({}, "empty file", "zero bytes");
  std::string text = "hello, I am a text file named cat.png\n";
  expect_bad(std::vector<uint8_t>(text.begin(), text.end()), "not a supported image", "text");

  auto png = encode(pattern_rgb(), ".png");
  expect_bad(std::vector<uint8_t>(png.begin(), png.begin() + 12), "truncated PNG", "PNG cut in header");
  expect_bad(std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2), "PNG", "PNG cut in half");
  expect_bad(std::vector<uint8_t>(png.begin(), png.end() - 12), "truncated PNG", "PNG without IEND");
  auto garbled = png;
  for (size_t i = 40; i < garbled.size() - 20; ++i) garbled[i] ^= 0x5A;  // IDAT data and CRC broken
  expect_bad(garbled, "PNG", "garbled PNG data");

  auto jpg = encode(pattern_rgb(), ".jpg");
  expect_bad(std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() * 6 / 10), "truncated JPEG", "JPEG cut");
  expect_bad(std::vector<uint8_t>(jpg.begin(), jpg.begin() + 6), "truncated JPEG", "JPEG cut in header");

  auto bmp = encode(pattern_rgb(), ".bmp");
  expect_bad(std::vector<uint8_t>(bmp.begin(), bmp.begin() + 20), "truncated BMP", "BMP cut in header");
  expect_bad(std::vector<uint8_t>(bmp.begin(), bmp.begin() + 100), "BMP", "BMP cut in data");

  auto webp = encode(pattern_rgb(), ".webp");
  expect_bad(std::vector<uint8_t>(webp.begin(), webp.begin() + webp.size() / 2), "WebP", "WebP cut");
  auto tif = encode(pattern_rgb(), ".tiff");
  expect_bad(std::vector<uint8_t>(tif.begin(), tif.begin() + 10), "TIFF", "TIFF cut in header");

  // An animated WebP (VP8X with the animation flag, an ANIM chunk): OpenCV
  // decodes none of it; the reason said "corrupt WebP".
  std::vector<uint8_t> anim = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                               0x02, 0, 0, 0, 15, 0, 0, 15, 0, 0, 'A', 'N', 'I', 'M', 6, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  anim[4] = uint8_t(anim.size() - 8);
  expect_bad(anim, "animated WebP: OpenCV decodes none of its frames", "animated WebP");
}

TEST(ExtractDecode, FloatTiffIsSaidAsAKindOpenCvDoesNotReadNotCorrupt) {
  // A valid one-channel float32 TIFF (PIL's mode 'F'): OpenCV 4.6 decodes
  // none; the reason said "corrupt TIFF".
  cv::Mat f(8, 8, CV_32FC1, cv::Scalar(0.25));
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(cv::imencode(".tiff", f, bytes));
  ImageHeader h;
  std::string why;
  ASSERT_TRUE(read_image_header(bytes.data(), bytes.size(), h, why)) << why;
  EXPECT_TRUE(h.float_samples);
  // Said from the header, before OpenCV, which printed its own
  // "imdecode_(''): can't read data" line on stderr for it.
  testing::internal::CaptureStderr();
  DecodeResult d = decode_image(bytes);
  const std::string stray = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.reason.find("corrupt TIFF"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("TIFF with floating-point samples"), std::string::npos) << d.reason;
  EXPECT_EQ(stray, "") << "OpenCV was called and printed";
  // An 8-bit and a 16-bit TIFF are not taken for floats.
  for (int type : {CV_8UC3, CV_16UC1}) {
    cv::Mat m(8, 8, type, cv::Scalar::all(7));
    std::vector<uint8_t> b;
    ASSERT_TRUE(cv::imencode(".tiff", m, b));
    ImageHeader hi;
    ASSERT_TRUE(read_image_header(b.data(), b.size(), hi, why)) << why;
    EXPECT_FALSE(hi.float_samples) << type;
    EXPECT_TRUE(decode_image(b).ok) << type;
  }
}

TEST(ExtractDecode, BytesAfterIendAreAllowed) {
  // A whole PNG followed by 5 KB (an appended thumbnail, a download's
  // padding): IEND was searched for in the last 4 KiB only, and the image
  // was dropped as "truncated PNG".
  auto png = encode(pattern_rgb(), ".png");
  png.insert(png.end(), 5000, uint8_t(0x42));
  DecodeResult d = decode_image(png);
  EXPECT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.rgb.cols, pattern_rgb().cols);
}

TEST(ExtractDecode, OversizedImagesAreRefusedBeforeDecoding) {
  DecodeParams small;
  small.max_pixels = 100;
  DecodeResult d = decode_image(encode(pattern_rgb(), ".png"), small);  // 240 pixels
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("max_pixels"), std::string::npos) << d.reason;

  // A PNG header claiming 100000 x 100000 with no data: refused by the
  // header check (decoding it would first try to allocate 30 GB).
  auto png = encode(pattern_rgb(), ".png");
  std::vector<uint8_t> bomb(png.begin(), png.begin() + 33);
  for (int k : {16, 20}) {  // width, height big-endian
    bomb[k] = 0x00; bomb[k + 1] = 0x01; bomb[k + 2] = 0x86; bomb[k + 3] = 0xA0;
  }
  d = decode_image(bomb);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("100000 x 100000"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("not decoded"), std::string::npos) << d.reason;

  // A JPEG whose frame header says 60000 x 60000.
  auto jpg = encode(pattern_rgb(), ".jpg");
  ImageHeader h;
  std::string why;
  ASSERT_TRUE(read_image_header(jpg.data(), jpg.size(), h, why));
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {  // SOF0: FF C0 len(2) precision(1) height(2) width(2)
      jpg[i + 5] = 0xEA; jpg[i + 6] = 0x60; jpg[i + 7] = 0xEA; jpg[i + 8] = 0x60;
      break;
    }
  d = decode_image(jpg);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("60000 x 60000"), std::string::npos) << d.reason;

  DecodeParams bad;
  bad.max_pixels = 0;
  EXPECT_THROW(bad.validate(), Error);

  // A PNG whose IHDR (CRC intact) says 1,100,000 x 1: over libpng's side
  // limit, not corrupt (the reason said "corrupt PNG"). OpenCV cannot write
  // one, so the header of a small PNG is rewritten.
  std::vector<uint8_t> strip = encode(pattern_rgb(), ".png");
  const uint32_t wide = 1100000;
  for (int b = 0; b < 4; ++b) strip[16 + b] = uint8_t(wide >> (24 - 8 * b));
  uint32_t crc = 0xFFFFFFFFu;  // CRC-32 of "IHDR" + its 13 bytes (PNG spec)
  for (int i = 12; i < 29; ++i) {
    crc ^= strip[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xFFFFFFFFu;
  for (int b = 0; b < 4; ++b) strip[29 + b] = uint8_t(crc >> (24 - 8 * b));
  DecodeParams roomy;
  roomy.max_pixels = int64_t(1) << 40;
  d = decode_image(strip, roomy);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.reason.find("over libpng's limit of 1000000"), std::string::npos) << d.reason;
}

TEST(ExtractDecode, RandomCorruptionNeverThrows) {
  std::mt19937 rng(7);
  DecodeParams p;
  p.max_pixels = 100000;  // a flipped size byte must not make a huge allocation
  for (std::string ext : {".png", ".jpg", ".bmp", ".tiff", ".webp"}) {
    auto good = encode(pattern_rgb(), ext);
    for (int trial = 0; trial < 60; ++trial) {
      auto b = good;
      int flips = 1 + int(rng() % 8);
      for (int k = 0; k < flips; ++k) b[rng() % b.size()] ^= uint8_t(1 + rng() % 255);
      if (trial % 3 == 0) b.resize(rng() % b.size());
      DecodeResult d;
      ASSERT_NO_THROW(d = decode_image(b, p)) << ext << " trial " << trial;
      if (d.ok) {
        EXPECT_EQ(d.rgb.type(), CV_8UC3);
      } else {
        EXPECT_FALSE(d.reason.empty());
      }
    }
  }
}

TEST(ExtractDecode, DecodesOnManyThreads) {
  auto png = encode(pattern_rgb(), ".png");
  auto jpg = encode(pattern_rgb(), ".jpg");
  std::vector<std::thread> pool;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t)
    pool.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        DecodeResult a = decode_image(png), b = decode_image(jpg);
        if (!a.ok || !b.ok || max_abs_diff(a.rgb, pattern_rgb()) != 0) ++bad;
      }
    });
  for (auto& t : pool) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
