#include "distclust/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "distclust/error.h"
#include "distclust/log.h"

namespace distclust {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

namespace {
/// DISTCLUST_PROGRESS_SECONDS, or 10. A value that is not a number >= 0
/// (0: no progress lines) is said once (by rank 0) and 10 is used: atof
/// read "abc" as 0 and turned progress off without a word.
double default_interval(bool say) {
  const char* e = std::getenv("DISTCLUST_PROGRESS_SECONDS");
  if (e == nullptr || *e == '\0') return 10.0;
  char* end = nullptr;
  const double v = std::strtod(e, &end);
  if (end != e && *end == '\0' && std::isfinite(v) && v >= 0) return v;
  static bool said = false;
  if (say && !said) {
    said = true;
    std::fprintf(stderr, "distclust: DISTCLUST_PROGRESS_SECONDS='%s' is not a number of seconds >= 0: using 10\n", e);
  }
  return 10.0;
}
}  // namespace

Progress::Progress(std::string what, std::string unit, int64_t total, bool rank0, double interval_seconds)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      interval_(interval_seconds < 0 ? default_interval(rank0) : interval_seconds),
      on_(rank0 && interval_ > 0) {
  // mpirun hands its ranks a pseudo-terminal even when its own output goes
  // to a file, so under a launcher isatty() says nothing about the reader:
  // plain lines there (batch logs must not fill with carriage returns).
  const bool launched = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") ||
                        std::getenv("PMI_RANK") || std::getenv("SLURM_PROCID");
  // A dumb terminal (an editor's shell) shows the erase-line code as text.
  const char* term = std::getenv("TERM");
  tty_ = on_ && !launched && isatty(STDOUT_FILENO) && !(term && std::string(term) == "dumb");
  t0_ = last_ = Clock::now();
}

void Progress::update_partial(double done) {
  if (!on_) return;
  auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  print(done, std::chrono::duration<double>(now - t0_).count());
}

void Progress::update(int64_t done) { update_partial(double(done)); }  // exact below 2^53

std::string progress_line(const std::string& what, const std::string& unit, double done, int64_t total, double secs) {
  const double rate = secs > 0 ? done / secs : 0;
  const double pct = total > 0 ? 100.0 * done / double(total) : 100.0;
  // Whole counts as integers (as before); a partial count with one decimal.
  const std::string count = done == std::floor(done) ? fmt(int64_t(done)) : fmt(std::lround(done * 10) / 10.0);
  // Three significant digits: one decimal printed a slow stage's 0.03
  // iterations/s as "0".
  char r[32];
  if (rate >= 100)
    std::snprintf(r, sizeof(r), "%lld", (long long)std::llround(rate));
  else
    std::snprintf(r, sizeof(r), "%.3g", rate);
  // Extrapolated from under 1% of the work, an ETA is mostly the set-up
  // before it: "ETA 182:39:46" 18 s into a 2-minute GMM (its k-means init).
  const bool enough = total > 0 && done >= 0.01 * double(total);
  return fmt(what, ": ", count, "/", total, " ", unit, " (", std::lround(pct * 10) / 10.0, "%), ", r, " ", unit,
             "/s, ETA ", rate > 0 && enough ? clock_text((double(total) - done) / rate) : std::string("?"));
}

void Progress::restart_clock() { t0_ = Clock::now(); }

void Progress::print(double done, double secs) {
  const std::string line = progress_line(what_, unit_, done, total_, secs);
  if (tty_ && log::level() <= log::Level::info) {  // -q: nothing on the terminal
    std::printf("\r%s\033[K", line.c_str());
    std::fflush(stdout);
    open_line_ = true;
  } else {
    log::info(line);
  }
}

double Progress::elapsed() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }

void Progress::finish() {
  if (open_line_) {
    std::printf("\n");
    std::fflush(stdout);
    open_line_ = false;
  }
}

}  // namespace distclust
