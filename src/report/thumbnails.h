// Internal to src/report: small preview images of the rows a report shows.
// Only those rows' files are read, decoded with the pipeline's own decoder
// (decode.h: signature sniffing, size caps, decompression-bomb guard), and
// written to OUT/thumbs/ in parallel (OpenMP).
#pragma once

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

namespace distclust::report {

/// One row's thumbnail, or why there is none.
struct Thumb {
  bool ok = false;
  std::string file;  ///< relative to the report folder: "thumbs/r000000123.png"
  int width = 0;     ///< pixels of the written image
  int height = 0;
  std::string reason;  ///< why !ok ("cannot open ...", "truncated JPEG ...")
  /// Writing the thumbnail failed: the report's fault (a full disk), not the
  /// image's; make_thumbnails throws it rather than show a placeholder.
  std::string write_error;
};

/// Limits on what is read for a thumbnail.
struct ThumbLimits {
  int64_t max_file_bytes = 256LL << 20;  ///< larger files are not read
  int64_t max_pixels = 100'000'000;      ///< larger images (by header) are not decoded
};

/// rgb (CV_8UC3, RGB) scaled to fit `size` x `size`, keeping its aspect
/// ratio; never enlarged (the page scales small images up, crisply).
cv::Mat fit_thumbnail(const cv::Mat& rgb, int size);

/// For each (rows[i], paths[i]) with a non-empty path: reads the file,
/// decodes it, writes DIR/thumbs/rROW.png (when it fits in `size` already:
/// lossless and small) or .jpg. Never throws for a bad image: the result
/// says why. Throws Error when a thumbnail cannot be written (counted as an
/// unreadable image, a full disk gave a report of placeholders). paths are
/// used as given (resolve them first).
std::vector<Thumb> make_thumbnails(const std::vector<int64_t>& rows, const std::vector<std::string>& paths,
                                   const std::string& dir, int size, const ThumbLimits& limits = {});

}  // namespace distclust::report
