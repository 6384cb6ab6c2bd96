// MPI communicator over host buffers (MPI_COMM_WORLD duplicated so library
// traffic never mixes with the user's).
#pragma once
#include <mpi.h>

#include "distclust/comm.h"

namespace distclust {

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator();
  ~MpiCommunicator() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string name() const override { return "mpi"; }
  void allreduce_sum(void* buf, size_t count, DType t) override;
  void allreduce_max(void* buf, size_t count, DType t) override;
  void broadcast(void* buf, size_t bytes, int root) override;
  void reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) override;
  void allgather_blocks(void* buf, const std::vector<size_t>& counts, DType t) override;
  void allgatherv(const void* send, size_t send_bytes, std::vector<uint8_t>& recv,
                  std::vector<size_t>& counts) override;
  void sendrecv(const void* send, size_t send_bytes, int dest, void* recv, size_t recv_bytes,
                int src) override;
  void barrier() override;
  [[noreturn]] void abort(const std::string& msg, int code) override;

  MPI_Comm mpi_comm() const { return comm_; }

 private:
  void allreduce(void* buf, size_t count, DType t, MPI_Op op);
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
};

MPI_Datatype mpi_type(DType t);

}  // namespace distclust
