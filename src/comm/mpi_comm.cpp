#include "comm/mpi_comm.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "comm/collective_watch.h"
#include "distclust/error.h"

namespace distclust {
namespace {
// MPI counts are int: large buffers go in chunks below INT_MAX elements.
constexpr size_t kChunk = size_t(1) << 30;
}  // namespace

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
  }
  return MPI_BYTE;
}

MpiCommunicator::MpiCommunicator() {
  DC_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
  // Errors come back as codes so DC_MPI can name the call, rank and host.
  DC_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  DC_MPI(MPI_Comm_rank(comm_, &rank_));
  DC_MPI(MPI_Comm_size(comm_, &size_));
  MPI_Comm node = MPI_COMM_NULL;
  DC_MPI(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  DC_MPI(MPI_Comm_rank(node, &local_rank_));
  DC_MPI(MPI_Comm_size(node, &local_size_));
  MPI_Comm_free(&node);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::allreduce(void* buf, size_t count, DType t, MPI_Op op) {
  CollectiveScope scope(op == MPI_SUM ? "MPI allreduce (sum)" : "MPI allreduce (max)");
  auto* p = static_cast<uint8_t*>(buf);
  const size_t es = dtype_size(t);
  for (size_t off = 0; off < count; off += kChunk) {
    int n = static_cast<int>(std::min(kChunk, count - off));
    DC_MPI(MPI_Allreduce(MPI_IN_PLACE, p + off * es, n, mpi_type(t), op, comm_));
  }
}
void MpiCommunicator::allreduce_sum(void* buf, size_t count, DType t) { allreduce(buf, count, t, MPI_SUM); }
void MpiCommunicator::allreduce_max(void* buf, size_t count, DType t) { allreduce(buf, count, t, MPI_MAX); }

void MpiCommunicator::broadcast(void* buf, size_t bytes, int root) {
  CollectiveScope scope("MPI broadcast");
  auto* p = static_cast<uint8_t*>(buf);
  for (size_t off = 0; off < bytes; off += kChunk) {
    int n = static_cast<int>(std::min(kChunk, bytes - off));
    DC_MPI(MPI_Bcast(p + off, n, MPI_BYTE, root, comm_));
  }
}

namespace {
// MPI's int counts and displacements of blocks (elements), checked.
void int_blocks(const std::vector<size_t>& counts, int size, std::vector<int>& icounts, std::vector<int>& displs,
                const std::string& call) {
  require(int(counts.size()) == size, call, ": ", counts.size(), " block counts for ", size, " ranks");
  icounts.resize(size);
  displs.resize(size);
  size_t total = 0;
  for (int r = 0; r < size; ++r) {
    require(total + counts[r] <= size_t(INT_MAX), call, ": ", total + counts[r],
            " elements exceed MPI's int limit (", where(), ")");
    icounts[r] = int(counts[r]);
    displs[r] = int(total);
    total += counts[r];
  }
}
}  // namespace

void MpiCommunicator::reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) {
  std::vector<int> icounts, displs;
  int_blocks(counts, size_, icounts, displs, "reduce_scatter_sum");
  CollectiveScope scope("MPI reduce_scatter");
  // Not in place: in place MPI leaves the block at the start of the buffer,
  // and moving it to its offset cost ~5 s an epoch at C = 1000 (20 MB a step).
  DC_MPI(MPI_Reduce_scatter(send, recv, icounts.data(), mpi_type(t), MPI_SUM, comm_));
}

void MpiCommunicator::allgather_blocks(void* buf, const std::vector<size_t>& counts, DType t) {
  std::vector<int> icounts, displs;
  int_blocks(counts, size_, icounts, displs, "allgather_blocks");
  CollectiveScope scope("MPI allgather");
  DC_MPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, icounts.data(), displs.data(), mpi_type(t),
                        comm_));
}

void MpiCommunicator::allgatherv(const void* send, size_t send_bytes, std::vector<uint8_t>& recv,
                                 std::vector<size_t>& counts) {
  CollectiveScope scope("MPI allgatherv");
  int64_t mine = static_cast<int64_t>(send_bytes);
  std::vector<int64_t> all(size_);
  DC_MPI(MPI_Allgather(&mine, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, comm_));
  counts.assign(all.begin(), all.end());
  std::vector<int> icounts(size_), displs(size_);
  size_t total = 0;
  for (int r = 0; r < size_; ++r) {
    require(total + all[r] <= size_t(INT_MAX), "allgatherv: ", total + all[r],
            " bytes exceed MPI's int limit (", where(), ")");
    icounts[r] = static_cast<int>(all[r]);
    displs[r] = static_cast<int>(total);
    total += all[r];
  }
  recv.resize(total);
  DC_MPI(MPI_Allgatherv(send, static_cast<int>(send_bytes), MPI_BYTE, recv.data(), icounts.data(),
                        displs.data(), MPI_BYTE, comm_));
}

void MpiCommunicator::sendrecv(const void* send, size_t send_bytes, int dest, void* recv,
                               size_t recv_bytes, int src) {
  require(send_bytes <= size_t(INT_MAX) && recv_bytes <= size_t(INT_MAX),
          "sendrecv: message of ", std::max(send_bytes, recv_bytes), " bytes exceeds MPI's int limit");
  CollectiveScope scope("MPI sendrecv (a ring step)");
  DC_MPI(MPI_Sendrecv(send, static_cast<int>(send_bytes), MPI_BYTE, send_bytes ? dest : MPI_PROC_NULL, 7,
                      recv, static_cast<int>(recv_bytes), MPI_BYTE, recv_bytes ? src : MPI_PROC_NULL, 7,
                      comm_, MPI_STATUS_IGNORE));
}

void MpiCommunicator::barrier() {
  CollectiveScope scope("MPI barrier");
  DC_MPI(MPI_Barrier(comm_));
}

void MpiCommunicator::abort(const std::string& msg, int code) {
  std::fprintf(stderr, "distclust: fatal on %s: %s\n", where().c_str(), msg.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace distclust
