#include "report/thumbnails.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "extract/decode.h"
#include "distclust/error.h"
#include "distclust/progress.h"
#include "io/text_file.h"

namespace fs = std::filesystem;

namespace distclust::report {

cv::Mat fit_thumbnail(const cv::Mat& rgb, int size) {
  int w = rgb.cols, h = rgb.rows;
  if (w <= size && h <= size) return rgb;
  double s = double(size) / std::max(w, h);
  cv::Size to(std::max(1, int(w * s + 0.5)), std::max(1, int(h * s + 0.5)));
  cv::Mat out;
  cv::resize(rgb, out, to, 0, 0, cv::INTER_AREA);  // area averaging: no aliasing when shrinking
  return out;
}

namespace {

bool read_file(const std::string& path, int64_t max_bytes, std::vector<uint8_t>& out, std::string& reason) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  // (A folder on the way this user may not enter is not "not found".)
  if (ec && ec != std::errc::no_such_file_or_directory) return reason = ec.message(), false;
  if (ec || !fs::exists(st)) return reason = "file not found", false;
  if (!fs::is_regular_file(st)) return reason = "not a regular file", false;
  auto size = fs::file_size(path, ec);
  if (ec) return reason = "cannot stat: " + ec.message(), false;
  if (int64_t(size) > max_bytes) return reason = fmt("file is ", size, " bytes (limit ", max_bytes, ")"), false;
  std::ifstream f(path, std::ios::binary);
  if (!f) return reason = fmt("cannot open: ", std::strerror(errno)), false;
  out.resize(size);
  if (size && !f.read(reinterpret_cast<char*>(out.data()), std::streamsize(size))) return reason = "read failed", false;
  return true;
}

/// Writes bytes to path; "" or the system's reason (cv::imwrite says only
/// false, and a full disk read as an unreadable image).
std::string write_whole(const std::string& path, const std::vector<uchar>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return std::strerror(errno);
  if (const int e = write_all(fd, bytes.data(), bytes.size())) {
    ::close(fd);
    return std::strerror(e);
  }
  return ::close(fd) == 0 ? "" : std::strerror(errno);
}

Thumb one(int64_t row, const std::string& path, const std::string& dir, int size, const ThumbLimits& lim) {
  Thumb t;
  std::vector<uint8_t> bytes;
  if (!read_file(path, lim.max_file_bytes, bytes, t.reason)) return t;
  DecodeParams dp;
  dp.max_pixels = lim.max_pixels;
  DecodeResult d = decode_image(bytes, dp);
  if (!d.ok) return t.reason = d.reason, t;
  try {
    cv::Mat small = fit_thumbnail(d.rgb, size), bgr;
    cv::cvtColor(small, bgr, cv::COLOR_RGB2BGR);
    bool lossless = d.rgb.cols <= size && d.rgb.rows <= size;
    char name[48];
    std::snprintf(name, sizeof(name), "thumbs/r%09lld.%s", static_cast<long long>(row), lossless ? "png" : "jpg");
    std::vector<int> opts;
    if (!lossless) opts = {cv::IMWRITE_JPEG_QUALITY, 88};
    std::vector<uchar> enc;
    if (!cv::imencode(lossless ? ".png" : ".jpg", bgr, enc, opts)) return t.reason = "cannot encode the thumbnail", t;
    const std::string file = (fs::path(dir) / name).string();
    if (const std::string why = write_whole(file, enc); !why.empty())
      return t.write_error = fmt("report: writing ", file, " failed: ", why, disk_space_note(file)), t;
    t.ok = true;
    t.file = name;
    t.width = bgr.cols;
    t.height = bgr.rows;
  } catch (const cv::Exception& e) {
    t.reason = std::string("OpenCV: ") + e.what();
  }
  return t;
}

}  // namespace

std::vector<Thumb> make_thumbnails(const std::vector<int64_t>& rows, const std::vector<std::string>& paths,
                                   const std::string& dir, int size, const ThumbLimits& limits) {
  require(rows.size() == paths.size(), "make_thumbnails: ", rows.size(), " rows but ", paths.size(), " paths");
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "thumbs", ec);
  require(!ec, "cannot create ", (fs::path(dir) / "thumbs").string(), ": ", ec.message());
  std::vector<Thumb> out(rows.size());
  const int64_t n = static_cast<int64_t>(rows.size());
  // Large images make thousands of thumbnails a minute or two of work: a
  // progress line as every long step prints (it was silent).
  Progress progress("report thumbnails", "images", n, true);
  std::atomic<int64_t> done{0};
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < n; ++i) {
    if (!paths[i].empty()) {
      try {
        out[i] = one(rows[i], paths[i], dir, size, limits);
      } catch (const std::exception& e) {  // e.g. bad_alloc on a huge file: one placeholder, not a crash
        out[i].reason = e.what();
      }
    }
    const int64_t d = ++done;
    if (omp_get_thread_num() == 0) progress.update(d);
  }
  progress.update(n);  // the last line says 100% (thread 0 may not have counted the last)
  for (const Thumb& t : out) require(t.write_error.empty(), t.write_error);
  progress.finish();
  return out;
}

}  // namespace distclust::report
