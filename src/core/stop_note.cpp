#include "core/stop_note.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "core/fault.h"

namespace distclust {
namespace {

// Two paths of up to PATH_MAX and the words around them.
char g_text[2 * 4096 + 512];
// The text's length, 0 for none: stored (release) only once g_text is whole
// and cleared before it changes, so a handler on any thread (acquire) never
// reads a half-written text (a stop during a rewrite itself may print a
// mixed text, never past the buffer). A lock-free atomic is async-signal-safe.
std::atomic<int> g_len{0};
// While an output is renamed: its NAME.tmp. The note holds only once that
// is gone (access(2) is async-signal-safe).
char g_tmp[4096 + 1];
std::atomic<bool> g_pending{false};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler reads g_len");

void set_note(int w) {
  if (w > 0 && size_t(w) < sizeof g_text) g_len.store(w, std::memory_order_release);  // too long: no note
}

}  // namespace

void stop_note_committed(const std::string& out) {
  g_len.store(0, std::memory_order_release);  // the handler stops reading g_text before it changes
  g_pending.store(false, std::memory_order_release);
  set_note(std::snprintf(g_text, sizeof g_text, " after %s was committed: it is whole and in place\n", out.c_str()));
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "committed");  // the tests' stop at this exact point
}

void stop_note_renamed(const std::string& out) {
  if (!g_pending.load(std::memory_order_acquire)) return stop_note_committed(out);  // committing set no note
  // stop_note_committing's text holds as it is (a rewrite would leave a
  // moment with no note, "not committed"); only the check of NAME.tmp ends.
  g_pending.store(false, std::memory_order_release);
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "committed");
}

void stop_note_committing(const std::string& out, const std::string& tmp) {
  g_len.store(0, std::memory_order_release);
  if (tmp.size() >= sizeof g_tmp) return;  // no note: the default message
  std::snprintf(g_tmp, sizeof g_tmp, "%s", tmp.c_str());
  g_pending.store(true, std::memory_order_release);
  set_note(std::snprintf(g_text, sizeof g_text, " after %s was committed: it is whole and in place\n", out.c_str()));
}

void stop_note_replacing(const std::string& out, const std::string& old) {
  g_len.store(0, std::memory_order_release);
  g_pending.store(false, std::memory_order_release);
  set_note(std::snprintf(g_text, sizeof g_text,
                         " after %s was committed: it is the new output, whole; %s holds the copy it "
                         "replaced, partly deleted (the next run removes it, or rm -r it)\n",
                         out.c_str(), old.c_str()));
}

void stop_note_clear() {
  g_len.store(0, std::memory_order_release);
  g_pending.store(false, std::memory_order_release);
}

const char* stop_note_text(size_t* len) {
  const int n = g_len.load(std::memory_order_acquire);
  // Renaming: committed only once NAME.tmp is gone.
  const bool not_yet = n > 0 && g_pending.load(std::memory_order_acquire) && access(g_tmp, F_OK) == 0;
  *len = not_yet ? 0 : size_t(n);
  return n > 0 && !not_yet ? g_text : nullptr;
}

}  // namespace distclust
