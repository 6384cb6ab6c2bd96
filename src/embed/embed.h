// UMAP-style embedding of the global kNN graph across ranks (`distclust embed`).
//
// The pieces, in the order a run uses them:
//   1. fuzzy_graph: each rank's knn.h5 rows -> UMAP membership weights
//      (rho, sigma per row), the reverse edges exchanged with their owners
//      (alltoallv) and joined by fuzzy union w + w' - w w'; each rank holds
//      its rows' symmetric edges (CSR, neighbours sorted by global row).
//   2. embed_init: PCA of the features to D (exact moments, pca.h), scaled
//      to [0, 10] per axis as umap-learn scales its initialisation.
//   3. embed_layout: SGD epochs. Every rank holds the whole layout of the
//      previous epoch [N x D] (one allgather per epoch) and moves only its own
//      rows: row i's update reads the snapshot for neighbours and negative
//      samples and its own live coordinates, with draws keyed by (seed,
//      epoch, row). A row's trajectory therefore depends on nothing that the
//      rank split changes: the layout is bit-identical for any rank count
//      and thread count.
// embed.h5 is a features file (features_file.h) with /labels, /valid, /ids
// and class_names carried over from the input features.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// Parameters of `distclust embed` (YAML section `embed`).
struct EmbedParams {
  std::string features = "";      ///< input features.h5 (PCA initialisation, labels, ids carried over)
  std::string knn = "";           ///< input knn.h5 of those features
  std::string out = "embed.h5";   ///< output features file [N x dim]
  int dim = 2;                    ///< D, output dimension
  double min_dist = 0.1;          ///< UMAP min_dist (curve a, b fitted from it and spread)
  double spread = 1.0;            ///< UMAP spread
  int epochs = 0;                 ///< SGD epochs (0 = 500 for N < 10000, else 200, as umap-learn)
  double learning_rate = 1.0;     ///< initial SGD step, decaying linearly to 0
  int negative_sample_rate = 5;   ///< negative samples per sampled edge
  int64_t seed = 1;               ///< seed of the negative samples and the init noise
  int checkpoint_every = 10;      ///< epochs between checkpoints (0 = no checkpoint)
  bool force = false;             ///< replace an existing --out that distclust did not write, or that another command wrote
  template <class V> void visit(V& v) {
    v("features", features, "input features.h5 (PCA initialisation; /labels, /valid, /ids carried over)");
    v("knn", knn, "input knn.h5 built from those features (cosine or l2)");
    v("out", out, "output embed.h5 (a features file [N x dim] the clustering stages read)");
    v("dim", dim, "output dimension");
    v("min_dist", min_dist, "UMAP min_dist: how tightly points pack (curve a, b fitted from it)");
    v("spread", spread, "UMAP spread: the scale of the embedded points");
    v("epochs", epochs, "SGD epochs (0 = 500 for N < 10000, else 200, as umap-learn)");
    v("learning_rate", learning_rate, "initial SGD step (decays linearly to 0)");
    v("negative_sample_rate", negative_sample_rate, "negative samples per sampled edge");
    v("seed", seed, "seed of negative samples and init noise (draws keyed by seed, epoch, row)");
    v("checkpoint_every", checkpoint_every, "epochs between checkpoints to OUT.ckpt (0 = none)");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// UMAP's output curve 1 / (1 + a d^(2b)).
struct CurveAB {
  double a = 0, b = 0;
};

/// Least squares fit of 1 / (1 + a x^(2b)) to the target of umap-learn's
/// find_ab_params (1 below min_dist, exp(-(x - min_dist) / spread) above, on
/// 300 points of [0, 3 spread]); Levenberg-Marquardt from (1, 1) as scipy's
/// curve_fit. min_dist 0.1, spread 1 -> a 1.577, b 0.895.
CurveAB fit_ab(double min_dist, double spread);

/// UMAP's smooth_knn_dist for one row: rho = its smallest positive distance,
/// sigma by bisection so that sum_j exp(-max(0, d_j - rho) / sigma) =
/// log2(k + 1) (umap counts the row itself among its k + 1 neighbours; its
/// self column is left out of the sum), floored at 1e-3 x the mean distance
/// (mean_all: the graph's mean, used when the row has no positive distance).
/// d: [k] distances (negative = no edge, skipped).
struct RhoSigma {
  double rho = 0, sigma = 1;
};
RhoSigma smooth_knn_row(const float* d, int64_t k, double mean_all);

/// Symmetric fuzzy graph rows of one rank: CSR over local rows, neighbours
/// sorted by global row, each edge once per endpoint's row.
struct FuzzyGraph {
  int64_t n = 0;                 ///< N, rows in the whole graph
  RowRange rows;                 ///< this rank's rows
  std::vector<int64_t> offsets;  ///< [local rows + 1]
  std::vector<int64_t> cols;     ///< [edges] global rows
  std::vector<float> weights;    ///< [edges] fuzzy union w_ij + w_ji - w_ij w_ji
  std::string metric;            ///< the knn.h5 metric (cosine | l2)
  int64_t k = 0;                 ///< neighbours per row in knn.h5
};

/// Directed edges (local row i -> global j, weight w) joined with the
/// reverse edges from their owners by fuzzy union (collective, alltoallv).
/// src, dst, w: [edges], src local-row indices relative to rows.begin
/// (taken by value: freed once the edges are sent and grouped; pass them
/// with std::move where they are not needed after).
FuzzyGraph fuzzy_union(int64_t n, RowRange rows, std::vector<int64_t> src, std::vector<int64_t> dst,
                       std::vector<float> w, Communicator& comm);

/// The symmetric fuzzy graph from this rank's kNN lists in memory: idx, val
/// [rows x k] as knn.h5 stores them (cosine similarity, or l2 squared
/// distance; -1 = no edge). valid: this rank's /valid rows; edges to or from
/// invalid rows are dropped. cosine similarity s is taken as distance 1 - s
/// (umap-learn's cosine distance), squared L2 as its square root (euclidean
/// distance). knn_path names the graph in errors. Collective.
FuzzyGraph fuzzy_graph_from_knn(const std::vector<int64_t>& idx, std::vector<float> val, int64_t k,
                                const std::string& metric, int64_t n, RowRange rows, const std::vector<uint8_t>& valid,
                                Communicator& comm, const std::string& knn_path = "the kNN lists");
/// The same, reading this rank's rows of knn.h5 at knn_path (collective).
FuzzyGraph read_fuzzy_graph(const std::string& knn_path, int64_t n, RowRange rows, const std::vector<uint8_t>& valid,
                            Communicator& comm);

/// Initial layout of this rank's rows [rows x dim]: the features' PCA to dim
/// (rows L2-normalised first when cosine; above kPcaMaxInputDim columns, a
/// keyed Gaussian random projection instead), scaled to [0, 10] per axis over
/// valid rows, plus keyed noise of 1e-4 (umap-learn's init). Invalid rows: 0.
std::vector<float> pca_init(const FeatureBlock& b, int dim, bool cosine, uint64_t seed, Communicator& comm);

/// Epochs to run for N rows (p.epochs, or umap-learn's default).
int embed_epochs(const EmbedParams& p, int64_t n);

/// Runs the SGD epochs on this rank's rows of `y` [rows x dim] (collective).
/// Checkpoints to ckpt every p.checkpoint_every epochs ("" = none), keyed by
/// key; resumes from it. valid_all: [N] every row's /valid (negative samples skip
/// invalid rows). Returns the seconds per epoch measured.
double embed_layout(const FuzzyGraph& g, const EmbedParams& p, const std::vector<uint8_t>& valid_all,
                    std::vector<float>& y, Communicator& comm, const std::string& ckpt, const std::string& key);

/// Writes embed.h5 (collective): /features [N x dim], /labels, /valid and /ids
/// (copied from the input features file, strings or integers), class_names.
void write_embedding(const std::string& path, const std::string& features_path, const FeatureBlock& in,
                     const std::vector<float>& y, int dim, const std::string& params_yaml, const std::string& hash,
                     Communicator& comm);

}  // namespace distclust
