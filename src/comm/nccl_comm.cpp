// NCCL communicator: collectives on GPU buffers, bootstrapped over MPI
// (rank 0 ncclGetUniqueId -> MPI_Bcast -> ncclCommInitRank). Host buffers are
// staged through a device scratch buffer so callers may pass either; variable
// sized gathers (metadata) go over MPI, which NCCL lacks.
#include "comm/nccl_comm.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <numeric>

#include "comm/collective_watch.h"
#include "comm/watched_wait.h"
#include "distclust/error.h"
#include "distclust/log.h"

namespace distclust {
namespace {

void cuda_check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw Error(fmt("comm=nccl: ", call, " failed: ", cudaGetErrorString(e), " (", where(), ")"));
}
/// NCCL's words for r: ncclGetErrorString says only the class ("unhandled
/// system error"); the last error says which call, peer or resource failed.
std::string nccl_words(ncclResult_t r, ncclComm_t comm) {
  std::string s = ncclGetErrorString(r);
#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= 21300
  if (const char* last = ncclGetLastError(comm); last && *last) s += fmt(": ", last);
#else
  (void)comm;
#endif
  return s;
}
void nccl_check(ncclResult_t r, const char* call) {
  if (r == ncclSuccess) return;
  throw Error(fmt("comm=nccl: ", call, " failed: ", nccl_words(r, nullptr), " (", where(),
                  "; NCCL_DEBUG=WARN tells more)"));
}
#define DC_CUDA(x) cuda_check((x), #x)
#define DC_NCCL(x) nccl_check((x), #x)

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::u8: return ncclUint8;
  }
  return ncclUint8;
}

/// Closes an NCCL group however the calls inside it end: a group left open
/// by a throw would queue every later NCCL call of this thread.
struct GroupScope {
  GroupScope() { DC_NCCL(ncclGroupStart()); }
  ~GroupScope() noexcept(false) {
    const ncclResult_t r = ncclGroupEnd();
    if (std::uncaught_exceptions() == 0) nccl_check(r, "ncclGroupEnd()");
  }
  GroupScope(const GroupScope&) = delete;
  GroupScope& operator=(const GroupScope&) = delete;
};

}  // namespace

struct NcclCommunicator::Impl {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  void* scratch = nullptr;
  size_t scratch_bytes = 0;
  int device = 0;
  double timeout_s = 1800;  ///< collective_timeout_seconds()

  /// Set once any call failed or gave up: the destructor then aborts, as
  /// ncclCommDestroy would wait for queued work a dead peer never finishes.
  bool failed = false;

  /// Host buffers cross in pieces of at most this: the staging buffer is
  /// cudaMalloc'ed outside LibTorch's cache and kept for the communicator's
  /// life, so a whole message (SCAN's replicated rows: N x D x 4 / P bytes,
  /// 1.3 GB for ImageNet on 2 ranks) would hold that much of the GPU, or
  /// fail where LibTorch's cache already took it.
  static constexpr size_t kStageBytes = size_t(64) << 20;

  void* stage(size_t bytes) {
    if (bytes > scratch_bytes) {
      if (scratch) {
        void* old = scratch;
        scratch = nullptr, scratch_bytes = 0;  // never left pointing at freed memory
        DC_CUDA(cudaFree(old));
      }
      DC_CUDA(cudaMalloc(&scratch, bytes));
      scratch_bytes = bytes;
    }
    return scratch;
  }
};

std::string gpu_key(int device) {
  char bus[32] = {0};
  DC_CUDA(cudaDeviceGetPCIBusId(bus, sizeof(bus) - 1, device));
  std::string tag = where();
  return tag.substr(tag.find(" on ") + 4) + "|" + bus;
}

NcclCommunicator::NcclCommunicator(int device) : impl_(new Impl) {
  int count = 0;
  DC_CUDA(cudaGetDeviceCount(&count));
  require(count > 0, "comm=nccl: no CUDA device visible on ", where());
  // The compute target's device when given: NCCL's buffers are LibTorch's.
  require(device < count, "comm=nccl: CUDA device ", device, " but ", count, " visible on ", where());
  impl_->device = device >= 0 ? device : local_rank() % count;
  impl_->timeout_s = collective_timeout_seconds();  // a bad value fails here, before any collective
  DC_CUDA(cudaSetDevice(impl_->device));

  // Refuse two ranks on one GPU: compare PCI bus ids among all ranks of the
  // host (CUDA_VISIBLE_DEVICES may renumber devices per rank).
  const std::string key = gpu_key(impl_->device);
  const std::string bus = key.substr(key.rfind('|') + 1), tag = key.substr(0, key.rfind('|'));
  std::vector<char> mine(96, 0);
  std::snprintf(mine.data(), mine.size(), "%s", key.c_str());
  auto all = allgather(mine);
  for (int r = 0; r < size(); ++r) {
    if (r == rank()) continue;
    if (std::strncmp(all.data() + r * 96, mine.data(), 96) == 0) {
      cudaDeviceProp prop{};
      cudaGetDeviceProperties(&prop, impl_->device);
      throw Error(fmt("comm=nccl: rank ", rank(), " and rank ", r, " would share GPU ", impl_->device,
                      " (", prop.name, ", PCI ", bus, ") on ", tag,
                      ": run one rank per GPU (local ranks ", local_size(), ", visible GPUs ", count, ")"));
    }
  }

  ncclUniqueId id;
  if (rank() == 0) DC_NCCL(ncclGetUniqueId(&id));
  MpiCommunicator::broadcast(&id, sizeof(id), 0);
  DC_NCCL(ncclCommInitRank(&impl_->comm, size(), id, rank()));
  DC_CUDA(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  log::debug("nccl: rank ", rank(), " on GPU ", impl_->device, " (PCI ", bus, ")");
}

NcclCommunicator::~NcclCommunicator() {
  // Unwinding from an error (this rank's or a call's): ncclCommDestroy
  // finalizes, waiting for queued work that peers may never join, and the
  // rank would never reach main's MPI_Abort. ncclCommAbort waits for nobody.
  if (impl_->comm) {  // null after wait() aborted it
    if (impl_->failed || std::uncaught_exceptions() > 0) ncclCommAbort(impl_->comm);
    else ncclCommDestroy(impl_->comm);
  }
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
  if (impl_->scratch) cudaFree(impl_->scratch);
}

int NcclCommunicator::device() const { return impl_->device; }

bool NcclCommunicator::on_device(const void* p) const {
  // The calling thread's device first: a thread's first CUDA call opens a
  // context on its current device, which for a fresh thread (the kNN ring's)
  // is GPU 0, a context per rank there (and refused in exclusive-process mode).
  DC_CUDA(cudaSetDevice(impl_->device));
  cudaPointerAttributes a{};
  const cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (e == cudaErrorInvalidValue) {  // older CUDA: a host pointer it does not know
    cudaGetLastError();
    return false;
  }
  cuda_check(e, "cudaPointerGetAttributes");
  const bool dev = a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
  // NCCL does not check (NCCL_CHECK_POINTERS is off): another GPU's buffer
  // would be an illegal address inside a kernel.
  require(!dev || a.device == impl_->device, "comm=nccl: a buffer on GPU ", a.device, " given to the communicator of GPU ",
          impl_->device, " (", where(), ")");
  return dev;
}

// The stream's NCCL work, watched (comm/watched_wait.h): a peer that died
// without MPI_Abort ends this rank too, within DISTCLUST_COLLECTIVE_TIMEOUT,
// instead of leaving it in a stream synchronize until the job's time limit.
void NcclCommunicator::wait(const char* what) {
  // A collective for the heartbeat's watch (a rank waiting here is not in
  // its own work), which leaves the giving up to watched_wait.
  CollectiveScope scope(what, /*self_timed=*/true);
  WatchedWork w;
  w.done = [&] {
    const cudaError_t e = cudaStreamQuery(impl_->stream);
    if (e == cudaErrorNotReady) return false;
    cuda_check(e, "cudaStreamQuery");
    return true;
  };
  w.failure = [&]() -> std::string {
    ncclResult_t a = ncclSuccess;
    nccl_check(ncclCommGetAsyncError(impl_->comm, &a), "ncclCommGetAsyncError");
#if defined(NCCL_VERSION_CODE) && NCCL_VERSION_CODE >= 21400
    if (a == ncclInProgress) return "";
#endif
    return a == ncclSuccess ? "" : nccl_words(a, impl_->comm);
  };
  w.give_up = [&] {
    ncclCommAbort(impl_->comm);  // ends the work's kernels; the stream can be left
    impl_->comm = nullptr;
  };
  try {
    watched_wait(fmt("comm=nccl: ", what), w, impl_->timeout_s);
  } catch (...) {
    impl_->failed = true;  // e.g. a CUDA error from the stream: the destructor aborts
    throw;
  }
}

// Pieces of at most Impl::kStageBytes, cut at whole elements.
template <class F>
void NcclCommunicator::staged(uint8_t* h, size_t bytes, size_t es, bool upload, const char* what, F call) {
  const size_t step = std::max<size_t>(1, Impl::kStageBytes / es) * es;
  for (size_t off = 0; off < bytes; off += step) {
    const size_t n = std::min(step, bytes - off);
    void* d = impl_->stage(n);
    if (upload) DC_CUDA(cudaMemcpyAsync(d, h + off, n, cudaMemcpyHostToDevice, impl_->stream));
    call(d, n);
    wait(what);
    copy_back(h + off, d, n);
  }
}

void NcclCommunicator::reduce(void* buf, size_t count, DType t, bool max) {
  if (count == 0) return;
  const char* what = max ? "allreduce (max)" : "allreduce (sum)";
  const ncclRedOp_t op = max ? ncclMax : ncclSum;
  if (on_device(buf)) {
    DC_NCCL(ncclAllReduce(buf, buf, count, nccl_type(t), op, impl_->comm, impl_->stream));
    wait(what);
    return;
  }
  // Every rank has the same count, so all cut it alike; sums and maxima are element-wise.
  const size_t es = dtype_size(t);
  staged(static_cast<uint8_t*>(buf), count * es, es, true, what, [&](void* d, size_t n) {
    DC_NCCL(ncclAllReduce(d, d, n / es, nccl_type(t), op, impl_->comm, impl_->stream));
  });
}

// After the watched wait, never before: a copy into pageable host memory
// returns only when it is done, so queued behind the collective it blocked
// this rank inside cudaMemcpyAsync, past the watch, when a peer had died.
void NcclCommunicator::copy_back(void* host, const void* device, size_t bytes) {
  DC_CUDA(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, impl_->stream));
  DC_CUDA(cudaStreamSynchronize(impl_->stream));
}

void NcclCommunicator::allreduce_sum(void* buf, size_t count, DType t) { reduce(buf, count, t, false); }
void NcclCommunicator::allreduce_max(void* buf, size_t count, DType t) { reduce(buf, count, t, true); }

void NcclCommunicator::broadcast(void* buf, size_t bytes, int root) {
  if (bytes == 0) return;
  if (on_device(buf)) {
    DC_NCCL(ncclBroadcast(buf, buf, bytes, ncclUint8, root, impl_->comm, impl_->stream));
    wait("broadcast");
    return;
  }
  // Only the root's piece goes up; every rank's comes back.
  staged(static_cast<uint8_t*>(buf), bytes, 1, rank() == root, "broadcast", [&](void* d, size_t n) {
    DC_NCCL(ncclBroadcast(d, d, n, ncclUint8, root, impl_->comm, impl_->stream));
  });
}

// Blocks of different sizes: NCCL's reduce-scatter and all-gather take equal
// blocks, so a group of one rooted call per block (reduce, broadcast) does
// it. Host buffers go over MPI, as for sendrecv.
template <class F>
void NcclCommunicator::per_block(const std::vector<size_t>& counts, const char* what, F call) {
  {
    GroupScope group;
    for (size_t r = 0, off = 0; r < counts.size(); off += counts[r], ++r)
      if (counts[r]) call(off, counts[r], int(r));
  }
  wait(what);
}

// Every rank must take the same transport: an empty buffer (maybe a null
// pointer) has no say, so a rank whose own block is empty follows its send
// buffer, and nothing at all is sent when every block is.
void NcclCommunicator::reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts, DType t) {
  require(int(counts.size()) == size(), "reduce_scatter_sum: ", counts.size(), " block counts for ", size(), " ranks");
  if (std::accumulate(counts.begin(), counts.end(), size_t(0)) == 0) return;
  if (!on_device(send) || (counts[size_t(rank())] > 0 && !on_device(recv)))
    return MpiCommunicator::reduce_scatter_sum(send, recv, counts, t);
  const auto* s = static_cast<const uint8_t*>(send);
  const size_t es = dtype_size(t);
  // Block r's sum lands in recv on rank r (the root); other ranks' recv is not written.
  per_block(counts, "reduce_scatter_sum", [&](size_t off, size_t n, int root) {
    DC_NCCL(ncclReduce(s + off * es, recv, n, nccl_type(t), ncclSum, root, impl_->comm, impl_->stream));
  });
}

void NcclCommunicator::allgather_blocks(void* buf, const std::vector<size_t>& counts, DType t) {
  require(int(counts.size()) == size(), "allgather_blocks: ", counts.size(), " block counts for ", size(), " ranks");
  if (std::accumulate(counts.begin(), counts.end(), size_t(0)) == 0) return;
  if (!on_device(buf)) return MpiCommunicator::allgather_blocks(buf, counts, t);
  auto* p = static_cast<uint8_t*>(buf);
  const size_t es = dtype_size(t);
  per_block(counts, "allgather_blocks", [&](size_t off, size_t n, int root) {
    DC_NCCL(ncclBroadcast(p + off * es, p + off * es, n, nccl_type(t), root, impl_->comm, impl_->stream));
  });
}

void NcclCommunicator::sendrecv(const void* send, size_t send_bytes, int dest, void* recv,
                                size_t recv_bytes, int src) {
  // Nothing to move (a rank without rows): no call at all. MPI skips empty
  // directions too (MPI_PROC_NULL), so the peers agree whichever they use,
  // and this thread never touches a communicator another thread is using.
  if (send_bytes == 0 && recv_bytes == 0) return;
  // The kNN ring calls this from its own thread: on_device() sets the
  // thread's device before its first CUDA call.
  const bool dev = (send_bytes == 0 || on_device(send)) && (recv_bytes == 0 || on_device(recv));
  if (!dev) {  // host buffers: MPI is the better transport
    MpiCommunicator::sendrecv(send, send_bytes, dest, recv, recv_bytes, src);
    return;
  }
  {
    GroupScope group;
    if (send_bytes) DC_NCCL(ncclSend(send, send_bytes, ncclUint8, dest, impl_->comm, impl_->stream));
    if (recv_bytes) DC_NCCL(ncclRecv(recv, recv_bytes, ncclUint8, src, impl_->comm, impl_->stream));
  }
  wait("sendrecv");
}

}  // namespace distclust
