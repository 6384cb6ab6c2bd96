// Size-1 communicator: every collective is a copy or a no-op.
#pragma once
#include "distclust/comm.h"

namespace distclust {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string name() const override { return "local"; }
  void allreduce_sum(void*, size_t, DType) override {}
  void allreduce_max(void*, size_t, DType) override {}
  void broadcast(void*, size_t, int) override {}
  void reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) override;
  void allgather_blocks(void*, const std::vector<size_t>&, DType) override {}
  void allgatherv(const void* send, size_t send_bytes, std::vector<uint8_t>& recv,
                  std::vector<size_t>& counts) override;
  void sendrecv(const void* send, size_t send_bytes, int dest, void* recv, size_t recv_bytes,
                int src) override;
  void barrier() override {}
  [[noreturn]] void abort(const std::string& msg, int code) override;
};

}  // namespace distclust
