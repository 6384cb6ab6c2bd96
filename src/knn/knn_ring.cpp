#include "knn/knn_ring.h"

#include <mpi.h>

#include <algorithm>
#include <thread>

#include "distclust/error.h"
#include "distclust/log.h"

namespace distclust {

namespace {
bool threads_may_call_mpi() {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level >= MPI_THREAD_MULTIPLE;
}

/// Two device blocks of a kernel (SearchKernel::alloc_block), each large
/// enough for any rank's rows, when every rank's kernel offers them.
class DeviceBlocks {
 public:
  DeviceBlocks(SearchKernel* kernel, const FeatureBlock& mine, Communicator& comm) : kernel_(kernel) {
    int64_t rows = 0;
    for (int o = 0; o < comm.size(); ++o) rows = std::max(rows, row_block(mine.n_total, o, comm.size()).size());
    if (!kernel_) return;  // alike on every rank (ring_pass's argument)
    bool ok = false;
    try {
      for (float*& b : block_) b = kernel_->alloc_block(std::max<int64_t>(rows, 1), mine.d, comm);
      ok = block_[0] && block_[1];
    } catch (const Error& e) {
      log::warn("knn ring: no device blocks (", e.what(), "): the blocks travel on the host");
    }
    // Every rank takes the same path: a sendrecv pairs NCCL with NCCL.
    bool all = false;
    try {
      all = comm.max(ok ? 0 : 1) == 0;
    } catch (...) {
      release();  // no destructor for a constructor that throws
      throw;
    }
    if (!all) release();
    else log::detail("knn ring: blocks travel in ", kernel_->name(), " device blocks");
  }
  ~DeviceBlocks() { release(); }
  DeviceBlocks(const DeviceBlocks&) = delete;
  DeviceBlocks& operator=(const DeviceBlocks&) = delete;
  bool on() const { return block_[0] != nullptr; }
  float* cur() const { return block_[cur_]; }
  float* spare() const { return block_[1 - cur_]; }
  void swap() { cur_ = 1 - cur_; }
  SearchKernel& kernel() const { return *kernel_; }

 private:
  void release() {
    for (float*& b : block_)
      if (b) kernel_->free_block(b), b = nullptr;
  }
  SearchKernel* kernel_;
  float* block_[2] = {nullptr, nullptr};
  int cur_ = 0;
};
}  // namespace

void ring_pass(const FeatureBlock& mine, Communicator& comm, int first_step,
               const std::function<void(const RingBlock&, int)>& visit, int end, SearchKernel* kernel) {
  const int P = comm.size(), r = comm.rank();
  if (end < 0) end = P;
  if (first_step >= end) return;  // every rank starts at the same step
  const int64_t d = mine.d;
  const bool overlap = P > 1 && threads_may_call_mpi();
  DeviceBlocks dev(P > 1 ? kernel : nullptr, mine, comm);
  // Step s holds origin (r - s) mod P. Buffers: cur (being computed on) and
  // nxt (being received): host vectors, or dev's two blocks. Step
  // `first_step` starts from the owner's rows, so a resumed pass first
  // fetches the right block directly.
  std::vector<float> cur_x, nxt_x;
  std::vector<uint8_t> cur_v, nxt_v;
  auto origin_of = [&](int s) { return ((r - s) % P + P) % P; };
  auto rows_of = [&](int s) { return row_block(mine.n_total, origin_of(s), P); };
  const int64_t my_rows = mine.local_rows();
  auto fetch = [&](int s) {
    // Direct exchange for a resumed start: send my rows to r + s, receive the
    // rows of r - s.
    const RowRange rr = rows_of(s);
    cur_v.resize(rr.size());
    const int dest = (r + s) % P, src = origin_of(s);
    const float* send = mine.x.data();
    float* recv = nullptr;
    if (dev.on()) {
      dev.kernel().write_block(dev.spare(), mine.x.data(), my_rows, d);
      send = dev.spare(), recv = dev.cur();
    } else {
      cur_x.resize(static_cast<size_t>(rr.size() * d));
      recv = cur_x.data();
    }
    comm.sendrecv(send, my_rows * d * sizeof(float), dest, recv, rr.size() * d * sizeof(float), src);
    comm.sendrecv(mine.valid.data(), mine.valid.size(), dest, cur_v.data(), cur_v.size(), src);
  };
  bool own = first_step % P == 0;
  if (!own) fetch(first_step);
  else if (dev.on()) dev.kernel().write_block(dev.cur(), mine.x.data(), my_rows, d);  // sent from the device
  for (int s = first_step; s < end; ++s) {
    RingBlock blk;
    blk.origin = origin_of(s);
    blk.rows = rows_of(s);
    blk.x = dev.on() ? dev.cur() : own ? mine.x.data() : cur_x.data();
    blk.valid = own ? mine.valid.data() : cur_v.data();
    const bool more = s + 1 < end;
    auto pass_on = [&] {
      // Receives into the spare buffer, which nothing reads now (its last
      // search ended at the fence below); sends the current one, which the
      // compute only reads. sendrecv returns when both transfers are done.
      const RowRange nr = rows_of(s + 1);
      float* recv = nullptr;
      if (dev.on()) {
        recv = dev.spare();
      } else {
        nxt_x.resize(static_cast<size_t>(nr.size() * d));
        recv = nxt_x.data();
      }
      nxt_v.resize(nr.size());
      comm.sendrecv(blk.x, blk.rows.size() * d * sizeof(float), (r + 1) % P, recv, nr.size() * d * sizeof(float),
                    (r - 1 + P) % P);
      comm.sendrecv(blk.valid, blk.rows.size(), (r + 1) % P, nxt_v.data(), nxt_v.size(), (r - 1 + P) % P);
    };
    if (more && overlap) {
      std::thread t(pass_on);
      try {
        visit(blk, s);
      } catch (...) {
        t.join();
        throw;
      }
      t.join();
    } else {
      visit(blk, s);
      if (more) pass_on();
    }
    if (more) {
      // The kernel may still read the current block (a GPU queues its
      // work): done before that block is received into at the next step.
      if (dev.on()) {
        dev.kernel().block_fence();
        dev.swap();
      } else {
        cur_x.swap(nxt_x);
      }
      cur_v.swap(nxt_v);
      own = false;
    }
  }
}

}  // namespace distclust
