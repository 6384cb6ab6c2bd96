// The progress line of a long stage on rank 0: count done, rate and ETA.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace distclust {

/// Prints "WHAT: 1200/10000 UNIT (12.0%), 310 UNIT/s, ETA 0:28" on rank 0:
/// rewritten in place on a terminal, one plain line per interval otherwise
/// (logs, batch jobs). The caller supplies job-wide counts. The interval
/// defaults to 10 s; DISTCLUST_PROGRESS_SECONDS overrides the default.
class Progress {
 public:
  /// total: units this run computes (all ranks); interval 0 = silent,
  /// negative = the default.
  Progress(std::string what, std::string unit, int64_t total, bool rank0, double interval_seconds = -1);
  /// done: units computed so far (all ranks). Prints when the interval passed.
  void update(int64_t done);
  /// As update, for a count with a fraction (an iteration part done),
  /// printed with one decimal.
  void update_partial(double done);
  /// Ends a terminal line (newline) if one is open.
  void finish();
  /// Seconds since construction (or restart_clock).
  double elapsed() const;
  /// The counted work starts now: set-up done since construction (an
  /// initialisation before the first iteration) stays out of the rate.
  void restart_clock();

 private:
  using Clock = std::chrono::steady_clock;
  void print(double done, double secs);
  std::string what_, unit_;
  int64_t total_;
  double interval_;
  bool on_ = false, tty_ = false, open_line_ = false;
  Clock::time_point t0_, last_;
};

/// The line Progress prints: "WHAT: 1200/10000 UNIT (12%), 310 UNIT/s, ETA 0:28"
/// (rate to three significant digits; ETA "?" before 1% of total is done).
std::string progress_line(const std::string& what, const std::string& unit, double done, int64_t total, double secs);

/// "1:02:03" or "2:03" for seconds; "?" when unknown.
std::string clock_text(double seconds);

}  // namespace distclust
