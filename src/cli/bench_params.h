// Parameters of `distclust bench kmeans` and `bench knn` (YAML sections
// bench_kmeans, bench_knn): shared by the bench commands and `distclust config`.
#pragma once

#include <cstdint>
#include <string>

#include "distclust/error.h"

namespace distclust {

/// Parameters of `distclust bench kmeans` (YAML section `bench_kmeans`).
struct BenchKMeansParams {
  int64_t n = 200000;         ///< rows (synthetic unless features is given)
  int d = 256;                ///< dimension
  int k = 1000;               ///< clusters
  int iters = 10;             ///< Lloyd iterations timed
  int64_t seed = 1;           ///< seed of data and init
  std::string features = "";  ///< time on this features file instead of synthetic data
  bool spherical = false;     ///< cosine k-means
  bool sgemm = true;          ///< also measure the sgemm rate at the same shape
  std::string json = "";      ///< write the figures as JSON to this file
  int tile_rows = 512;        ///< search kernel: rows per tile (kmeans.tile_rows)
  int tile_k = 1024;          ///< search kernel: centroids per tile (kmeans.tile_k)
  bool init_seconds = true;   ///< also time the k-means++ initialisation (kmeans' default)
  template <class V> void visit(V& v) {
    v("n", n, "rows of synthetic data");
    v("d", d, "dimension of synthetic data");
    v("k", k, "clusters");
    v("iters", iters, "Lloyd iterations to time");
    v("tile_rows", tile_rows, "search kernel rows per tile (as kmeans.tile_rows)");
    v("tile_k", tile_k, "search kernel centroids per tile (as kmeans.tile_k)");
    v("init_seconds", init_seconds, "also time the k-means++ initialisation");
    v("seed", seed, "seed");
    v("features", features, "use this features.h5 instead of synthetic data");
    v("spherical", spherical, "cosine k-means");
    v("sgemm", sgemm, "measure the sgemm rate at the same shape");
    v("json", json, "write results as JSON to this file");
  }
  void validate() const {
    require(n >= 1, "bench_kmeans.n is ", n, " (expected >= 1)");
    require(d >= 1, "bench_kmeans.d is ", d, " (expected >= 1)");
    require(k >= 1, "bench_kmeans.k is ", k, " (expected >= 1)");
    require(iters >= 1, "bench_kmeans.iters is ", iters, " (expected >= 1)");
    // kmeans' own bounds (KMeansParams::validate), said here under this
    // section's names and before any data is made.
    require(tile_rows >= 1 && tile_rows <= (1 << 20), "bench_kmeans.tile_rows is ", tile_rows,
            " (expected 1..1048576)");
    require(tile_k >= 16 && tile_k <= (1 << 20), "bench_kmeans.tile_k is ", tile_k, " (expected 16..1048576)");
  }
};

/// Parameters of `distclust bench knn` (YAML section `bench_knn`).
struct BenchKnnParams {
  int64_t n = 100000;         ///< rows (synthetic unless features is given)
  int d = 256;                ///< dimension
  int k = 20;                 ///< neighbours
  int64_t seed = 1;           ///< seed of the synthetic data
  std::string features = "";  ///< time on this features file instead
  std::string metric = "cosine";  ///< cosine|l2
  std::string json = "";      ///< write the figures as JSON to this file
  template <class V> void visit(V& v) {
    v("n", n, "rows of synthetic data");
    v("d", d, "dimension");
    v("k", k, "neighbours");
    v("seed", seed, "seed");
    v("features", features, "use this features.h5 instead of synthetic data");
    v("metric", metric, "cosine|l2");
    v("json", json, "write results as JSON to this file");
  }
  void validate() const {
    require(n >= 2, "bench_knn.n is ", n, " (expected >= 2)");
    require(d >= 1, "bench_knn.d is ", d, " (expected >= 1)");
    require(k >= 1, "bench_knn.k is ", k, " (expected >= 1)");
    // knn's own check (KnnParams::validate) named knn.metric, a key bench has not.
    require(metric == "cosine" || metric == "l2", "bench_knn.metric: '", metric, "' is not one of cosine|l2");
  }
};

}  // namespace distclust
