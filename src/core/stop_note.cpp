#include "core/stop_note.h"

#include <csignal>
#include <cstdio>

#include "core/fault.h"

namespace distclust {
namespace {

char g_text[1024];
volatile std::sig_atomic_t g_len = 0;  // 0: no note; set only once g_text is whole

void set_note(int w) {
  if (w > 0 && size_t(w) < sizeof g_text) g_len = w;  // a path too long for the buffer: no note
}

}  // namespace

void stop_note_committed(const std::string& out) {
  g_len = 0;  // the handler stops reading g_text before it changes
  set_note(std::snprintf(g_text, sizeof g_text, " after %s was committed: it is whole and in place\n", out.c_str()));
  fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "committed");  // the tests' stop at this exact point
}

void stop_note_replacing(const std::string& out, const std::string& old) {
  g_len = 0;
  set_note(std::snprintf(g_text, sizeof g_text,
                         " after %s was committed: it is the new output, whole; %s holds the copy it "
                         "replaced, partly deleted (the next run removes it, or rm -r it)\n",
                         out.c_str(), old.c_str()));
}

void stop_note_clear() { g_len = 0; }

const char* stop_note_text(size_t* len) {
  const std::sig_atomic_t n = g_len;
  *len = size_t(n);
  return n > 0 ? g_text : nullptr;
}

}  // namespace distclust
