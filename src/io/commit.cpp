#include "io/commit.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/fault.h"
#include "core/stop_note.h"
#include "distclust/error.h"
#include "io/durable.h"
#include "io/input_watch.h"

namespace distclust {

void commit_output(const std::string& tmp, const std::string& out, const std::string& close_error,
                   Communicator& comm, bool note, bool keep_tmp) {
  // Each rank syncs the file (its node's cached part of it) before the
  // ranks agree: a file server that takes the data only now (NFS) says a
  // full disk here, and the name below must not come before the data.
  std::string why = close_error;
  if (why.empty())
    if (const int e = sync_file(tmp)) why = fmt("syncing ", tmp, " failed: ", std::strerror(e));
  int64_t failed = why.empty() ? 0 : 1;
  failed = comm.max(failed);
  // A stage's output records its inputs' identities: an input replaced
  // meanwhile would be recorded as the source of results it is not.
  const std::string changed = failed || !note ? std::string() : changed_inputs(comm);
  if (!changed.empty()) {
    if (comm.rank() == 0) std::remove(tmp.c_str());
    throw Error(fmt(changed, "; ", out, " was not written (run the stage again)"));
  }
  // From here a stop's message depends on whether the rename happened
  // (the signal handler looks for tmp): "not committed" was said of an
  // output renamed a moment before the signal.
  if (!failed && note) stop_note_committing(out, tmp);
  std::string rename_error;
  if (!failed && comm.rank() == 0) {
    if (std::rename(tmp.c_str(), out.c_str()) != 0)
      rename_error = fmt("cannot rename ", tmp, " to ", out, ": ", std::strerror(errno));
    else
      if (note) fault_signal_point("DISTCLUST_FAULT_SIGNAL_AT", "renamed");  // the tests' stop in this window
  }
  int64_t renamed = rename_error.empty() ? 1 : 0;
  comm.broadcast(&renamed, sizeof(renamed), 0);
  if (!failed && renamed) {
    if (comm.rank() == 0) sync_parent_folder(out);
    if (note) stop_note_renamed(out);
    return;
  }
  if (note) stop_note_clear();
  if (comm.rank() == 0 && !keep_tmp) std::remove(tmp.c_str());
  const std::string kept = keep_tmp ? fmt(" (", tmp, " is kept: the same command resumes from it)") : "";
  if (!why.empty()) throw Error(fmt(why, "; ", out, " was not written", kept));
  if (!rename_error.empty()) throw Error(rename_error);
  throw EchoError(fmt("writing ", tmp, " failed on another rank; ", out, " was not written", kept));
}

}  // namespace distclust
