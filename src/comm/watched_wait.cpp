#include "comm/watched_wait.h"

#include "comm/collective_watch.h"
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "comm/collective_watch.h"
#include "distclust/error.h"
#include "distclust/log.h"

namespace distclust {

void watched_wait(const std::string& what, const WatchedWork& work, double timeout_s, double warn_s,
                  double stopped_s) {
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now(), last = t0;
  bool warned = false;
  for (long polls = 0;; ++polls) {
    // A poll lasts microseconds to a millisecond (the queries do not block):
    // a far longer gap between two means that the process did not run.
    const auto now = clock::now();
    if (std::chrono::duration<double>(now - last).count() > stopped_s) t0 += now - last;
    last = now;
    if (work.done()) return;
    if (const std::string f = work.failure(); !f.empty()) {
      work.give_up();
      throw Error(fmt(what, " failed: ", f, " (", where(), ")"));
    }
    const double waited = std::chrono::duration<double>(now - t0).count();
    if (timeout_s > 0 && waited > timeout_s) {
      work.give_up();
      throw Error(fmt(what, " did not finish in ", timeout_s, " s (", where(),
                      "): a rank stopped taking part (it died without MPI_Abort, or is stuck elsewhere); ",
                      collective_timeout_variable(), " sets the limit in seconds (0 = none)"));
    }
    if (!warned && warn_s > 0 && waited > warn_s) {
      log::warn(what, ": waiting ", int(waited), " s for the other ranks (gives up after ",
                timeout_s > 0 ? fmt(timeout_s, " s") : fmt("no limit: ", collective_timeout_variable(), "=0"), ")");
      warned = true;
    }
    if (polls > 4000) std::this_thread::sleep_for(std::chrono::microseconds(polls > 40000 ? 1000 : 50));
  }
}

double seconds_from_env(const char* name, double dflt, double min_nonzero, const char* zero_means) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  require(*end == '\0' && std::isfinite(s) && (s == 0 || s >= min_nonzero), name, "='", v,
          "' is not a number of seconds >= ", min_nonzero, " (0 = ", zero_means, ")");
  return s;
}

}  // namespace distclust
