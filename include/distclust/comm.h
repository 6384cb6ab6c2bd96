// Communicator: the one seam between algorithms and the transport.
// Algorithms receive a Communicator& and never touch MPI/NCCL directly, so the
// same k-means/kNN/SCAN code runs on one process (Local), across ranks over
// MPI (host buffers), or over NCCL (device buffers, GPUs). Model: RAFT's
// comms_iface, Arbor's distributed_context.
//
// All collectives are blocking and must be called by every rank in the same
// order. Errors throw distclust::Error naming call, error string, rank, host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace distclust {

enum class DType { f32, f64, i32, i64, u8 };

/// Bytes per element of a DType.
size_t dtype_size(DType t);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Rank among the processes on this host (selects the GPU).
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  /// "local", "mpi" or "nccl".
  virtual std::string name() const = 0;

  /// In place: buf[i] = sum over ranks of buf[i]. buf: [count].
  virtual void allreduce_sum(void* buf, size_t count, DType t) = 0;
  /// In place: buf[i] = max over ranks of buf[i]. buf: [count].
  virtual void allreduce_max(void* buf, size_t count, DType t) = 0;
  /// Copies root's buf [bytes] to every rank.
  virtual void broadcast(void* buf, size_t bytes, int root) = 0;
  /// Gathers each rank's send [send_bytes] into recv on every rank, in rank
  /// order; counts[r] receives rank r's byte count.
  virtual void allgatherv(const void* send, size_t send_bytes, std::vector<uint8_t>& recv,
                          std::vector<size_t>& counts) = 0;
  /// Block-wise sum over ranks: send [sum of counts] holds blocks in rank
  /// order (block r has counts[r] elements; counts the same on every rank);
  /// recv [counts[rank()]] receives the sum over ranks of this rank's block.
  /// send and recv must not overlap. With allgather_blocks, an allreduce in
  /// two halves (ZeRO-1 style: each rank updates only its block in between).
  virtual void reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) = 0;
  /// In place on buf [sum of counts], blocks as in reduce_scatter_sum: every
  /// rank's own block is copied into that block on all ranks.
  virtual void allgather_blocks(void* buf, const std::vector<size_t>& counts, DType t) = 0;
  /// Sends send [send_bytes] to dest while receiving recv [recv_bytes] from
  /// src (a ring step). Either may be skipped with bytes = 0.
  virtual void sendrecv(const void* send, size_t send_bytes, int dest, void* recv,
                        size_t recv_bytes, int src) = 0;
  virtual void barrier() = 0;
  /// Ends the whole job (every rank) after printing msg; never returns.
  [[noreturn]] virtual void abort(const std::string& msg, int code = 1) = 0;

  // Typed conveniences.
  template <class T> void allreduce_sum(T* buf, size_t n) { allreduce_sum(buf, n, dtype_of<T>()); }
  template <class T> void allreduce_max(T* buf, size_t n) { allreduce_max(buf, n, dtype_of<T>()); }
  template <class T> T sum(T v) { allreduce_sum(&v, 1); return v; }
  template <class T> T max(T v) { allreduce_max(&v, 1); return v; }
  /// Replaces v (a std::vector or std::string) on every rank with root's v:
  /// size first, then the data.
  template <class V> void broadcast(V& v, int root) {
    int64_t n = static_cast<int64_t>(v.size());
    broadcast(&n, sizeof(n), root);
    v.resize(static_cast<size_t>(n));
    if (n) broadcast(v.data(), static_cast<size_t>(n) * sizeof(typename V::value_type), root);
  }
  /// Gathers equal-typed vectors from all ranks, concatenated in rank order.
  template <class T> std::vector<T> allgather(const std::vector<T>& mine) {
    std::vector<uint8_t> raw;
    std::vector<size_t> counts;
    allgatherv(mine.data(), mine.size() * sizeof(T), raw, counts);
    std::vector<T> out(raw.size() / sizeof(T));
    if (!raw.empty()) std::copy(raw.data(), raw.data() + raw.size(), reinterpret_cast<uint8_t*>(out.data()));
    return out;
  }
  /// Every rank's string (any length), in rank order.
  std::vector<std::string> allgather_strings(const std::string& mine) {
    std::vector<uint8_t> raw;
    std::vector<size_t> counts;
    allgatherv(mine.data(), mine.size(), raw, counts);
    std::vector<std::string> out;
    for (size_t r = 0, at = 0; r < counts.size(); at += counts[r], ++r)
      out.emplace_back(reinterpret_cast<const char*>(raw.data()) + at, counts[r]);
    return out;
  }
};

/// Runtime choice of transport (`comm:` in the config).
struct CommParams {
  std::string comm = "auto";  ///< auto|local|mpi|nccl; auto = mpi when launched by mpirun/srun with >1 ranks, else local
  /// nccl: the CUDA device of this rank's buffers (the compute target's);
  /// -1 = local rank % visible GPUs. Not a setting (runtime.device says it).
  int device = -1;
  template <class V> void visit(V& v) { v("comm", comm, "communicator: auto|local|mpi|nccl"); }
  void validate() const;
};

/// True when an MPI launcher started this process (mpirun/mpiexec, srun with
/// PMI/PMIx, hydra): then MPI is initialised at start.
bool launched_by_mpi();
/// MPI_Init_thread asking for MPI_THREAD_MULTIPLE (the kNN ring overlaps its
/// transfers with compute on a thread; with less it transfers after).
void init_mpi();

/// True when this build has the NCCL communicator (CUDA + NCCL found).
bool nccl_built();
/// "host|PCI bus id" of CUDA device `device` as this process sees it: the
/// same physical GPU gives the same key on every rank of a host, however
/// CUDA_VISIBLE_DEVICES numbers it. "" without the NCCL communicator.
std::string gpu_key(int device);
/// Whether every rank's key (gpu_key, or "" for a rank that computes on no
/// GPU) names a GPU and no two ranks name the same one: then NCCL can carry
/// the device buffers' collectives (it refuses two ranks on one device).
bool one_gpu_per_rank(const std::vector<std::string>& keys);
/// Every rank's GPU in rank order (collective): gpu_key(device) where the
/// build reads PCI bus ids, else "host|visible CUDA_VISIBLE_DEVICES|cuda:N"
/// (which still tells apart the GPUs launch/distclust-rank or Slurm hand
/// out per rank); "" for a rank whose device is < 0 (its CPU).
std::vector<std::string> gather_gpu_keys(Communicator& comm, int device);
/// How many ranks' keys equal keys[rank] (1 for a rank on no GPU: ""),
/// i.e. how many ranks compute on this rank's GPU and share its memory.
int ranks_on_same_gpu(const std::vector<std::string>& keys, int rank);

/// Creates the communicator; starts MPI if needed (comm=mpi|nccl).
/// nccl needs a CUDA+NCCL build and one GPU per local rank.
std::unique_ptr<Communicator> make_communicator(const CommParams& p);

/// Row block of rank r out of P for N rows: [floor(r*N/P), floor((r+1)*N/P)).
struct RowRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
RowRange row_block(int64_t n, int rank, int size);

}  // namespace distclust
