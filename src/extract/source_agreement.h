// Every rank lists the image source itself (a folder walk, a list file read).
// Ranks that saw different listings (images copied in while the job started,
// a node's stale NFS directory cache) sized OUT.tmp differently in parallel
// HDF5's collective create and hung there until the time limit; with equal
// counts but other names, rows were dropped or doubled at the shard
// boundaries. So the ranks compare their listings before any of that.
#pragma once

#include <cstdint>
#include <string>

#include "distclust/comm.h"
#include "extract/image_source.h"

namespace distclust {

/// A 64-bit fingerprint of the listing: its size, then each row's listed
/// id (as given, not made absolute) and label in row order (FNV-1a).
uint64_t listing_fingerprint(const ImageSource& src);

/// Collective: returns when every rank lists the same ids and labels in the
/// same order; otherwise throws the same Error on every rank, naming the
/// source (`name`: as the user gave it) and each rank's count (ranks that
/// agree with rank 0 are not named).
void require_same_listing(const ImageSource& src, const std::string& name, Communicator& comm);

}  // namespace distclust
