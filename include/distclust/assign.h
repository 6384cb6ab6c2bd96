// Nearest-centroid assignment, kept apart from the k-means loop (as faiss
// passes an Index&) so CPU and GPU kernels can be swapped and compared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace distclust {

/// Tiling of the CPU kernel. Defaults suit a 1-2 MiB L2 per core.
struct AssignTiling {
  int tile_rows = 512;  ///< rows of x per thread-local GEMM tile
  int tile_k = 1024;    ///< centroids per GEMM tile (large K is tiled)
};

class Assigner {
 public:
  virtual ~Assigner() = default;
  /// For each row i of x [n x d] (row-major), the centroid of c [k x d]
  /// nearest in squared L2 (inner_product: largest <x, c>; ties -> lowest
  /// index). labels [n], dist [n]: squared L2 distance (inner_product: 2 - 2<x,c>,
  /// the squared distance of unit vectors). x_norms [n] = ||x_i||^2 (may be
  /// null in inner_product mode). Rows with valid[i] == 0 get label -1, dist 0
  /// (valid may be null = all valid). Returns the sum of dist over valid rows.
  virtual double assign(const float* x, const float* x_norms, const uint8_t* valid, int64_t n,
                        int64_t d, const float* c, int64_t k, bool inner_product, int64_t* labels,
                        float* dist) = 0;
  virtual std::string name() const = 0;
};

/// OpenBLAS sgemm per thread-local tile + vectorised argmin while the tile is
/// in cache; OpenMP over row tiles.
std::unique_ptr<Assigner> make_cpu_assigner(const AssignTiling& tiling = {});

/// ||x_i||^2 for each row of x [n x d] -> out [n].
void row_norms(const float* x, int64_t n, int64_t d, float* out);

}  // namespace distclust
