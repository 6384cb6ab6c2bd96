// Global k-nearest-neighbour graph across ranks (`distclust knn`).
//
// Exact mode: every rank keeps its rows as queries; row blocks travel round a
// ring of ranks in P/2 + 1 steps, each pair of ranks meeting once and searched
// both ways (the next transfer overlapping this step's GEMM);
// per step a tiled GEMM of queries against the block feeds a running top-k.
// Candidates are then rescored exactly (double, fixed order) in a second,
// compute-light ring pass, so the graph is identical for any rank count.
// IVF mode: rows bucketed by coarse centroids; each query searches nprobe
// lists; the lists' rows and the queries are exchanged between ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "extract/features_file.h"

namespace distclust {

/// Parameters of `distclust knn` (YAML section `knn`).
struct KnnParams {
  std::string features = "";     ///< input features.h5
  std::string out = "knn.h5";    ///< output file
  int k = 20;                    ///< neighbours per row (self excluded)
  std::string metric = "cosine"; ///< cosine (rows L2-normalised, similarity) | l2 (squared distance)
  std::string mode = "exact";    ///< exact | ivf
  int nlist = 0;                 ///< ivf: coarse lists (0 = about 4*sqrt(N))
  int nprobe = 0;                ///< ivf: lists searched per query (0 = the smallest reaching target_recall on tune_sample rows)
  double target_recall = 0.97;   ///< ivf, nprobe 0: recall@k the chosen nprobe must reach on the tuning sample
  int tune_sample = 1000;        ///< ivf, nprobe 0: rows of the tuning sample (exact neighbours computed for them)
  std::string centroids = "";    ///< ivf: take the lists' centroids from this kmeans.h5 (else trained on a sample)
  int recall_sample = 1000;      ///< ivf: rows whose recall@k against exact search is measured and printed
  int64_t seed = 1;              ///< seed of the IVF training sample and the recall sample
  int tile_rows = 512;           ///< kernel: queries per thread-local GEMM tile
  int tile_cols = 1024;          ///< kernel: block rows per GEMM tile
  bool checkpoint = true;        ///< exact: save progress after each ring step to OUT.ckpt/ and resume
  bool force = false;            ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)
  template <class V> void visit(V& v) {
    v("features", features, "input features.h5");
    v("out", out, "output knn.h5");
    v("k", k, "neighbours per row (self excluded)");
    v("metric", metric, "cosine (rows L2-normalised; similarity, descending) | l2 (squared distance, ascending)");
    v("mode", mode, "exact (ring of row blocks, GEMM + top-k; identical for any rank count) | ivf (approximate, for huge N)");
    v("nlist", nlist, "ivf: number of coarse lists (0 = ~4*sqrt(N); with centroids: their count)");
    v("nprobe", nprobe, "ivf: lists searched per query (0 = the smallest reaching target_recall on tune_sample rows)");
    v("target_recall", target_recall, "ivf, nprobe 0: recall@k the chosen nprobe reaches on the tuning sample");
    v("tune_sample", tune_sample, "ivf, nprobe 0: tuning sample rows (0 = nprobe max(16, nlist/16) untuned)");
    v("centroids", centroids, "ivf: coarse centroids from this kmeans.h5 (default: trained on a sample)");
    v("recall_sample", recall_sample, "ivf: rows for the printed recall@k against exact search");
    v("seed", seed, "seed of the IVF training, tuning and recall samples (rows keyed by seed and global row)");
    v("tile_rows", tile_rows, "kernel: queries per GEMM tile (OpenBLAS; LibTorch kernels size blocks by memory)");
    v("tile_cols", tile_cols, "kernel: block rows per GEMM tile (OpenBLAS; LibTorch kernels size blocks by memory)");
    v("checkpoint", checkpoint, "exact: checkpoint each ring step and resume");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// The graph rows of one rank.
struct KnnGraph {
  int64_t k = 0;
  RowRange rows;                ///< this rank's global rows
  std::vector<int64_t> indices; ///< [rows x k] global rows, best first; -1 for invalid query rows
  std::vector<float> values;    ///< [rows x k] cosine similarity (descending) or squared L2 (ascending)
  double seconds_search = 0;    ///< wall time of the search
  double recall = -1;           ///< ivf: measured recall@k on the sample (-1 = not measured)
  int64_t recall_rows = 0;      ///< ivf: rows of that sample (valid rows only)
  int64_t nlist = 0;            ///< ivf: coarse lists used
  int nprobe = 0;               ///< ivf: lists searched per query
  bool pairs_once = false;      ///< exact: the kernel multiplied each pair of rows once (knn_exact_flops)
};

/// Exact graph (collective). data rows are L2-normalised in cosine mode.
KnnGraph knn_exact(FeatureBlock& data, const KnnParams& p, Communicator& comm,
                   const std::string& ckpt_dir = "", const std::string& input_key = "");

/// Multiply-adds x 2 (flops) that knn_exact's search pass executes on rank
/// r of P whose rows are row_block(N, r, P) of dimension d: the rank's own
/// block as a self-join in tiles of `tile` rows aligned to global rows, then
/// the half ring (each pair of ranks' blocks multiplied once by one of
/// them; at step P/2, P even, each searches the other's block for its own
/// rows). pairs_once: the kernel's search_self/search_pair multiply each
/// pair of rows once (SearchKernel::joins_pairs_once: the CPU kernel);
/// otherwise they are two searches and each such pair is multiplied twice.
double knn_exact_flops(int64_t N, int64_t d, int P, int r, int64_t tile, bool pairs_once);

/// Approximate graph by IVF (collective).
KnnGraph knn_ivf(FeatureBlock& data, const KnnParams& p, Communicator& comm);

/// recall@k of graph rows `sample` [m] (global rows, the same on every rank)
/// against exact search.
double knn_recall(const FeatureBlock& data, const KnnGraph& g, const std::vector<int64_t>& sample,
                  const KnnParams& p, Communicator& comm);

/// Fraction of neighbours sharing the row's label (rows with known labels).
double knn_label_purity(const FeatureBlock& data, const KnnGraph& g, Communicator& comm);

/// Writes knn.h5 (collective): /indices [N x k] int64, /similarities [N x k] float32.
void write_knn(const std::string& path, Communicator& comm, const FeatureBlock& data, const KnnGraph& g,
               const KnnParams& p, const std::string& params_yaml, const std::string& params_hash);

}  // namespace distclust
