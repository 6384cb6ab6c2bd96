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
/// the cached attributes) and the ranks compare what they see: absent, or
/// its size and modification time (seconds). Throws on every rank, naming
/// the ranks that see another file than rank 0 and what each sees. One rank:
/// nothing to compare.
void require_same_file_on_ranks(const std::string& path, Communicator& comm, const std::string& what);

/// Collective, before every rank creates `path` together (a parallel HDF5
/// file): rank 0 removes a stale `path` (said by name when it cannot) and
/// makes it afresh holding a token unique to this job; every other rank
/// reads the token back. Throws on every rank when one does not see it.
void require_shared_output(const std::string& path, Communicator& comm);

}  // namespace distclust
