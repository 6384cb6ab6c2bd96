// Reading an image's format and dimensions from its header, without
// decoding: the decompression-bomb check runs before OpenCV allocates pixels.
// Every read is bounds-checked; malformed input gives false and a reason.
#include <cstring>

#include "extract/decode.h"
#include "distclust/error.h"

namespace distclust {
namespace {

uint32_t be16(const uint8_t* p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return (uint32_t(p[1]) << 8) | p[0]; }
uint32_t le32(const uint8_t* p) { return (le16(p + 2) << 16) | le16(p); }
uint64_t le64(const uint8_t* p) { return (uint64_t(le32(p + 4)) << 32) | le32(p); }
uint64_t be64(const uint8_t* p) { return (uint64_t(be32(p)) << 32) | be32(p + 4); }

bool fail(std::string& reason, const std::string& why) {
  reason = why;
  return false;
}

bool png(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  // signature(8), IHDR length(4) "IHDR"(4) width(4) height(4)
  if (n < 24) return fail(reason, "truncated PNG (header cut short)");
  if (std::memcmp(d + 12, "IHDR", 4) != 0) return fail(reason, "corrupt PNG (first chunk is not IHDR)");
  h.width = be32(d + 16);
  h.height = be32(d + 20);
  return true;
}

bool jpeg(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  // Walk the marker segments after SOI up to the first frame header (SOFn).
  size_t i = 2;
  while (true) {
    while (i < n && d[i] != 0xFF) ++i;  // tolerate junk between segments, as libjpeg does
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return fail(reason, "truncated JPEG (no frame header)");
    uint8_t m = d[i++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length
    if (m == 0xD9 || m == 0xDA) return fail(reason, "corrupt JPEG (no frame header before image data)");
    if (i + 2 > n) return fail(reason, "truncated JPEG (segment header cut short)");
    size_t len = be16(d + i);
    if (len < 2) return fail(reason, "corrupt JPEG (bad segment length)");
    bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (i + 7 > n) return fail(reason, "truncated JPEG (frame header cut short)");
      h.height = be16(d + i + 3);
      h.width = be16(d + i + 5);
      return true;
    }
    i += len;
  }
}

bool bmp(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  if (n < 26) return fail(reason, "truncated BMP (header cut short)");
  uint32_t dib = le32(d + 14);
  if (dib == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
    h.width = le16(d + 18);
    h.height = le16(d + 20);
  } else {
    h.width = static_cast<int32_t>(le32(d + 18));
    int32_t hh = static_cast<int32_t>(le32(d + 22));
    h.height = hh < 0 ? -static_cast<int64_t>(hh) : hh;  // negative = rows stored top-down
  }
  return true;
}

bool tiff(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  const bool le = d[0] == 'I';
  auto u16 = [&](size_t at) { return le ? le16(d + at) : be16(d + at); };
  auto u32 = [&](size_t at) { return le ? le32(d + at) : be32(d + at); };
  auto u64 = [&](size_t at) { return le ? le64(d + at) : be64(d + at); };
  const bool big = u16(2) == 43;  // BigTIFF
  if (big && n < 16) return fail(reason, "truncated BigTIFF (header cut short)");
  uint64_t ifd = big ? u64(8) : u32(4);
  size_t count_bytes = big ? 8 : 2, entry = big ? 20 : 12, value_at = big ? 12 : 8;
  if (ifd + count_bytes > n || ifd < 8) return fail(reason, "truncated TIFF (first directory is past the end)");
  uint64_t count = big ? u64(ifd) : u16(ifd);
  int64_t w = -1, hgt = -1;
  for (uint64_t k = 0; k < count; ++k) {
    uint64_t e = ifd + count_bytes + k * entry;
    if (e + entry > n) return fail(reason, "truncated TIFF (directory cut short)");
    uint32_t tag = u16(e), type = u16(e + 2);
    // SampleFormat (SHORT per sample; all samples alike in practice): the
    // first value, stored in the entry when it fits there, else at its offset.
    if (tag == 339 && type == 3) {
      const uint64_t n_values = big ? u64(e + 4) : u32(e + 4);
      const uint64_t at = n_values * 2 <= (big ? 8u : 4u) ? e + value_at : (big ? u64(e + value_at) : u32(e + value_at));
      if (n_values >= 1 && n >= 2 && at <= n - 2) h.float_samples = u16(at) == 3;  // no wrap: at is the file's
      continue;
    }
    if (tag != 256 && tag != 257) continue;
    int64_t v;
    if (type == 3) v = u16(e + value_at);       // SHORT
    else if (type == 4) v = u32(e + value_at);  // LONG
    else if (type == 16 && big) v = static_cast<int64_t>(u64(e + value_at) & 0x7FFFFFFFFFFFFFFFull);  // LONG8
    else return fail(reason, "corrupt TIFF (image width/height of unexpected type)");
    // Declared twice: libtiff uses one, a check of the other would be fooled
    // (a 2.8 GB decode passed the size check that way).
    if ((tag == 256 ? w : hgt) >= 0)
      return fail(reason, fmt("corrupt TIFF (image ", tag == 256 ? "width" : "height", " declared twice)"));
    (tag == 256 ? w : hgt) = v;
  }
  if (w < 0 || hgt < 0) return fail(reason, "corrupt TIFF (no image width/height tag)");
  h.width = w;
  h.height = hgt;
  return true;
}

bool webp(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  if (n < 30) return fail(reason, "truncated WebP (header cut short)");
  const uint8_t* c = d + 12;  // first chunk
  if (std::memcmp(c, "VP8X", 4) == 0) {
    h.width = 1 + (d[24] | (d[25] << 8) | (d[26] << 16));
    h.height = 1 + (d[27] | (d[28] << 8) | (d[29] << 16));
  } else if (std::memcmp(c, "VP8L", 4) == 0) {
    if (d[20] != 0x2F) return fail(reason, "corrupt WebP (bad lossless signature)");
    uint32_t bits = le32(d + 21);
    h.width = 1 + (bits & 0x3FFF);
    h.height = 1 + ((bits >> 14) & 0x3FFF);
  } else if (std::memcmp(c, "VP8 ", 4) == 0) {
    if (d[23] != 0x9D || d[24] != 0x01 || d[25] != 0x2A) return fail(reason, "corrupt WebP (bad lossy start code)");
    h.width = le16(d + 26) & 0x3FFF;
    h.height = le16(d + 28) & 0x3FFF;
  } else {
    return fail(reason, "corrupt WebP (unknown first chunk)");
  }
  return true;
}

}  // namespace

bool read_image_header(const uint8_t* d, size_t n, ImageHeader& h, std::string& reason) {
  h = ImageHeader{};
  bool ok;
  if (n == 0) return fail(reason, "empty file (0 bytes)");
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) {
    h.format = "png";
    ok = png(d, n, h, reason);
  } else if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) {
    h.format = "jpeg";
    ok = jpeg(d, n, h, reason);
  } else if (n >= 2 && d[0] == 'B' && d[1] == 'M') {
    h.format = "bmp";
    ok = bmp(d, n, h, reason);
  } else if (n >= 8 && ((d[0] == 'I' && d[1] == 'I') || (d[0] == 'M' && d[1] == 'M')) &&
             ((d[0] == 'I' ? le16(d + 2) : be16(d + 2)) == 42 || (d[0] == 'I' ? le16(d + 2) : be16(d + 2)) == 43)) {
    h.format = "tiff";
    ok = tiff(d, n, h, reason);
  } else if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) {
    h.format = "webp";
    ok = webp(d, n, h, reason);
  } else {
    // Path and reason only: a list entry or link may reach a file outside the
    // source (a key, a password file) and its bytes must not reach the logs.
    return fail(reason, fmt("not a supported image (JPEG, PNG, BMP, TIFF, WebP): ", n, " bytes"));
  }
  if (ok && (h.width <= 0 || h.height <= 0))
    return fail(reason, fmt("corrupt image (", h.format, " header says ", h.width, " x ", h.height, " pixels)"));
  return ok;
}

}  // namespace distclust
