// The exact kNN graph on P ranks equals the one-process graph exactly, with
// the OpenBLAS kernel and with the LibTorch one (its ring in device blocks).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>

#include "comm/local_comm.h"
#include "comm/mpi_comm.h"
#include "common/test_common.h"
#include "distclust/error.h"
#include "kernels/compute_target.h"
#include "kernels/torch_abi.h"
#include "kernels/torch_plugin.h"
#include "knn/knn.h"
#include "knn/knn_ring.h"
#include "synth/synth_features.h"

using namespace distclust;

TEST(DistKnn, ExactGraphIdenticalToOneProcess) {
  auto comm = make_communicator(CommParams{"auto"});
  SynthFeaturesParams sp;
  sp.n = 3001, sp.d = 20, sp.k = 9, sp.noise = 1.0, sp.seed = 2;
  for (const char* metric : {"cosine", "l2"}) {
    KnnParams p;
    p.k = 7, p.metric = metric;
    FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
    for (int64_t i = 0; i < mine.local_rows(); ++i) mine.valid[i] = (mine.rows.begin + i) % 11 != 0;
    KnnGraph g = knn_exact(mine, p, *comm);
    LocalCommunicator self;
    FeatureBlock all = synth_features(sp, 0, 1);
    for (int64_t i = 0; i < all.local_rows(); ++i) all.valid[i] = i % 11 != 0;
    KnnGraph ref = knn_exact(all, p, self);
    for (int64_t q = 0; q < mine.local_rows(); ++q)
      for (int j = 0; j < p.k; ++j) {
        const size_t a = q * p.k + j, b = (mine.rows.begin + q) * p.k + j;
        ASSERT_EQ(g.indices[a], ref.indices[b]) << metric << " row " << mine.rows.begin + q;
        ASSERT_EQ(g.values[a], ref.values[b]) << metric << " row " << mine.rows.begin + q;
      }
  }
}

TEST(DistKnn, IvfRecallOnAnyRankCount) {
  auto comm = make_communicator(CommParams{"auto"});
  SynthFeaturesParams sp;
  sp.n = 6000, sp.d = 16, sp.k = 15, sp.noise = 1.2, sp.seed = 4;
  FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
  KnnParams p;
  p.k = 10, p.mode = "ivf", p.recall_sample = 600;
  KnnGraph g = knn_ivf(mine, p, *comm);
  EXPECT_GE(g.recall, 0.95);
  // The tuning (each rank finds the lists of the sample's true neighbours it
  // owns) chooses the nprobe one process chooses.
  LocalCommunicator self;
  FeatureBlock all = synth_features(sp, 0, 1);
  KnnGraph ref = knn_ivf(all, p, self);
  EXPECT_EQ(g.nprobe, ref.nprobe);
  EXPECT_GT(ref.nprobe, 1) << "a tuning that stops at 1 checks little";
}

TEST(DistKnn, IvfProbingEveryListIsExactOnAnyRankCount) {
  // Lists live on rank l mod P and queries travel to them: probing every list
  // must give the exact graph whatever the rank count.
  auto comm = make_communicator(CommParams{"auto"});
  SynthFeaturesParams sp;
  sp.n = 2500, sp.d = 12, sp.k = 8, sp.noise = 1.0, sp.seed = 9;
  KnnParams p;
  // 25 lists: probes computed per round; 12: kept from the home lists' product.
  for (int nl : {25, 12}) {
    p.k = 6, p.mode = "ivf", p.nlist = nl, p.nprobe = nl, p.recall_sample = 0;
    FeatureBlock mine = synth_features(sp, comm->rank(), comm->size());
    KnnGraph g = knn_ivf(mine, p, *comm);
    LocalCommunicator self;
    FeatureBlock all = synth_features(sp, 0, 1);
    KnnParams pe = p;
    pe.mode = "exact";
    KnnGraph ref = knn_exact(all, pe, self);
    int64_t differ = 0;
    for (int64_t q = 0; q < mine.local_rows(); ++q)
      for (int j = 0; j < p.k; ++j) differ += g.indices[q * p.k + j] != ref.indices[(mine.rows.begin + q) * p.k + j];
    differ = comm->sum(differ);
    EXPECT_LE(differ, 3) << "of " << sp.n * p.k << ", nlist " << nl;
  }
}

namespace {

/// The plugin's LibTorch kernel on `device` (CPU tensors: the GPU's code path).
std::unique_ptr<SearchKernel> torch_search(const std::string& device) {
  TorchComputeSpec spec;
  spec.device = device, spec.threads = 1;
  std::string error;
  std::unique_ptr<SearchKernel> k(torch_plugin_function<TorchSearchFn>(kTorchSearchV6)(&spec, &error));
  if (!k) throw Error(error);
  return k;
}

/// Exact kNN on this comm with the compute target t against one process
/// with OpenBLAS: identical graphs (the rescoring's promise).
void expect_graph_as_openblas(Communicator& comm, const ComputeTarget& t) {
  const ComputeTarget saved = compute_target();
  SynthFeaturesParams sp;
  sp.n = 2003, sp.d = 24, sp.k = 9, sp.noise = 1.0, sp.seed = 6;
  for (const char* metric : {"cosine", "l2"}) {
    KnnParams p;
    p.k = 6, p.metric = metric;
    FeatureBlock mine = synth_features(sp, comm.rank(), comm.size());
    for (int64_t i = 0; i < mine.local_rows(); ++i) mine.valid[i] = (mine.rows.begin + i) % 13 != 0;
    set_compute_target_for_tests(t);
    KnnGraph g;
    try {
      g = knn_exact(mine, p, comm);
    } catch (...) {
      set_compute_target_for_tests(saved);
      throw;
    }
    set_compute_target_for_tests(ComputeTarget{});
    LocalCommunicator self;
    FeatureBlock all = synth_features(sp, 0, 1);
    for (int64_t i = 0; i < all.local_rows(); ++i) all.valid[i] = i % 13 != 0;
    const KnnGraph ref = knn_exact(all, p, self);
    set_compute_target_for_tests(saved);
    for (int64_t q = 0; q < mine.local_rows(); ++q)
      for (int j = 0; j < p.k; ++j) {
        const size_t a = q * p.k + j, b = (mine.rows.begin + q) * p.k + j;
        ASSERT_EQ(g.indices[a], ref.indices[b]) << metric << " row " << mine.rows.begin + q;
        ASSERT_EQ(g.values[a], ref.values[b]) << metric << " row " << mine.rows.begin + q;
      }
  }
}

}  // namespace

TEST(DistKnn, RingOfTorchDeviceBlocksCarriesEveryBlock) {
  // ring_pass with a kernel that offers device blocks (LibTorch on CPU
  // tensors: the path of a GPU with NCCL, here over MPI): every step's block
  // is the origin's rows, in a device block, from the start and resumed.
  auto comm = make_communicator(CommParams{"auto"});
  const int P = comm->size();
  SynthFeaturesParams sp;
  sp.n = 1001, sp.d = 7, sp.k = 4, sp.seed = 3;
  FeatureBlock mine = synth_features(sp, comm->rank(), P);
  for (int64_t i = 0; i < mine.local_rows(); ++i) mine.valid[i] = (mine.rows.begin + i) % 3 != 0;
  auto tk = torch_search("cpu");
  for (int first = 0; first < std::min(P, 2); ++first) {
    int visited = 0;
    ring_pass(mine, *comm, first, [&](const RingBlock& blk, int step) {
      ++visited;
      const FeatureBlock want = synth_features(sp, blk.origin, P);
      ASSERT_EQ(blk.origin, ((comm->rank() - step) % P + P) % P);
      ASSERT_EQ(blk.rows.begin, want.rows.begin);
      ASSERT_EQ(blk.rows.end, want.rows.end);
      if (P > 1) {
        EXPECT_NE(blk.x, mine.x.data()) << "step " << step << ": the block is not in a device block";
      }
      ASSERT_TRUE(std::equal(want.x.begin(), want.x.end(), blk.x)) << "rows of step " << step;
      for (int64_t i = 0; i < want.local_rows(); ++i)
        ASSERT_EQ(blk.valid[i], (want.rows.begin + i) % 3 != 0 ? 1 : 0) << "valid of step " << step;
      // The kernel searches the block in place as it would the host rows.
      TopK a(mine.local_rows(), 3), c(mine.local_rows(), 3);
      const SearchQueries q{mine.x.data(), mine.local_rows(), mine.d, mine.rows.begin};
      tk->search(q, {blk.x, blk.rows.size(), blk.rows.begin, nullptr, nullptr, blk.valid}, Metric::l2, a);
      tk->search(q, {want.x.data(), want.local_rows(), want.rows.begin, nullptr, nullptr, blk.valid}, Metric::l2, c);
      EXPECT_EQ(a.raw_indices(), c.raw_indices());
      EXPECT_EQ(a.raw_scores(), c.raw_scores());
    }, -1, tk.get());
    EXPECT_EQ(visited, P - first);
  }
}

namespace {
/// MPI whose sendrecv fails on every rank when called from any thread but
/// the one that made it: the ring's pass to the next rank (its own thread).
class PassFails final : public MpiCommunicator {
 public:
  void sendrecv(const void* send, size_t send_bytes, int dest, void* recv, size_t recv_bytes, int src) override {
    if (std::this_thread::get_id() != maker_) throw Error("injected: the ring's pass failed");
    MpiCommunicator::sendrecv(send, send_bytes, dest, recv, recv_bytes, src);
  }

 private:
  std::thread::id maker_ = std::this_thread::get_id();
};
}  // namespace

TEST(DistKnn, RingPassFailingOnItsThreadIsAnError) {
  // The pass to the next rank overlaps the search on a thread of its own:
  // its exception must reach the caller (the job's error path, MPI_Abort on
  // one rank's failure), not end the process in std::terminate.
  auto world = make_communicator(CommParams{"auto"});
  if (world->size() == 1) GTEST_SKIP() << "one rank: the ring passes nothing";
  PassFails comm;
  SynthFeaturesParams sp;
  sp.n = 301, sp.d = 5, sp.k = 3, sp.seed = 4;
  FeatureBlock mine = synth_features(sp, comm.rank(), comm.size());
  int visited = 0;
  try {
    ring_pass(mine, comm, 0, [&](const RingBlock&, int) { ++visited; });
    ADD_FAILURE() << "ring_pass returned although its pass failed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("injected: the ring's pass failed"), std::string::npos) << e.what();
  }
  EXPECT_EQ(visited, 1) << "the first step's search runs beside the failing pass";
}

TEST(DistKnn, TorchKernelRingGivesTheOpenBlasGraph) {
  auto comm = make_communicator(CommParams{"auto"});
  ComputeTarget t;
  t.torch = true, t.device = "cpu";
  expect_graph_as_openblas(*comm, t);
}

TEST(DistKnn, GpuRingOfDeviceBlocksWithNccl) {
  // A GPU with NCCL: the ring's blocks in device memory, sent with
  // ncclSend/ncclRecv, searched in place; the graph of one OpenBLAS process.
#ifndef DISTCLUST_HAVE_NCCL
  GTEST_SKIP() << "built without CUDA/NCCL: the NCCL communicator is not compiled";
#else
  const TorchInfo info = torch_info();
  if (info.cuda_devices == 0)
    GTEST_SKIP() << "no GPU visible to LibTorch " << info.version << (info.cuda_built ? "" : " (built without CUDA)");
  auto comm = make_communicator(CommParams{"nccl"});
  const std::string device = "cuda:" + std::to_string(comm->local_rank() % info.cuda_devices);
  auto tk = torch_search(device);
  // A ring step by hand: my rows in a device block to rank r + 1 (NCCL, device
  // to device; to itself on one rank), rank r - 1's received into another,
  // searched in place as its host rows would be.
  const int P = comm->size(), r = comm->rank();
  const int64_t n = 300, d = 16;
  const std::vector<float> q = test::randn(n, d, 100), mine = test::randn(n, d, 200 + r),
                           theirs = test::randn(n, d, 200 + (r - 1 + P) % P);
  float* send = tk->alloc_block(n, d, *comm);
  float* recv = tk->alloc_block(n, d, *comm);
  ASSERT_NE(send, nullptr) << "a GPU kernel offers NCCL device blocks";
  ASSERT_NE(recv, nullptr);
  tk->write_block(send, mine.data(), n, d);
  comm->sendrecv(send, n * d * sizeof(float), (r + 1) % P, recv, n * d * sizeof(float), (r - 1 + P) % P);
  TopK a(n, 5), c(n, 5);
  tk->search({q.data(), n, d, 0}, {recv, n}, Metric::l2, a);
  tk->search({q.data(), n, d, 0}, {theirs.data(), n}, Metric::l2, c);
  EXPECT_EQ(a.raw_indices(), c.raw_indices());
  EXPECT_EQ(a.raw_scores(), c.raw_scores());
  tk->free_block(send);
  tk->free_block(recv);
  ComputeTarget t;
  t.torch = true, t.device = device;
  expect_graph_as_openblas(*comm, t);
#endif
}
