// Internal to src/extract: the progress line of a long job on rank 0.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace distclust::extract {

/// Prints "extract: 1200/10000 images (12.0%), 310 images/s, ETA 0:28" on
/// rank 0: rewritten in place on a terminal, one plain line per interval
/// otherwise (logs, batch jobs). The caller supplies the job-wide count.
class Progress {
 public:
  /// total: images this run computes (all ranks); interval 0 = silent.
  Progress(std::string what, int64_t total, double interval_seconds, bool rank0);
  /// done: images computed so far (all ranks). Prints when the interval passed.
  void update(int64_t done);
  /// Ends a terminal line (newline) if one is open.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void print(int64_t done, double secs);
  std::string what_;
  int64_t total_;
  double interval_;
  bool on_ = false, tty_ = false, open_line_ = false;
  Clock::time_point t0_, last_;
};

/// "1:02:03" or "2:03" for seconds.
std::string clock_text(double seconds);

}  // namespace distclust::extract
