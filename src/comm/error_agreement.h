// When a command fails, did every rank fail? A config error or a bad input
// fails on every rank at once: then rank 0 prints each distinct message once
// and all ranks exit normally (no MPI_Abort, no Open MPI banner, no N copies
// of the same line). A failure on some ranks only still ends the job within
// seconds: the ranks still working never join, and the failed ones abort.
#pragma once

#include <string>

namespace distclust {

/// On every rank right after MPI_Init (collective): duplicates
/// MPI_COMM_WORLD into a communicator only all_ranks_failed() uses, so that
/// no collective of a stage can be matched by it.
void init_error_agreement();

/// Called by a rank whose command failed with `msg`. Waits up to `seconds`
/// for every rank to call it too (a non-blocking barrier on that
/// communicator). true: all failed; the messages were gathered and rank 0
/// printed each distinct one once (with the ranks that gave it when they
/// differ); the caller exits without MPI_Abort. false (some rank is still
/// working, or MPI is not running): the caller prints `msg` and aborts.
/// `echo`: msg only repeats another rank's failure (EchoError); printed
/// only when no rank gave a cause. Messages print in order of their first rank.
bool all_ranks_failed(const std::string& msg, double seconds, bool echo = false);

}  // namespace distclust
