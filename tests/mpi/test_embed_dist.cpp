// embed across ranks: the fuzzy graph (reverse edges exchanged between ranks)
// and the layout are the same as on one process.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "comm/local_comm.h"
#include "embed/embed.h"
#include "knn/knn.h"
#include "synth/synth_features.h"

using namespace distclust;

namespace {

struct EmbedCase {
  FeatureBlock b;
  KnnGraph g;
};

EmbedCase make(const SynthFeaturesParams& sp, int rank, int size, Communicator& comm) {
  EmbedCase s;
  s.b = synth_features(sp, rank, size);
  for (int64_t i = 0; i < s.b.local_rows(); ++i) s.b.valid[i] = (s.b.rows.begin + i) % 13 != 0;
  KnnParams kp;
  kp.k = 8;
  s.g = knn_exact(s.b, kp, comm);
  return s;
}

/// The fuzzy graph from a KnnGraph (what read_fuzzy_graph does after reading).
FuzzyGraph graph_of(const EmbedCase& s, Communicator& comm) {
  std::vector<int64_t> src, dst;
  std::vector<float> w;
  for (int64_t i = 0; i < s.b.local_rows(); ++i) {
    std::vector<float> d(size_t(s.g.k));
    for (int64_t j = 0; j < s.g.k; ++j) {
      const int64_t v = s.g.indices[i * s.g.k + j];
      d[j] = v < 0 || !s.b.valid[i] ? -1.0f : std::max(0.0f, 1.0f - s.g.values[i * s.g.k + j]);
    }
    const RhoSigma rs = smooth_knn_row(d.data(), s.g.k, 0.5);
    for (int64_t j = 0; j < s.g.k; ++j)
      if (d[j] >= 0) {
        src.push_back(i);
        dst.push_back(s.g.indices[i * s.g.k + j]);
        w.push_back(float(std::exp(-std::max(0.0, d[j] - rs.rho) / rs.sigma)));
      }
  }
  FuzzyGraph g = fuzzy_union(s.b.n_total, s.b.rows, src, dst, w, comm);
  g.metric = "cosine";
  return g;
}

}  // namespace

TEST(DistEmbed, GraphAndLayoutIdenticalToOneProcess) {
  auto comm = make_communicator(CommParams{"auto"});
  SynthFeaturesParams sp;
  sp.n = 1500, sp.d = 12, sp.k = 5, sp.noise = 0.8, sp.seed = 3;
  EmbedCase mine = make(sp, comm->rank(), comm->size(), *comm);
  LocalCommunicator self;
  EmbedCase all = make(sp, 0, 1, self);
  FuzzyGraph g = graph_of(mine, *comm), ref = graph_of(all, self);
  for (int64_t i = 0; i < mine.b.local_rows(); ++i) {
    const int64_t gi = mine.b.rows.begin + i;
    ASSERT_EQ(g.offsets[i + 1] - g.offsets[i], ref.offsets[gi + 1] - ref.offsets[gi]) << "row " << gi;
    for (int64_t e = 0; e < g.offsets[i + 1] - g.offsets[i]; ++e) {
      ASSERT_EQ(g.cols[g.offsets[i] + e], ref.cols[ref.offsets[gi] + e]) << "row " << gi;
      ASSERT_EQ(g.weights[g.offsets[i] + e], ref.weights[ref.offsets[gi] + e]) << "row " << gi;
    }
  }
  EmbedParams p;
  p.epochs = 30;
  p.checkpoint_every = 0;
  std::vector<float> y = pca_init(mine.b, p.dim, true, 1, *comm), yr = pca_init(all.b, p.dim, true, 1, self);
  const std::vector<uint8_t> valid = comm->allgather(mine.b.valid);
  embed_layout(g, p, valid, y, *comm, "", "k");
  embed_layout(ref, p, all.b.valid, yr, self, "", "k");
  for (int64_t i = 0; i < mine.b.local_rows() * p.dim; ++i)
    ASSERT_EQ(y[i], yr[mine.b.rows.begin * p.dim + i]) << "value " << i;
}
