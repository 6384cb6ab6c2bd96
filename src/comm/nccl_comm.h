// NCCL communicator (built only with CUDA + NCCL). Collectives accept device
// or host pointers (allreduce and broadcast stage host buffers through the
// GPU in 64 MiB pieces; the block collectives and sendrecv send them over
// MPI); allgatherv and barrier go over the MPI base.
#pragma once
#include <memory>

#include "comm/mpi_comm.h"

namespace distclust {

class NcclCommunicator final : public MpiCommunicator {
 public:
  /// device: the CUDA device of this rank's buffers (-1: local rank % visible GPUs).
  explicit NcclCommunicator(int device = -1);
  ~NcclCommunicator() override;
  std::string name() const override { return "nccl"; }
  void allreduce_sum(void* buf, size_t count, DType t) override;
  void allreduce_max(void* buf, size_t count, DType t) override;
  void broadcast(void* buf, size_t bytes, int root) override;
  void reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) override;
  void allgather_blocks(void* buf, const std::vector<size_t>& counts, DType t) override;
  void sendrecv(const void* send, size_t send_bytes, int dest, void* recv, size_t recv_bytes,
                int src) override;
  /// CUDA device ordinal this rank uses.
  int device() const;

 private:
  void reduce(void* buf, size_t count, DType t, bool max);
  // Whether p is device memory (of this rank's GPU: another GPU's is an
  // error); sets the calling thread's device first.
  bool on_device(const void* p) const;
  // Waits for the stream's work, giving up on an NCCL error or a peer that
  // never joins (DISTCLUST_COLLECTIVE_TIMEOUT): comm/watched_wait.h.
  void wait(const char* what);
  // Copies a staged result [bytes] back to the caller's host buffer (after wait).
  void copy_back(void* host, const void* device, size_t bytes);
  // A host buffer h [bytes] through the staging buffer in pieces of whole
  // elements (es bytes each): uploads a piece when upload, queues call(d, n)
  // on its n bytes at d, waits, copies it back.
  template <class F> void staged(uint8_t* h, size_t bytes, size_t es, bool upload, const char* what, F call);
  // One grouped rooted call per non-empty block r: call(offset, count, r).
  template <class F> void per_block(const std::vector<size_t>& counts, const char* what, F call);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace distclust
