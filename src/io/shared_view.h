// The ranks of a job on several nodes must see one file system for their
// inputs and outputs. A path on node-local storage (/tmp, /scratch,
// /dev/shm) gives each node its own file of that name: the ranks then
// clustered different data without a word, committed a stale local copy as
// the output, or hung in the collective create of a file the others could
// not see. These collective checks turn that into one clear error.
#pragma once

#include <string>

#include "distclust/comm.h"

namespace distclust {

/// Collective. Every rank opens `path` itself (on NFS an open revalidates
/// the cached attributes) and the ranks compare what they see: absent, not
/// a regular file, or its size and a hash of 16 sampled 4 KiB blocks (not
/// its time: identical copies staged on each node's disk are one input).
/// Retried for up to 10 s; then throws on every rank, naming the ranks that
/// see another file than rank 0 and what each sees. One rank: nothing to
/// compare.
void require_same_file_on_ranks(const std::string& path, Communicator& comm, const std::string& what);

/// Collective, before every rank creates `path` together (a parallel HDF5
/// file): rank 0 removes a stale `path` (said by name when it cannot; a
/// folder there is refused) and makes it afresh holding a token unique to
/// this job; every other rank reads the token back (retried for up to
/// 10 s). Throws on every rank when one does not see it. One rank: only the
/// stale file is removed.
void require_shared_output(const std::string& path, Communicator& comm);

}  // namespace distclust
