#include "knn/knn_ring.h"

#include <mpi.h>

#include <algorithm>
#include <exception>
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

/// The ring's double buffers of rows and valid bytes at rank r: the block
/// being computed on (cur) and the one being received (spare), in host
/// vectors or in dev's two device blocks. Step s holds origin (r - s) mod P.
class RingBuffers {
 public:
  RingBuffers(const FeatureBlock& mine, Communicator& comm, SearchKernel* kernel)
      : mine_(mine), comm_(comm), P_(comm.size()), r_(comm.rank()), dev_(P_ > 1 ? kernel : nullptr, mine, comm) {}

  int origin_of(int s) const { return ((r_ - s) % P_ + P_) % P_; }
  RowRange rows_of(int s) const { return row_block(mine_.n_total, origin_of(s), P_); }

  /// The first step's block: the owner's rows (s a multiple of P), or for
  /// a resumed pass fetched directly (my rows to r + s, those of r - s in).
  void start(int s) {
    own_ = s % P_ == 0;
    const int64_t d = mine_.d, my_rows = mine_.local_rows();
    if (own_) {
      if (dev_.on()) dev_.kernel().write_block(dev_.cur(), mine_.x.data(), my_rows, d);  // sent from the device
      return;
    }
    const RowRange rr = rows_of(s);
    cur_v_.resize(rr.size());
    const int dest = (r_ + s) % P_, src = origin_of(s);
    const float* send = mine_.x.data();
    float* recv = nullptr;
    if (dev_.on()) {
      dev_.kernel().write_block(dev_.spare(), mine_.x.data(), my_rows, d);
      send = dev_.spare(), recv = dev_.cur();
    } else {
      cur_x_.resize(static_cast<size_t>(rr.size() * d));
      recv = cur_x_.data();
    }
    comm_.sendrecv(send, my_rows * d * sizeof(float), dest, recv, rr.size() * d * sizeof(float), src);
    comm_.sendrecv(mine_.valid.data(), mine_.valid.size(), dest, cur_v_.data(), cur_v_.size(), src);
  }

  /// Step s's block (cur).
  RingBlock block(int s) const {
    RingBlock blk;
    blk.origin = origin_of(s);
    blk.rows = rows_of(s);
    blk.x = dev_.on() ? dev_.cur() : own_ ? mine_.x.data() : cur_x_.data();
    blk.valid = own_ ? mine_.valid.data() : cur_v_.data();
    return blk;
  }

  /// Sends blk (step s's, cur) to r + 1 and receives step s + 1's from
  /// r - 1 into the spare buffers, which nothing reads now (their last
  /// search ended at advance()'s fence); the compute only reads cur.
  /// Returns when both transfers are done.
  void pass_on(const RingBlock& blk, int s) {
    const int64_t d = mine_.d;
    const RowRange nr = rows_of(s + 1);
    float* recv = nullptr;
    if (dev_.on()) {
      recv = dev_.spare();
    } else {
      nxt_x_.resize(static_cast<size_t>(nr.size() * d));
      recv = nxt_x_.data();
    }
    nxt_v_.resize(nr.size());
    const int to = (r_ + 1) % P_, from = (r_ - 1 + P_) % P_;
    comm_.sendrecv(blk.x, blk.rows.size() * d * sizeof(float), to, recv, nr.size() * d * sizeof(float), from);
    comm_.sendrecv(blk.valid, blk.rows.size(), to, nxt_v_.data(), nxt_v_.size(), from);
  }

  /// The received block becomes cur. The kernel may still read the current
  /// block (a GPU queues its work): fenced before it is received into.
  void advance() {
    if (dev_.on()) {
      dev_.kernel().block_fence();
      dev_.swap();
    } else {
      cur_x_.swap(nxt_x_);
    }
    cur_v_.swap(nxt_v_);
    own_ = false;
  }

 private:
  const FeatureBlock& mine_;
  Communicator& comm_;
  const int P_, r_;
  DeviceBlocks dev_;
  bool own_ = true;
  std::vector<float> cur_x_, nxt_x_;
  std::vector<uint8_t> cur_v_, nxt_v_;
};
}  // namespace

void ring_pass(const FeatureBlock& mine, Communicator& comm, int first_step,
               const std::function<void(const RingBlock&, int)>& visit, int end, SearchKernel* kernel) {
  const int P = comm.size();
  if (end < 0) end = P;
  if (first_step >= end) return;  // every rank starts at the same step
  const bool overlap = P > 1 && threads_may_call_mpi();
  RingBuffers ring(mine, comm, kernel);
  ring.start(first_step);
  for (int s = first_step; s < end; ++s) {
    const RingBlock blk = ring.block(s);
    const bool more = s + 1 < end;
    if (more && overlap) {
      // An exception may not leave a thread (std::terminate: no error
      // message, no MPI_Abort): the pass's is rethrown here, after the join.
      std::exception_ptr passed;
      std::thread t([&] {
        try {
          ring.pass_on(blk, s);
        } catch (...) {
          passed = std::current_exception();
        }
      });
      try {
        visit(blk, s);
      } catch (...) {
        t.join();
        throw;
      }
      t.join();
      if (passed) std::rethrow_exception(passed);
    } else {
      visit(blk, s);
      if (more) ring.pass_on(blk, s);
    }
    if (more) ring.advance();
  }
}

}  // namespace distclust
