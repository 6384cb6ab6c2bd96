// Distributed k-means (Lloyd). Each rank holds its row block; per iteration
// one allreduce_max of the sums' grid maxima (k + 1 floats), then one
// allreduce carries centroid sums, counts and inertia. Bit-identical for
// any rank and thread count by construction: random draws are keyed by
// (seed, global row); distances come from the search kernel in tiles aligned
// to global rows (include/distclust/search.h); sums are exact (fixed-point
// int64, kernels/exact_sum.h), so their order does not matter.
// Model: faiss/Clustering.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distclust/comm.h"
#include "distclust/search.h"
#include "extract/features_file.h"

namespace distclust {

/// Parameters of `distclust kmeans` (YAML section `kmeans`).
struct KMeansParams {
  std::string features = "";    ///< input features.h5
  std::string out = "kmeans.h5"; ///< output file (written as OUT.tmp, renamed when whole)
  int k = 10;                    ///< number of clusters
  int iters = 25;                ///< maximum Lloyd iterations per restart
  std::string init = "kmeans++"; ///< kmeans++ | random | kmeans-parallel (k-means||, for large k)
  bool spherical = false;        ///< cosine k-means: rows and centroids L2-normalised
  int restarts = 1;              ///< independent runs; the lowest final inertia is kept
  int64_t seed = 1;              ///< random seed
  double tol = 1e-4;             ///< stop when inertia falls by less than tol (relative); 0 = never
  std::string init_centroids = "";  ///< start from these centroids (a kmeans.h5 /centroids [k x D]) instead of init
  int init_sample = 64;          ///< k-means++/random draw from a keyed sample of init_sample*k rows (k-means++: far rows it missed, each 1/(10 k) or more of the potential, join it)
  int parallel_rounds = 5;       ///< k-means||: oversampling rounds
  double parallel_factor = 2.0;  ///< k-means||: expected candidates per round = factor * k
  bool checkpoint = true;        ///< save state to OUT.ckpt after iterations (at most ~10% of the time) and resume from it
  int tile_rows = 512;           ///< assignment kernel: rows per thread-local GEMM tile
  int tile_k = 1024;             ///< assignment kernel: centroids per GEMM tile
  /// Choosing K: "5,10,20,50" or "A:B[:STEP]" runs k-means at each K (k is
  /// then ignored), stores inertia and a sampled silhouette per K and the
  /// fit at the K of best silhouette (kmeans_sweep.h); "" = one fit at k.
  /// `--k 5,10,20` on the command line sets it.
  std::string sweep = "";
  int64_t sweep_sample = 2000;   ///< rows sampled for each silhouette (cost sample^2 x D)
  bool force = false;            ///< replace an existing --out that distclust did not write, or that another command wrote (io/replace_rule.h)

  template <class V> void visit(V& v) {
    v("features", features, "input features.h5");
    v("out", out, "output kmeans.h5");
    v("k", k, "number of clusters (a list 5,10,20 or range 5:50:5 is kmeans.sweep)");
    v("iters", iters, "maximum Lloyd iterations per restart");
    v("init", init, "initialisation: kmeans++|random|kmeans-parallel");
    v("spherical", spherical, "cosine k-means (normalised rows and centroids)");
    v("restarts", restarts, "independent runs; lowest inertia kept");
    v("seed", seed, "random seed (draws keyed by seed and global row: the same result for any rank count)");
    v("tol", tol, "stop when relative inertia decrease < tol (0 = run all iterations)");
    v("init_centroids", init_centroids, "warm start from a kmeans.h5's /centroids (k x D) instead of init");
    v("init_sample", init_sample, "init draws from a keyed sample of init_sample*k rows (kmeans++: far rows it missed, each holding 1/(10 k) or more of the potential the nearer rows leave, join it)");
    v("parallel_rounds", parallel_rounds, "k-means|| oversampling rounds");
    v("parallel_factor", parallel_factor, "k-means|| candidates per round, times k");
    v("checkpoint", checkpoint, "checkpoint to OUT.ckpt after each iteration (fast ones: as often as keeps saving under ~10% of the time) and resume from it");
    v("tile_rows", tile_rows, "assignment kernel rows per tile (OpenBLAS; LibTorch kernels size blocks by memory)");
    v("tile_k", tile_k, "assignment kernel centroids per tile (OpenBLAS; LibTorch kernels size blocks by memory)");
    v("sweep", sweep, "choose K: 5,10,20,50 or A:B[:STEP] (--k takes it too); inertia and sampled silhouette per K");
    v("sweep_sample", sweep_sample, "rows sampled for each silhouette of a sweep");
    v("force", force, "replace an existing --out that distclust did not write, or that another command wrote");
  }
  void validate() const;
};

/// What k-means returns on every rank.
struct KMeansResult {
  int64_t k = 0, d = 0;
  std::vector<float> centroids;      ///< [k x d] in the rows' coordinates (centred: data.centre subtracted)
  /// [k x d] centred rows (data.centre, extract/row_centre.h): the centroids in
  /// the file's coordinates, as kmeans.h5 holds them; `centroids` are these
  /// minus the centre again, which the final assignment used (empty otherwise).
  std::vector<float> file_centroids;
  std::vector<int64_t> assign;       ///< [local rows], -1 for invalid rows
  std::vector<float> distance;       ///< [local rows], squared L2 to the centroid
  std::vector<double> inertia;       ///< per iteration of the kept restart
  double final_inertia = 0;          ///< inertia of the returned centroids and assignment
  int best_restart = 0;
  int64_t empty_splits = 0;          ///< empty clusters re-seeded (all restarts)
  int iterations = 0;                ///< iterations run by the kept restart
  bool resumed = false;              ///< started from a checkpoint
  std::vector<double> iter_seconds;  ///< wall time of each Lloyd iteration run here (all restarts)
  bool spherical = false;            ///< cosine k-means (unit rows and centroids)
};

/// Runs k-means on each rank's block (collective). ckpt_path: "" = no
/// checkpoints; params_hash identifies a compatible checkpoint.
KMeansResult kmeans(FeatureBlock& data, const KMeansParams& p, Communicator& comm, SearchKernel& kernel,
                    const std::string& ckpt_path = "", const std::string& params_hash = "");

/// Initial centroids [k x d] (collective; identical on every rank). norms:
/// [local rows] each row's |x|^2.
std::vector<float> kmeans_init(const FeatureBlock& data, const std::vector<float>& norms,
                               const KMeansParams& p, uint64_t seed, Communicator& comm,
                               SearchKernel& kernel);

}  // namespace distclust
