// Committing an output file: NAME.tmp becomes NAME only when every rank has
// closed its part without error. HDF5 keeps small datasets and metadata in
// memory until the file is closed, so a full disk often shows up only at
// close: the result of the close is checked on every rank, the ranks agree,
// and only then does rank 0 rename. Otherwise NAME.tmp is removed and every
// rank throws, the failing rank with the cause (a file that exists is whole).
#pragma once

#include <string>

#include "distclust/comm.h"

namespace distclust {

/// Collective. close_error: "" when this rank closed its part cleanly, else
/// why not. Throws Error on every rank when any rank failed or the rename
/// failed; NAME.tmp is then removed, unless keep_tmp (extract's NAME.tmp,
/// its checkpoint: a full disk at its close must not cost the rows it
/// holds; a resume checks it). note: a stage's output (not a checkpoint),
/// which a stop message then says is whole (core/stop_note.h).
void commit_output(const std::string& tmp, const std::string& out, const std::string& close_error,
                   Communicator& comm, bool note = true, bool keep_tmp = false);

}  // namespace distclust
