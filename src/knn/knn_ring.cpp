#include "knn/knn_ring.h"

#include <mpi.h>

#include <thread>

#include "distclust/log.h"

namespace distclust {

namespace {
bool threads_may_call_mpi() {
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread(&level);
  return level >= MPI_THREAD_MULTIPLE;
}
}  // namespace

void ring_pass(const FeatureBlock& mine, Communicator& comm, int first_step,
               const std::function<void(const RingBlock&, int)>& visit, int end) {
  const int P = comm.size(), r = comm.rank();
  if (end < 0) end = P;
  if (first_step >= end) return;  // every rank starts at the same step
  const int64_t d = mine.d;
  const bool overlap = P > 1 && threads_may_call_mpi();
  // Step s holds origin (r - s) mod P. Buffers: cur (being computed on) and
  // nxt (being received). Step `first_step` starts from the owner's rows, so
  // a resumed pass first fetches the right block directly.
  std::vector<float> cur_x, nxt_x;
  std::vector<uint8_t> cur_v, nxt_v;
  auto origin_of = [&](int s) { return ((r - s) % P + P) % P; };
  auto fetch = [&](int s, std::vector<float>& x, std::vector<uint8_t>& v) {
    // Direct exchange for a resumed start: send my rows to r + s, receive the
    // rows of r - s.
    RowRange rr = row_block(mine.n_total, origin_of(s), P);
    x.resize(static_cast<size_t>(rr.size() * d));
    v.resize(rr.size());
    const int dest = (r + s) % P, src = origin_of(s);
    comm.sendrecv(mine.x.data(), mine.x.size() * sizeof(float), dest, x.data(), x.size() * sizeof(float), src);
    comm.sendrecv(mine.valid.data(), mine.valid.size(), dest, v.data(), v.size(), src);
  };
  bool own = first_step % P == 0;
  if (!own) fetch(first_step, cur_x, cur_v);
  for (int s = first_step; s < end; ++s) {
    const int o = origin_of(s);
    RingBlock blk;
    blk.origin = o;
    blk.rows = row_block(mine.n_total, o, P);
    blk.x = own ? mine.x.data() : cur_x.data();
    blk.valid = own ? mine.valid.data() : cur_v.data();
    const bool more = s + 1 < end;
    auto pass_on = [&] {
      RowRange nr = row_block(mine.n_total, origin_of(s + 1), P);
      nxt_x.resize(static_cast<size_t>(nr.size() * d));
      nxt_v.resize(nr.size());
      comm.sendrecv(blk.x, blk.rows.size() * d * sizeof(float), (r + 1) % P, nxt_x.data(),
                    nxt_x.size() * sizeof(float), (r - 1 + P) % P);
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
      cur_x.swap(nxt_x);
      cur_v.swap(nxt_v);
      own = false;
    }
  }
}

}  // namespace distclust
