// Decoding encoded images to 8-bit RGB with OpenCV, never throwing: see
// decode.h for the conversions and the bomb guard.
#include "extract/decode.h"

#include <cstdint>
#include <cstring>
#include <exception>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "distclust/error.h"

namespace distclust {
namespace {

DecodeResult failed(std::string reason) {
  DecodeResult r;
  r.reason = std::move(reason);
  return r;
}

// libjpeg decodes a JPEG cut short without an error (it pads the missing part
// with grey and warns on stderr), so look for the end-of-image marker after
// the first scan header ourselves. Inside entropy-coded data 0xFF is always
// followed by 0x00 or a restart marker, so FF D9 there is the real EOI; an
// EXIF thumbnail's EOI lies in an APP segment before the scan and is skipped.
bool jpeg_has_eoi(const uint8_t* d, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {  // find SOS by walking segments
    if (d[i] != 0xFF) { ++i; continue; }  // junk between segments: libjpeg skips it too
    uint8_t m = d[i + 1];
    if (m == 0xFF) { ++i; continue; }
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) { i += 2; continue; }
    size_t len = (size_t(d[i + 2]) << 8) | d[i + 3];
    if (m == 0xDA) { i += 2 + len; break; }
    i += 2 + len;
  }
  for (; i + 1 < n; ++i) {
    const void* p = std::memchr(d + i, 0xFF, n - 1 - i);
    if (!p) return false;
    i = static_cast<const uint8_t*>(p) - d;
    if (d[i + 1] == 0xD9) return true;
  }
  return false;
}

// libpng reports a PNG cut inside its image data, but not one cut after it
// (lost IEND); require the IEND chunk so that "truncated" means one thing.
bool png_has_iend(const uint8_t* d, size_t n) {
  // Walk the chunks (length, type, data, CRC) from the signature to IEND;
  // bytes after it are allowed. (Searching only the last 4 KiB for IEND
  // called a whole PNG with 5 KB appended "truncated".)
  size_t k = 8;
  while (k + 12 <= n) {
    const size_t len = size_t(d[k]) << 24 | size_t(d[k + 1]) << 16 | size_t(d[k + 2]) << 8 | size_t(d[k + 3]);
    if (std::memcmp(d + k + 4, "IEND", 4) == 0) return true;
    if (len > n - k - 12) return false;  // a chunk runs past the end
    k += 12 + len;
  }
  return false;
}

/// A WebP with the animation flag (its VP8X chunk): OpenCV decodes none of its frames.
bool webp_is_animated(const uint8_t* d, size_t n) {
  return n >= 21 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBPVP8X", 8) == 0 && (d[20] & 0x02);
}

// Any depth and channel count OpenCV returns -> CV_8UC3 RGB.
bool to_rgb8(const cv::Mat& in, cv::Mat& out, std::string& reason) {
  cv::Mat m8;
  switch (in.depth()) {
    case CV_8U: m8 = in; break;
    case CV_16U: in.convertTo(m8, CV_8U, 1.0 / 257.0); break;  // 65535 -> 255, rounded
    case CV_32F:
    case CV_64F: in.convertTo(m8, CV_8U, 255.0); break;        // [0,1] -> [0,255], saturated
    default:
      reason = fmt("unsupported sample type (OpenCV depth ", in.depth(), ")");
      return false;
  }
  switch (m8.channels()) {
    case 1: cv::cvtColor(m8, out, cv::COLOR_GRAY2RGB); break;
    case 3: cv::cvtColor(m8, out, cv::COLOR_BGR2RGB); break;
    case 4: cv::cvtColor(m8, out, cv::COLOR_BGRA2RGB); break;  // alpha dropped, colour kept
    default:
      reason = fmt("unsupported channel count ", m8.channels());
      return false;
  }
  return true;
}

// "PNG", "JPEG", ... for messages.
std::string title(const std::string& format) {
  if (format == "webp") return "WebP";
  std::string t = format;
  for (char& c : t) c = static_cast<char>(c - 'a' + 'A');
  return t;
}

/// libpng's default user_width_max and user_height_max.
constexpr int64_t kLibpngMaxSide = 1000000;

}  // namespace

void DecodeParams::validate() const {
  require(max_pixels > 0, "extract.max_pixels is ", max_pixels, " (expected > 0)");
}

DecodeResult decode_image(const uint8_t* data, size_t size, const DecodeParams& p) {
  try {
    ImageHeader h;
    std::string reason;
    if (!read_image_header(data, size, h, reason)) return failed(reason);
    const std::string name = title(h.format);
    if (h.width > p.max_pixels / h.height)  // no overflow: sides may be up to 2^32 - 1
      return failed(fmt(name, " of ", h.width, " x ", h.height, " = ", uint64_t(h.width) * uint64_t(h.height),
                        " pixels is over extract.max_pixels = ", p.max_pixels, " (not decoded)"));
    if (h.format == "jpeg" && !jpeg_has_eoi(data, size)) return failed("truncated JPEG (no end-of-image marker)");
    if (h.format == "png" && !png_has_iend(data, size)) return failed("truncated PNG (no IEND chunk)");
    // Refused before OpenCV, which prints its own "imdecode_(''): can't read
    // data" line for these and decodes nothing.
    if (h.float_samples)
      return failed("TIFF with floating-point samples: OpenCV does not read them as colour images, and they "
                    "have no fixed range; convert it, e.g. to an 8- or 16-bit PNG");

    // IMREAD_COLOR applies EXIF orientation and converts gray/CMYK/alpha to
    // 3 channels; IMREAD_ANYDEPTH keeps 16-bit samples so that we scale them
    // (OpenCV alone would drop the low byte).
    if (size > static_cast<size_t>(INT32_MAX)) return failed(fmt(name, " file of ", size, " bytes is too large for OpenCV"));
    cv::Mat buf(1, static_cast<int>(size), CV_8U, const_cast<uint8_t*>(data));
    cv::Mat img = cv::imdecode(buf, cv::IMREAD_COLOR | cv::IMREAD_ANYDEPTH);
    if (img.empty() && h.format == "webp" && webp_is_animated(data, size))
      return failed("animated WebP: OpenCV decodes none of its frames (convert it, e.g. to PNG)");
    // libpng refuses sides over its default user limit of 1,000,000 pixels
    // (png_set_user_limits); not a corrupt file.
    if (img.empty() && h.format == "png" && std::max(h.width, h.height) > kLibpngMaxSide)
      return failed(fmt("PNG of ", h.width, " x ", h.height, " pixels: a side over libpng's limit of ",
                        kLibpngMaxSide, " (not decoded)"));
    // TIFF has kinds OpenCV does not read (float samples, some
    // compressions): a valid file of such a kind is not "corrupt".
    if (img.empty() && h.format == "tiff")
      return failed("TIFF OpenCV could not decode: corrupt, or a kind it does not read (e.g. float samples); "
                    "convert it, e.g. to 8- or 16-bit PNG");
    if (img.empty()) return failed(fmt("corrupt ", name, " (OpenCV could not decode it)"));
    if (int64_t(img.rows) * img.cols > p.max_pixels)
      return failed(fmt(name, " decoded to ", img.cols, " x ", img.rows, " pixels, over extract.max_pixels = ",
                        p.max_pixels));
    DecodeResult r;
    if (!to_rgb8(img, r.rgb, reason)) return failed(name + ": " + reason);
    r.ok = true;
    return r;
  } catch (const cv::Exception& e) {
    return failed(fmt("corrupt image (OpenCV: ", e.err, ")"));
  } catch (const std::exception& e) {
    return failed(fmt("cannot decode: ", e.what()));
  }
}

DecodeResult decode_image(const std::vector<uint8_t>& bytes, const DecodeParams& p) {
  return decode_image(bytes.data(), bytes.size(), p);
}

DecodeResult load_image(const ImageSource& src, int64_t i, const DecodeParams& p) noexcept {
  try {
    RawImage raw = src.read(i);
    if (raw.encoded) return decode_image(raw.bytes, p);
    if (raw.pixels.empty() || raw.pixels.type() != CV_8UC3) return failed("source gave no RGB pixels");
    if (int64_t(raw.pixels.rows) * raw.pixels.cols > p.max_pixels)
      return failed(fmt(raw.pixels.cols, " x ", raw.pixels.rows, " pixels is over extract.max_pixels = ", p.max_pixels));
    DecodeResult r;
    r.ok = true;
    r.rgb = raw.pixels;
    return r;
  } catch (const std::exception& e) {
    return failed(e.what());
  } catch (...) {
    return failed("unknown error while reading");
  }
}

}  // namespace distclust
