#include "cli/stop_signals.h"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "core/stop_note.h"
#include "distclust/log.h"
#include "io/abort_cleanup.h"

namespace distclust::cli {
namespace {

struct Note {
  int sig;
  const char* name;
  char text[320];
  size_t len;
  size_t prefix_len;  ///< of "distclust: stopped by SIGNAME", which core/stop_note.h's text may follow
};
Note g_notes[] = {{SIGTERM, "SIGTERM", {0}, 0, 0}, {SIGINT, "SIGINT", {0}, 0, 0}, {SIGHUP, "SIGHUP", {0}, 0, 0}};
bool g_say = false;  ///< on the terminal: rank 0 only

/// The note, or its signal's prefix and core/stop_note.h's text, to fd.
void write_note(int fd, const Note& n, const char* note, size_t note_len) {
  if (note) {
    (void)!write(fd, n.text, n.prefix_len);
    (void)!write(fd, note, note_len);
  } else {
    (void)!write(fd, n.text, n.len);
  }
}

void on_stop(int sig) {
  // Only async-signal-safe calls: write(2), unlink(2), then the default action.
  size_t note_len = 0;
  const char* note = stop_note_text(&note_len);
  for (const Note& n : g_notes) {
    if (n.sig != sig || !n.len) continue;
    if (g_say) write_note(STDERR_FILENO, n, note, note_len);
    // Every rank's log ends with it: under mpirun in a batch job the
    // terminal's copy can be lost (mpirun, signalled too, exits before it
    // forwards rank 0's last line), and the logs are the post-mortem.
    if (const int fd = log::rank_file_fd(); fd >= 0) {
      const char* prefix = log::signal_line_prefix();
      (void)!write(fd, prefix, std::strlen(prefix));
      write_note(fd, n, note, note_len);
    }
  }
  remove_registered_files();  // the process ends now, without its destructors
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void install_stop_message(int rank) {
  g_say = rank == 0;
  for (Note& n : g_notes) {
    const int w = std::snprintf(n.text, sizeof(n.text),
                                "distclust: stopped by %s: the running stage's output was not committed; "
                                "where the stage checkpoints (NAME.ckpt; extract: NAME.tmp), the same command "
                                "resumes it\n",
                                n.name);
    n.len = w > 0 ? std::min(size_t(w), sizeof(n.text) - 1) : 0;
    n.prefix_len = std::min(n.len, std::strlen("distclust: stopped by ") + std::strlen(n.name));
    // A signal the process was started ignoring stays ignored: `nohup`
    // (SIGHUP) and a shell's background jobs (SIGINT) rely on it.
    struct sigaction old {};
    if (sigaction(n.sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction sa {};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(n.sig, &sa, nullptr);
  }
}

}  // namespace distclust::cli
