// The exact kNN graph on P ranks equals the one-process graph exactly.
#include <gtest/gtest.h>

#include "comm/local_comm.h"
#include "knn/knn.h"
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
}

TEST(DistKnn, IvfProbingEveryListIsExactOnAnyRankCount) {
  // Lists live on rank l mod P and queries travel to them: probing every list
  // must give the exact graph whatever the rank count.
  auto comm = make_communicator(CommParams{"auto"});
  SynthFeaturesParams sp;
  sp.n = 2500, sp.d = 12, sp.k = 8, sp.noise = 1.0, sp.seed = 9;
  KnnParams p;
  p.k = 6, p.mode = "ivf", p.nlist = 25, p.nprobe = 25, p.recall_sample = 0;
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
  EXPECT_LE(differ, 3) << "of " << sp.n * p.k;
}
