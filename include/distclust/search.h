// The one search kernel (in the spirit of FAISS's Index::search): for a block
// of queries, the k best rows of a block of base rows by inner product or L2.
// Every nearest-something in distclust goes through it: k-means assignment
// (k = 1), the report's margin confidence (k = 2), exact kNN (k = K, over a
// ring of blocks), IVF coarse assignment (k = nprobe) and list scans, and the
// k-means|| distance updates (k-means++ measures its few candidates with
// kernels/rows.h dot_rows instead). The OpenBLAS implementation
// (search_cpu.cpp) is the CPU kernel; a GPU implementation goes behind the
// same interface.
//
// Scores, higher is better: inner product <q, b>; L2 2<q, b> - |b|^2, so that
// |q|^2 - score is the squared distance. Ties go to the lower id.
//
// Determinism: queries are cut into tiles of `tile_rows` aligned to their
// global row numbers (first_row), a partial tile padded to full size, so a
// query's scores come from the same sgemm shape at the same position for any
// rank count (row split) and thread count (threads take whole tiles). A
// given OpenBLAS kernel therefore gives bit-identical results everywhere;
// different core types may differ in the last bits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "distclust/topk.h"

namespace distclust {

class Communicator;

enum class Metric { inner_product, l2 };

/// Queries x [n x d].
///  first_row: global row of x[0]; with `aligned`, tiles fall on multiples of
///    the tile size in that numbering and a partial tile is padded (the
///    determinism above); without, tiles start at x[0] (for gathered batches
///    whose results need not match across rank counts, e.g. IVF list scans).
///  ids (optional, [n]): each query's own id, for exclude_self, when the
///    queries are not the rows first_row, first_row + 1, ...
///  top_rows (optional, [n]): the row of `top` query i updates (default i).
struct SearchQueries {
  const float* x = nullptr;
  int64_t n = 0, d = 0;
  int64_t first_row = 0;
  const int64_t* ids = nullptr;
  const int64_t* top_rows = nullptr;
  bool aligned = true;
};

/// Base rows x [n x d]. Ids reported: first_id + j, or ids[j] when given
/// (increasing in j: ties go to the lower id).
/// norms ([n] |b|^2, l2 only) are computed when null; valid ([n], 0 = never
/// returned) may be null (all valid). exclude_self: never return a query's
/// own id.
struct SearchBase {
  const float* x = nullptr;
  int64_t n = 0;
  int64_t first_id = 0;
  const int64_t* ids = nullptr;
  const float* norms = nullptr;
  const uint8_t* valid = nullptr;
  bool exclude_self = false;
};

/// One Lloyd iteration's sums (kmeans/kmeans.cpp), for a kernel that can
/// compute them where its data lives (SearchKernel::lloyd_step). Rows x
/// [n x d] (global rows first_row..), valid [n] (0: left out), norms [n]
/// (|x|^2; L2 only), centroids c [k x d]. Each valid row's nearest centroid
/// as search() with cap 1 finds it (ties to the lower index), its distance
/// dist (L2: max(|x|^2 - score, 0), spherical: max(2 - 2 score, 0), in
/// float), and in exact grid units (kernels/exact_sum.h: round(v * 2^shift),
/// ties to even, summed as int64; the distances in SplitGrid's two limbs) of
/// the step's grids (kernels/lloyd_grids.h: from the maxima of the rows as
/// assigned, maxed over ranks before any sum is taken):
/// out [k*d sums | k counts | total dist coarse | total dist fine].
struct LloydStep {
  const float* x = nullptr;
  int64_t n = 0, d = 0, first_row = 0;
  const uint8_t* valid = nullptr;
  const float* norms = nullptr;
  const float* c = nullptr;
  int64_t k = 0;
  bool spherical = false;
  int64_t n_valid = 0;             ///< valid rows on all ranks (LloydGrids' term count)
  const float* col_max = nullptr;  ///< [d] each column's largest |x_ij| over all ranks' valid rows
  float* maxima = nullptr;         ///< out [k + 1]: LloydGrids' step maxima as allreduced (out's units)
  /// L2, where not null: out, the rows on all ranks whose float choice may
  /// not be their nearest centroid (kernels/score_rounding.h's
  /// l2_choice_unsure; kmeans/assign.h decides those again). When any, the
  /// step declines: it returns false before its sums, and out is not written.
  int64_t* unsure_rows = nullptr;
};

/// Tile sizes of the CPU kernel (defaults suit a 1-2 MiB L2 per core).
struct SearchTiling {
  int tile_rows = 512;   ///< queries per GEMM tile
  int tile_cols = 1024;  ///< base rows per GEMM tile
};

class SearchKernel {
 public:
  virtual ~SearchKernel() = default;
  virtual std::string name() const = 0;
  /// Where this kernel's time went since it was made, per phase, largest
  /// first ("gemm 1.2 s (60%), select 0.4 s (20%), ...; device events"):
  /// what a bench or stage logs to say where the time goes. Empty: not
  /// measured (the CPU kernel, whose time is its GEMM tiles).
  virtual std::string time_report() const { return {}; }
  /// Query rows a call should carry for the kernel to be used well: 0 for
  /// a kernel whose calls are cheap and may run side by side from OpenMP
  /// threads (the CPU kernel: callers pick their own batches); more for one
  /// with a fixed cost per call that serialises its calls (LibTorch: tens of
  /// kernel launches a call, one stream), whose callers then make fewer,
  /// larger calls from one thread and leave the threads to the kernel.
  virtual int64_t min_call_rows() const { return 0; }
  /// Whether search_self() and search_pair() multiply each pair of rows
  /// once and offer the product to both (the CPU kernel); false: they are
  /// the default two searches (benches count the products executed).
  virtual bool joins_pairs_once() const { return false; }
  /// Offers every base row to every query: top [rows x cap] keeps, per
  /// query, the cap best (score, id) of this and earlier calls (unordered;
  /// empty slots hold id INT64_MAX). on_rows (optional): progress, the
  /// queries done so far, called now and then from one thread. Inside an
  /// OpenMP parallel region it runs on the calling thread alone. search(),
  /// hold() and release() may be called from several threads at once (IVF
  /// list scans do): a kernel with state (a GPU's) serialises them.
  virtual void search(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
                      const std::function<void(int64_t)>& on_rows = {}) = 0;
  /// The self-join of a block, as a kNN graph needs it: every query row of
  /// q against every other row of q, the result that search(q, base = q's
  /// rows with ids first_row + j, valid, exclude_self) gives up to float
  /// near-ties, but a kernel may compute each pair's product once and offer
  /// it to both rows (the CPU kernel does: half the GEMM work). q.ids and
  /// q.top_rows must be null. valid ([n], may be null): rows never returned.
  /// The default calls search().
  virtual void search_self(const SearchQueries& q, const uint8_t* valid, Metric m, TopK& top,
                           const std::function<void(int64_t)>& on_rows = {});
  /// Two distinct row blocks a [na x d] and b [nb x d] (global rows
  /// a.first_row.. and b.first_row.., not overlapping) against each other:
  /// a's rows search b's into top_a [na x cap], b's rows search a's into
  /// top_b [nb x cap], as two search() calls would (up to float near-ties),
  /// each pair's product computed once (the CPU kernel). Exact kNN uses it
  /// for the first half of the ring, sending top_b back to b's rank. valid_a,
  /// valid_b ([na], [nb], may be null): rows never returned. ids and
  /// top_rows must be null. on_rows: progress in a's rows.
  virtual void search_pair(const SearchQueries& a, const uint8_t* valid_a, const SearchQueries& b,
                           const uint8_t* valid_b, Metric m, TopK& top_a, TopK& top_b,
                           const std::function<void(int64_t)>& on_rows = {});

  /// Residency (optional): the caller promises that rows x [n x d] stay
  /// unchanged until release(x). A kernel on a device may then keep a copy
  /// there (within its memory budget) and use it for every later query or
  /// base block that lies inside x, instead of uploading it on each call
  /// (k-means searches with the same shard every iteration). Holds nest by
  /// pointer; release every hold. Default: nothing.
  virtual void hold(const float* x, int64_t n, int64_t d) { (void)x, (void)n, (void)d; }
  virtual void release(const float* x) { (void)x; }

  /// Device blocks (optional): row buffers [n x d] float that the kernel
  /// owns in its own memory (on a GPU: device memory), for the exact kNN
  /// ring (knn/knn_ring.cpp), whose travelling blocks then go from device to
  /// device. A block's pointer (or a row inside it) is
  ///  - what comm.sendrecv() is given: offer blocks only to a comm that can
  ///    send the kernel's memory (device memory: NCCL; CPU memory: any), and
  ///  - accepted as rows x by search(), search_self() and search_pair()
  ///    (queries or base), which then read the block in place: no upload.
  ///    valid, norms and ids stay host pointers.
  /// alloc_block: a block of n rows, or null when not offered for this comm
  /// or within the kernel's memory budget (default: never offered).
  virtual float* alloc_block(int64_t n, int64_t d, const Communicator& comm) {
    (void)n, (void)d, (void)comm;
    return nullptr;
  }
  /// Copies host rows x [n x d] into block (a row of a block); done when it returns.
  virtual void write_block(float* block, const float* x, int64_t n, int64_t d) { (void)block, (void)x, (void)n, (void)d; }
  /// Returns when all kernel work queued so far (reads of blocks included)
  /// is done: a block searched last may then be received into.
  virtual void block_fence() {}
  virtual void free_block(float* block) { (void)block; }

  /// Optional device-side k-means step (LloydStep above): assignment, exact
  /// sums, counts and distance computed by the kernel, summed over ranks
  /// through comm (one allreduce_max of the k + 1 grid maxima, then one
  /// allreduce_sum of k*(d+1)+2 int64, from device memory when comm is
  /// NCCL), written to out [k*(d+1)+2] on the host. Returns
  /// false, touching nothing, when the kernel has no such step (the caller
  /// then assigns with search() and sums on the CPU); every rank's kernel
  /// must answer alike (all ranks take the same path). Integer sums do not
  /// depend on order, so with fp32 storage the sums and counts are
  /// bit-identical to the CPU's for the same assignments (fp16/bf16 storage:
  /// of the rows as held; the distances' float rounding may differ).
  virtual bool lloyd_step(const LloydStep& s, Communicator& comm, int64_t* out) {
    (void)s, (void)comm, (void)out;
    return false;
  }
};

/// Holds rows in a kernel for a scope (SearchKernel::hold / release).
class HeldRows {
 public:
  HeldRows(SearchKernel& k, const float* x, int64_t n, int64_t d) : k_(k), x_(x) { k_.hold(x, n, d); }
  ~HeldRows() { k_.release(x_); }
  HeldRows(const HeldRows&) = delete;
  HeldRows& operator=(const HeldRows&) = delete;

 private:
  SearchKernel& k_;
  const float* x_;
};

/// OpenBLAS sgemm per tile (single-threaded, threads over tiles), selection
/// while the tile is in cache.
std::unique_ptr<SearchKernel> make_cpu_search(const SearchTiling& t = {});

/// Bytes the CPU kernel's threads hold for a search of d-column rows
/// against base_rows base rows: per thread a score tile [tile_rows x
/// min(tile_cols, base_rows)] and a padded query tile [tile_rows x d]
/// (aligned tiles keep their full height however few rows a rank has);
/// joins (search_self/search_pair): or a square [tile_rows x tile_rows]
/// tile, the larger.
double cpu_search_bytes(const SearchTiling& t, int64_t d, int64_t base_rows, bool joins = false);

/// The query's results best first (score descending, ids ascending on ties),
/// empty slots last: writes cap ids and scores.
void sorted_results(const TopK& top, int64_t q, int64_t* ids, float* scores);

}  // namespace distclust
