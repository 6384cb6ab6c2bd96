// NcclCommunicator with exact expected values, in the manner of nccl-tests:
// every rank's input depends on its rank and the element index so that each
// result element has one right value (small integers, exact in every type),
// on device buffers (the GPU path) and host buffers (staged or over MPI),
// for empty, tiny, odd and large counts. Built where CMake finds CUDA and
// NCCL; each test skips, naming the reason, where no GPU is visible.
#include <gtest/gtest.h>

#include "common/test_common.h"

#ifdef DISTCLUST_HAVE_NCCL
#include <cuda_runtime.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace distclust;

namespace {

/// "" when this rank sees a GPU, else why not.
std::string no_gpu_reason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no GPU visible: cudaGetDeviceCount: ") + cudaGetErrorString(e);
  if (n == 0) return "no GPU visible: cudaGetDeviceCount returned 0";
  return "";
}

/// A device copy of a host vector, freed at scope exit.
template <class T>
struct DeviceVec {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceVec(const std::vector<T>& h) : n(h.size()) {
    if (n == 0) return;
    EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    // A copy from pageable memory may return before its DMA ends, and the
    // communicator's stream does not wait for the default stream.
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  ~DeviceVec() {
    if (p) cudaFree(p);
  }
  std::vector<T> host() const {
    std::vector<T> h(n);
    if (n) {
      EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return h;
  }
};

/// Fails (once, naming the first wrong element) unless got[j] == want(j)
/// for every j. Not ASSERT: a rank that left a test early would fall out of
/// step with the others' collectives and hang the run instead of failing it.
template <class T, class F>
void expect_each(const std::vector<T>& got, F want, const std::string& what) {
  size_t bad = 0, first = 0;
  for (size_t j = 0; j < got.size(); ++j)
    if (!(got[j] == want(j)) && bad++ == 0) first = j;
  if (bad) ADD_FAILURE() << what << ": " << bad << " of " << got.size() << " elements wrong, first " << first
                         << ": " << +got[first] << " instead of " << +want(first);
}

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = no_gpu_reason();
    if (!why.empty()) GTEST_SKIP() << why;
    comm_ = make_communicator(CommParams{"nccl"});
  }
  std::unique_ptr<Communicator> comm_;
};

const std::vector<size_t> kCounts = {0, 1, 7, 1000, (size_t(1) << 20) + 3};

template <class T>
void check_allreduce(Communicator& c, bool on_device) {
  const int P = c.size(), r = c.rank();
  for (size_t n : kCounts) {
    std::vector<T> v(n), m(n);
    for (size_t j = 0; j < n; ++j) v[j] = T((r + 1) * (j % 17 + 1)), m[j] = T(r * (j % 5));
    if (on_device) {
      DeviceVec<T> dv(v), dm(m);
      c.allreduce_sum(dv.p, n, dtype_of<T>());
      c.allreduce_max(dm.p, n, dtype_of<T>());
      v = dv.host(), m = dm.host();
    } else {
      c.allreduce_sum(v.data(), n, dtype_of<T>());
      c.allreduce_max(m.data(), n, dtype_of<T>());
    }
    expect_each(v, [&](size_t j) { return T(P * (P + 1) / 2 * (j % 17 + 1)); }, "sum, count " + std::to_string(n));
    expect_each(m, [&](size_t j) { return T((P - 1) * (j % 5)); }, "max, count " + std::to_string(n));
  }
}

}  // namespace

TEST_F(Nccl, AllreduceSumAndMaxEveryTypeDeviceAndHost) {
  for (bool dev : {true, false}) {
    SCOPED_TRACE(dev ? "device buffers" : "host buffers");
    check_allreduce<float>(*comm_, dev);
    check_allreduce<double>(*comm_, dev);
    check_allreduce<int32_t>(*comm_, dev);
    check_allreduce<int64_t>(*comm_, dev);
  }
}

TEST_F(Nccl, BroadcastFromEveryRoot) {
  for (bool dev : {true, false})
    for (int root = 0; root < comm_->size(); ++root)
      for (size_t n : kCounts) {
        std::vector<int64_t> v(n);
        for (size_t j = 0; j < n; ++j) v[j] = comm_->rank() == root ? int64_t(root * 1000003 + j) : -1;
        if (dev) {
          DeviceVec<int64_t> d(v);
          comm_->broadcast(d.p, n * sizeof(int64_t), root);
          v = d.host();
        } else {
          comm_->broadcast(v.data(), n * sizeof(int64_t), root);
        }
        expect_each(v, [&](size_t j) { return int64_t(root * 1000003 + j); },
                    "root " + std::to_string(root) + " n " + std::to_string(n));
      }
}

TEST_F(Nccl, ReduceScatterThenAllgatherBlocksIsAnAllreduce) {
  const int P = comm_->size(), r = comm_->rank();
  for (size_t base : {size_t(0), size_t(5), size_t(100003)}) {
    std::vector<size_t> counts(P);
    for (int q = 0; q < P; ++q) counts[q] = base + size_t(q);  // uneven blocks
    const size_t total = std::accumulate(counts.begin(), counts.end(), size_t(0));
    std::vector<float> v(total);
    for (size_t j = 0; j < total; ++j) v[j] = float((r + 1) * (j % 13));
    for (bool dev : {true, false}) {
      std::vector<float> mine(counts[r]), all = v;
      if (dev) {
        DeviceVec<float> dv(v), dm(mine);
        comm_->reduce_scatter_sum(dv.p, dm.p, counts, DType::f32);
        mine = dm.host();
        DeviceVec<float> da(v);
        comm_->allgather_blocks(da.p, counts, DType::f32);
        all = da.host();
      } else {
        comm_->reduce_scatter_sum(v.data(), mine.data(), counts, DType::f32);
        comm_->allgather_blocks(all.data(), counts, DType::f32);
      }
      const std::string how = std::string(dev ? "device" : "host") + ", base " + std::to_string(base);
      size_t off = 0;
      for (int q = 0; q < r; ++q) off += counts[q];
      expect_each(mine, [&](size_t j) { return float(P * (P + 1) / 2 * ((off + j) % 13)); }, "reduce_scatter, " + how);
      // allgather_blocks: every block is its owner's values.
      std::vector<int> owner(total);
      for (size_t q = 0, o = 0; q < size_t(P); o += counts[q], ++q) std::fill_n(owner.begin() + o, counts[q], int(q));
      expect_each(all, [&](size_t j) { return float((owner[j] + 1) * (j % 13)); }, "allgather_blocks, " + how);
    }
  }
}

TEST_F(Nccl, SendrecvRingDeviceAndHost) {
  const int P = comm_->size(), r = comm_->rank();
  for (size_t n : kCounts)
    for (bool dev : {true, false}) {
      std::vector<int32_t> out(n), in(n, -1);
      for (size_t j = 0; j < n; ++j) out[j] = int32_t(r * 100000 + j % 99991);
      const int dest = (r + 1) % P, src = (r - 1 + P) % P;
      if (dev) {
        DeviceVec<int32_t> d_out(out), d_in(in);
        comm_->sendrecv(d_out.p, n * 4, dest, d_in.p, n * 4, src);
        in = d_in.host();
      } else {
        comm_->sendrecv(out.data(), n * 4, dest, in.data(), n * 4, src);
      }
      expect_each(in, [&](size_t j) { return int32_t(src * 100000 + j % 99991); },
                  std::string(dev ? "device" : "host") + ", n " + std::to_string(n));
    }
}

TEST_F(Nccl, SendrecvOfDifferentSizesPerRankFromTheRingsOwnThread) {
  // As the kNN ring passes its blocks: each rank sends its own count (rank
  // r: (r + 1) * 1000 + 3 values; a rank of no rows: 0), from a thread of its
  // own whose CUDA device is not set yet (the communicator sets it).
  const int P = comm_->size(), r = comm_->rank();
  const int dest = (r + 1) % P, src = (r - 1 + P) % P;
  auto count = [&](int q) { return size_t(q == P - 1 && P > 1 ? 0 : (q + 1) * 1000 + 3); };
  for (bool dev : {true, false}) {
    std::vector<int64_t> out(count(r)), in(count(src), -1);
    for (size_t j = 0; j < out.size(); ++j) out[j] = int64_t(r) * 1000003 + int64_t(j);
    DeviceVec<int64_t> d_out(out), d_in(in);
    std::thread t([&] {
      if (dev) comm_->sendrecv(d_out.p, out.size() * 8, dest, d_in.p, in.size() * 8, src);
      else comm_->sendrecv(out.data(), out.size() * 8, dest, in.data(), in.size() * 8, src);
    });
    t.join();
    if (dev) in = d_in.host();
    expect_each(in, [&](size_t j) { return int64_t(src) * 1000003 + int64_t(j); },
                std::string(dev ? "device" : "host") + " from rank " + std::to_string(src));
  }
}

TEST_F(Nccl, AllreduceOfBytes) {
  // u8 (valid masks): sums that stay below 256 for up to 50 ranks.
  const int P = comm_->size(), r = comm_->rank();
  std::vector<uint8_t> v(4099);
  for (size_t j = 0; j < v.size(); ++j) v[j] = uint8_t((r + 1) * (j % 3));
  DeviceVec<uint8_t> d(v);
  comm_->allreduce_sum(d.p, v.size(), DType::u8);
  comm_->allreduce_max(v.data(), v.size(), DType::u8);
  expect_each(d.host(), [&](size_t j) { return uint8_t(P * (P + 1) / 2 * (j % 3)); }, "u8 sum, device");
  expect_each(v, [&](size_t j) { return uint8_t(P * (j % 3)); }, "u8 max, host");
}

TEST_F(Nccl, HostBuffersLargerThanTheStagingPiece) {
  // Host buffers cross the GPU in 64 MiB pieces (the staging buffer stays
  // that small): 3 pieces and an odd tail, for a sum (int64: 8-byte
  // elements; a piece ends on an element) and a broadcast from every root.
  const int P = comm_->size(), r = comm_->rank();
  const size_t n = (size_t(3) << 23) + 5;  // 3 x 64 MiB of int64 + 5
  std::vector<int64_t> v(n);
  for (size_t j = 0; j < n; ++j) v[j] = int64_t(r + 1) * int64_t(j % 1009) + int64_t(j >> 20);
  comm_->allreduce_sum(v.data(), n, DType::i64);
  expect_each(v, [&](size_t j) { return int64_t(P * (P + 1) / 2) * int64_t(j % 1009) + P * int64_t(j >> 20); },
              "host sum of " + std::to_string(n) + " int64");
  std::vector<uint8_t> bytes((size_t(64) << 20) * 2 + 77);
  for (int root = 0; root < P; ++root) {
    for (size_t j = 0; j < bytes.size(); ++j) bytes[j] = r == root ? uint8_t((j * 7 + size_t(root)) % 251) : 0;
    comm_->broadcast(bytes.data(), bytes.size(), root);
    expect_each(bytes, [&](size_t j) { return uint8_t((j * 7 + size_t(root)) % 251); },
                "host broadcast of " + std::to_string(bytes.size()) + " bytes from rank " + std::to_string(root));
  }
}

#else

TEST(Nccl, NotBuilt) { GTEST_SKIP() << "built without CUDA/NCCL: the NCCL communicator is not compiled"; }

#endif
