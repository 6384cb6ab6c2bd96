// Logging: one line per message, prefixed with elapsed time, rank and host.
// Rank 0 prints info to stdout; every rank prints warnings and errors to
// stderr; an optional per-rank log file receives everything from its rank.
#pragma once

#include <string>

#include "distclust/error.h"

namespace distclust::log {

/// debug: DISTCLUST_LOG=debug. detail: per-iteration, per-epoch and timing
/// breakdowns (the rank logs always; the terminal with -v). info: a line or
/// two per stage and the summary (the terminal by default). -q: errors only.
enum class Level { debug = 0, detail = 1, info = 2, warn = 3, error = 4 };

/// Sets this process' rank/size/host for the prefix (called after MPI_Init).
void set_identity(int rank, int size);
/// Minimum level printed to the terminal (default info; DISTCLUST_LOG=debug|
/// detail|warn|error; -v = detail, -q = error). Rank log files get everything.
void set_level(Level level);
Level level();
/// Opens DIR/rank-R.log for this rank; every message of the rank goes there.
void open_rank_file(const std::string& dir);
/// The rank file as a descriptor opened for appending, for a signal
/// handler's write(2); -1 when there is none. Async-signal-safe.
int rank_file_fd();
/// "[  signal rR HOST] ": the prefix of a line a signal handler writes
/// (it cannot format a time). Set with the identity; a fixed buffer.
const char* signal_line_prefix();

void write(Level level, bool all_ranks, const std::string& msg);

/// Rank 0 only, to stdout.
template <class... A> void info(const A&... a) { write(Level::info, false, fmt(a...)); }
/// Rank 0 only: per-iteration / per-epoch lines (terminal with -v).
template <class... A> void detail(const A&... a) { write(Level::detail, false, fmt(a...)); }
/// Rank 0 only, when DISTCLUST_LOG=debug.
template <class... A> void debug(const A&... a) { write(Level::debug, false, fmt(a...)); }
/// Any rank, to stderr.
template <class... A> void warn(const A&... a) { write(Level::warn, true, fmt(a...)); }
/// Whether this process has not yet printed `msg` through warn_once (and
/// now records it).
bool first_time(const std::string& msg);
/// Rank 0 only, to stderr, once per process for the same text: for what a
/// setup step finds alike on every rank, which runs more than once (an image
/// folder is listed for the config hash and again for the work).
template <class... A> void warn_once(const A&... a) {
  const std::string msg = fmt(a...);
  if (first_time(msg)) write(Level::warn, false, msg);
}
/// Any rank, to stderr.
template <class... A> void error(const A&... a) { write(Level::error, true, fmt(a...)); }

}  // namespace distclust::log
