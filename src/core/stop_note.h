// What a stop signal's message (cli/stop_signals.h) says about the output in
// progress. By default that it was not committed; but a SIGTERM can come
// after the commit (while the ranks shut down, after `run`'s last stage, or
// while an output folder's replaced copy is deleted: up to a second for
// 50,000 links), and "not committed" then made users delete or redo a
// result that was whole. The writers keep the note true: cleared when a
// stage starts or an output is opened, set when an output is committed.
#pragma once

#include <cstddef>
#include <string>

namespace distclust {

/// Until the next call: `out` is committed and whole, nothing is being written.
/// (DISTCLUST_FAULT_SIGNAL_AT=committed raises SIGTERM here: core/fault.h.)
void stop_note_committed(const std::string& out);
/// Until the next call: `out` is committed and whole, and `old` holds the
/// copy it replaced, being deleted.
void stop_note_replacing(const std::string& out, const std::string& old);
/// Until the next call: `tmp` is being renamed to `out`. The note then is
/// stop_note_committed's once `tmp` is gone (the handler checks), else none.
void stop_note_committing(const std::string& out, const std::string& tmp);
/// After stop_note_committing(out, tmp): the rename is done; from now on
/// stop_note_committed(out)'s note, without a moment of none between.
void stop_note_renamed(const std::string& out);
/// A stage started or an output is being written: the default message.
void stop_note_clear();

/// For a signal handler (async-signal-safe): the note's text, which follows
/// "distclust: stopped by SIGNAME", and its length; nullptr when none is set.
const char* stop_note_text(size_t* len);

}  // namespace distclust
