// The ring of blocks: at step s rank r holds the row block of rank
// (r - s) mod P, and passes it on to r + 1 while it computes with it.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "distclust/comm.h"
#include "distclust/search.h"
#include "extract/features_file.h"

namespace distclust {

/// A block of rows travelling round the ring.
struct RingBlock {
  int origin = 0;               ///< rank whose rows these are
  RowRange rows;                ///< their global rows
  const float* x = nullptr;     ///< [rows x d]: host memory, or a device block of ring_pass's kernel
  const uint8_t* valid = nullptr;  ///< [rows], host memory
};

/// Calls visit(block, step) for steps first..end-1 (end: P when < 0), the
/// block of step s coming from rank (r - s) mod P. The transfer of the next
/// block overlaps visit() when MPI allows threads (MPI_THREAD_MULTIPLE),
/// else follows it.
/// kernel (optional): when it offers device blocks (SearchKernel::
/// alloc_block) on every rank, the rows travel in two of them (double
/// buffered: the next block is received into the spare one while visit()
/// computes on the current one; a GPU with NCCL: device to device), and
/// block.x is a device block, for that kernel's search calls only. The
/// valid bytes travel on the host. Without, or when not offered: host rows.
void ring_pass(const FeatureBlock& mine, Communicator& comm, int first_step,
               const std::function<void(const RingBlock&, int step)>& visit, int end = -1,
               SearchKernel* kernel = nullptr);

}  // namespace distclust
