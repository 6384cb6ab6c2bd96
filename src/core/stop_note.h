// What a stop signal's message (cli/stop_signals.h) says about the output in
// progress. By default that it was not committed; but an output folder that
// replaces an older one is committed by a swap, and the older copy is then
// deleted (for 50,000 links, up to a second): a SIGTERM then is after the
// commit, and "not committed" made the user think the new output was lost.
#pragma once

#include <cstddef>
#include <string>

namespace distclust {

/// From now until stop_note_clear(): `out` is committed and whole, and `old`
/// holds the copy it replaced, being deleted.
void stop_note_replacing(const std::string& out, const std::string& old);
void stop_note_clear();

/// For a signal handler (async-signal-safe): the note's text, which follows
/// "distclust: stopped by SIGNAME", and its length; nullptr when none is set.
const char* stop_note_text(size_t* len);

}  // namespace distclust
