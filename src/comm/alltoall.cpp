#include "comm/alltoall.h"

namespace distclust {

std::vector<std::vector<uint8_t>> alltoallv(const std::vector<std::vector<uint8_t>>& send, Communicator& comm) {
  const int P = comm.size(), r = comm.rank();
  std::vector<std::vector<uint8_t>> recv(P);
  recv[r] = send[r];
  for (int s = 1; s < P; ++s) {
    const int dest = (r + s) % P, src = (r - s + P) % P;
    uint64_t out = send[dest].size(), in = 0;
    comm.sendrecv(&out, sizeof(out), dest, &in, sizeof(in), src);
    recv[src].resize(in);
    comm.sendrecv(send[dest].data(), out, dest, recv[src].data(), in, src);
  }
  return recv;
}

}  // namespace distclust
