#include "distclust/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>

namespace distclust::log {
namespace {
struct State {
  // Atomic: set again (the same values, or -v/-q) after the heartbeat
  // thread, which logs, has started.
  std::atomic<int> rank{0}, size{1};
  std::string host;
  std::atomic<Level> level{Level::info};
  std::ofstream file;
  std::string path;  ///< of file (--log-dir)
  std::mutex mu;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  State() {
    char h[256] = {0};
    gethostname(h, sizeof(h) - 1);
    host = h;
    const char* env = std::getenv("DISTCLUST_LOG");
    if (env && std::strcmp(env, "debug") == 0) level = Level::debug;
    if (env && std::strcmp(env, "detail") == 0) level = Level::detail;
    if (env && std::strcmp(env, "warn") == 0) level = Level::warn;
    if (env && std::strcmp(env, "error") == 0) level = Level::error;
    // A typo would silently give the default: say so (once per rank; the
    // logger cannot throw before it exists).
    if (env && *env && level == Level::info && std::strcmp(env, "info") != 0)
      std::fprintf(stderr, "distclust: DISTCLUST_LOG='%s' is not one of debug|detail|info|warn|error: using info\n", env);
  }
};
State& state() {
  static State s;
  return s;
}
/// For signal handlers, which may read these at any moment.
std::atomic<int> g_rank_fd{-1};
char g_signal_prefix[128] = "[  signal] ";
const char* tag(Level l) {
  switch (l) {
    case Level::debug: return "debug";
    case Level::detail: return "detail";
    case Level::info: return "info";
    case Level::warn: return "WARN";
    case Level::error: return "ERROR";
  }
  return "";
}
}  // namespace

void set_identity(int rank, int size) {
  state().rank = rank;
  state().size = size;
  // A stop-signal handler may read the prefix at any moment: rewritten only
  // when it changes (set again with the same rank once the job runs).
  char prefix[sizeof(g_signal_prefix)];
  std::snprintf(prefix, sizeof(prefix), "[  signal r%d %s] ", rank, state().host.substr(0, 64).c_str());
  if (std::strcmp(prefix, g_signal_prefix) != 0) std::memcpy(g_signal_prefix, prefix, sizeof(prefix));
}
int rank_file_fd() { return g_rank_fd.load(); }
const char* signal_line_prefix() { return g_signal_prefix; }
void set_level(Level level) { state().level = level; }
Level level() { return state().level; }

void open_rank_file(const std::string& dir) {
  auto& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // --log-dir logs: made if missing (errors: the open below names it)
  std::string path = dir + "/rank-" + std::to_string(s.rank.load()) + ".log";
  errno = 0;
  s.file.open(path, std::ios::app);
  const int e = errno;  // the open(2)'s reason: a read-only or missing folder said nothing more
  if (!s.file)
    throw Error(fmt("cannot open log file ", path, " for writing", e ? std::string(": ") + std::strerror(e) : "",
                    ec ? " (creating " + dir + ": " + ec.message() + ")" : ""));
  s.path = path;
  // A second descriptor on the same file, for a stop signal's last line: a
  // handler may not use the stream. O_APPEND: its line lands after the
  // stream's (flushed after every line).
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  const int old = g_rank_fd.exchange(fd);
  if (old >= 0) ::close(old);
}

bool first_time(const std::string& msg) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  return seen.insert(msg).second;
}

void write(Level level, bool all_ranks, const std::string& msg) {
  auto& s = state();
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.t0).count();
  char prefix[64];
  std::snprintf(prefix, sizeof(prefix), "[%8.2fs r%d ", t, s.rank.load());
  std::string line = std::string(prefix) + s.host + "] " +
                     (level >= Level::warn ? std::string(tag(level)) + ": " : "") + msg + "\n";
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.file.is_open()) {
    errno = 0;
    s.file << line << std::flush;
    if (!s.file) {
      // A full disk (or a lost mount) under --log-dir: say it once on the
      // terminal, then go on with the terminal only (the run is not at fault;
      // a log that silently stops is).
      const int e = errno;
      s.file.close();
      std::fprintf(stderr, "[rank %d] WARN: log file %s: writing failed (%s); this rank's log stops here\n", s.rank.load(),
                   s.path.c_str(), e ? std::strerror(e) : "stream error");
      std::fflush(stderr);
    }
  }
  if (level < s.level) return;
  if (!all_ranks && s.rank != 0) return;
  std::fputs(line.c_str(), level >= Level::warn ? stderr : stdout);
  std::fflush(level >= Level::warn ? stderr : stdout);
}

}  // namespace distclust::log
