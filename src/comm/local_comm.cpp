#include "comm/local_comm.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "distclust/error.h"

namespace distclust {

void LocalCommunicator::allgatherv(const void* send, size_t send_bytes, std::vector<uint8_t>& recv,
                                   std::vector<size_t>& counts) {
  recv.assign(static_cast<const uint8_t*>(send), static_cast<const uint8_t*>(send) + send_bytes);
  counts.assign(1, send_bytes);
}

void LocalCommunicator::reduce_scatter_sum(const void* send, void* recv, const std::vector<size_t>& counts,
                                           DType t) {
  require(counts.size() == 1, "reduce_scatter_sum: ", counts.size(), " block counts for 1 rank");
  if (counts[0]) std::memcpy(recv, send, counts[0] * dtype_size(t));
}

void LocalCommunicator::sendrecv(const void* send, size_t send_bytes, int dest, void* recv,
                                 size_t recv_bytes, int src) {
  require(dest == 0 && src == 0, "local communicator: sendrecv to rank ", dest, " from ", src);
  require(send_bytes == recv_bytes, "local communicator: sendrecv of ", send_bytes,
          " bytes into ", recv_bytes);
  if (send_bytes && send != recv) std::memmove(recv, send, send_bytes);
}

void LocalCommunicator::abort(const std::string& msg, int code) {
  std::fprintf(stderr, "distclust: fatal: %s\n", msg.c_str());
  std::fflush(stderr);
  std::exit(code);
}

}  // namespace distclust
