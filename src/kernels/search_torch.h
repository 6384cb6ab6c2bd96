// The LibTorch search kernel (plugin side; includes LibTorch): the
// SearchKernel contract of include/distclust/search.h on CPU tensors or a
// GPU. Queries and base rows go to the device in blocks sized by a memory
// budget (a shard larger than the GPU streams through), scores are one GEMM
// per block pair with the L2 bias in it (2<q,b> - |b|^2 as on the CPU: addmm's
// epilogue in fp32/tf32, one more product column in bf16/fp16), invalid and
// self pairs are masked to -inf, torch::topk picks each block's best (exact
// keys order the picks: ties to the lower id), a running best per query
// merges the blocks on the device, and the host TopK merges calls. bf16/fp16/tf32
// products pick cap + margin candidates that are then re-scored in fp32, so
// well-separated data gets the fp32 answer. Held rows (hold()) stay on the
// device between calls; lloyd_step runs a whole k-means step there.
// Internal to the plugin: search_torch.cpp (blocks, held rows), scores_torch.cpp
// (operands, scores, candidate picks), lloyd_torch.cpp (the k-means step).
#pragma once

#include <torch/torch.h>

#include <limits>
#include <mutex>
#include <vector>

#include "distclust/search.h"
#include "kernels/lloyd_grids.h"
#include "kernels/phase_clock_torch.h"
#include "kernels/torch_abi.h"

namespace distclust {
namespace torch_search {

/// A score never to return (masked pairs, invalid rows).
constexpr float kNever = -std::numeric_limits<float>::infinity();

/// A block's candidates: exact (fp32) scores e [m x c] of base columns
/// cols [m x c] (block-relative, increasing along a row; undefined: all
/// columns in order; -inf: never to return).
struct Candidates {
  torch::Tensor e, cols;
};

/// Per query row, kept candidates best first: scores v and ids [m x kept].
struct Picks {
  torch::Tensor v, ids;
};

/// One side of a block product. x [r x d]: the rows in fp32 on the device
/// (base side: set per block pair, as held rows may be stored in another
/// type); bias [r] (base side; undefined: none); low [r x dp]: bf16/fp16
/// products' GEMM operand in that type (queries [x, 1], base [alpha x, bias]
/// or [alpha x, 0]), made once per block and used against
/// every block of the other side (a conversion per pair would move about as
/// many bytes as the scores); norm_max, bias_max: fp16's range check.
struct Operand {
  torch::Tensor x, bias, low;
  double norm_max = 0, bias_max = 0;
};

/// The best `keep` of each row of scores e [m x w] with ids [m x w] (int64),
/// best first, ties to the lower position: callers keep positions in id order.
Picks best_by_key(const torch::Tensor& e, const torch::Tensor& ids, int64_t keep);

class TorchSearch final : public SearchKernel {
 public:
  explicit TorchSearch(const TorchComputeSpec& s);
  std::string name() const override;
  std::string time_report() const override;
  /// Each call costs tens of kernel launches and takes the mutex.
  int64_t min_call_rows() const override { return int64_t(1) << 18; }
  void search(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
              const std::function<void(int64_t)>& on_rows) override;
  void hold(const float* x, int64_t n, int64_t d) override;
  void release(const float* x) override;
  bool lloyd_step(const LloydStep& s, Communicator& comm, int64_t* out) override;
  /// Device blocks: tensors on the device (CPU tensors: host memory any comm
  /// sends; a GPU: only with comm nccl), counted in the held-rows budget.
  float* alloc_block(int64_t n, int64_t d, const Communicator& comm) override;
  void write_block(float* block, const float* x, int64_t n, int64_t d) override;
  void block_fence() override;
  void free_block(float* block) override;

 private:
  /// search() once the rows are where they will stay for the call.
  void search_blocks(const SearchQueries& q, const SearchBase& b, Metric m, TopK& top,
                     const std::function<void(int64_t)>& on_rows);
  /// hold() and release() with mu_ held.
  void hold_locked(const float* x, int64_t n, int64_t d);
  void release_locked(const float* x);

  struct Held {
    const float* x;
    int64_t n, d;
    torch::Tensor t;  ///< the device copy (store_type_); undefined when it did not fit
  };
  /// Rows x [n x d] on the device as fp32: a slice of a device block or a
  /// held copy (rows held in fp16/bf16: an fp32 copy of the slice), or
  /// uploaded.
  torch::Tensor rows(const float* x, int64_t n, int64_t d) const;
  /// The rows x [n x d] inside a device block (undefined: none holds them).
  torch::Tensor in_block(const float* x, int64_t n, int64_t d) const;
  bool is_held(const float* x, int64_t n, int64_t d) const;
  /// Query rows lo..hi of q on the device; with q.aligned, a partial block is
  /// padded to `rows` so that every block has the same GEMM shape.
  torch::Tensor query_block(const float* x, int64_t d, int64_t lo, int64_t hi, int64_t off, int64_t rows) const;
  /// Per base row [cn]: -|b|^2 (l2: norms, else from bx [cn x d]) or 0,
  /// -inf where valid[j] == 0; undefined (no bias) for inner products
  /// without a valid mask. bx is read only for l2 without norms.
  torch::Tensor base_bias(int64_t cn, const torch::Tensor& bx, const float* norms, const uint8_t* valid,
                          bool l2) const;
  /// bf16/fp16 products: their GEMM operands are made once per block.
  bool low_mm() const { return low_ && mm_type_ != torch::kFloat; }
  /// A query block qx [m x d] as an operand.
  Operand query_operand(const torch::Tensor& qx) const;
  /// A base block as an operand (x left undefined: rows() gives it per
  /// pair): bias [cn] (undefined: none) and, bf16/fp16, low from bx [cn x d].
  Operand base_operand(const torch::Tensor& bx, const torch::Tensor& bias, float alpha) const;
  /// Device bytes of a low operand of n x d rows (0 for fp32/tf32 products).
  int64_t operand_bytes(int64_t n, int64_t d) const;
  /// Scores [m x cn] of queries q against base b (x set on both):
  /// alpha <q, b> + bias (undefined: none). fp32 and tf32: fp32 scores.
  /// bf16/fp16: the product of the low operands, in that type on a GPU
  /// (rounded to it, held as fp32, on CPU tensors): only a candidate pick
  /// reads them.
  torch::Tensor scores(const Operand& q, const Operand& b, float alpha) const;
  /// Throws unless every fp16 score of q against b stays finite (bounded by
  /// alpha |q|max |b|max + |bias|max, from the operands: no device work).
  void check_half_range(const Operand& q, const Operand& b, float alpha) const;
  /// [scale x, col] [n x dp] in mm_type_, dp = d + 1 rounded up to a multiple
  /// of 8 (zeros after col), in one pass over x; col [n] undefined: ones.
  torch::Tensor with_column(const torch::Tensor& x, float scale, const torch::Tensor& col) const;
  /// Candidates of queries q [m x d] against base b [cn x d] (x set on
  /// both): the best `keep` + margin columns per row by topk (fp32: a row
  /// whose keep-th score ties past the pick is picked again by exact keys; a
  /// block of at most that many columns: all of them), or by low-precision
  /// products re-scored in fp32. selfcol [m]: a query's own column (-1:
  /// none), masked. Rows [real0, real0 + real_n) of q are queries (-1: all);
  /// the rest pad an aligned block and are never picked again.
  Candidates candidates(const Operand& q, const Operand& b, const torch::Tensor& selfcol, float alpha,
                        int64_t keep, int64_t real0 = 0, int64_t real_n = -1) const;
  /// A k-means step's centroids in blocks of cb: operands (x set; low
  /// operands made here when `once`), each block's first centroid.
  struct CentroidBlocks {
    std::vector<Operand> blocks;
    std::vector<int64_t> first;
    bool once = false;
    float alpha = 2.f;  ///< l2: 2, spherical: 1
    torch::Tensor all;  ///< the centroids [k x d] on the device (uploaded once a step)
  };
  CentroidBlocks centroid_blocks(const LloydStep& s, int64_t cb) const;
  /// Each query row's nearest centroid: score best [qb] and index lab [qb]
  /// (ties to the lower index, as search() with cap 1); with want_second,
  /// second [qb]: the second best score (-inf where k = 1).
  void nearest(const Operand& qo, const CentroidBlocks& cents, torch::Tensor& best, torch::Tensor& lab,
               bool want_second, torch::Tensor& second) const;
  /// A block of a k-means step's rows once assigned: rows lo..lo+m of the
  /// step, the valid ones' labels lab [v] (int32) and distances dist [v]
  /// (float, as assign_nearest computes them): 8 bytes a valid row kept
  /// between the passes. Their positions are rebuilt from s.valid
  /// (valid_positions) when used.
  struct Assigned {
    int64_t lo = 0, m = 0;
    torch::Tensor lab, dist;
  };
  /// Positions [v] (int64, on the device) of the valid rows lo..lo+m of s.
  torch::Tensor valid_positions(const LloydStep& s, int64_t lo, int64_t m) const;
  /// A k-means step's L2 rounding checks (kernels/score_rounding.h): the
  /// centroids cx [k x d] and their norms cn [k] (double) on the device;
  /// where count is defined (k >= 2, asked for by LloydStep::unsure_rows),
  /// the unsure rows are counted into it (a device scalar).
  struct RoundingCheck {
    torch::Tensor cx, cn, count;
  };
  /// Rows lo..lo+m (x [m x d] on the device, their best scores, second
  /// scores (where check->count is defined) and labels [m]) as Assigned;
  /// their grid maxima maxed into maxima [k + 1] (kernels/lloyd_grids.h, on
  /// the device). check (L2; null when spherical): distances as
  /// assign_nearest takes them, and the unsure rows counted.
  Assigned assigned(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& x, const torch::Tensor& best,
                    const torch::Tensor& second, const torch::Tensor& lab, torch::Tensor& maxima,
                    RoundingCheck* check) const;
  /// dist [m] (float, |x|^2 - best) of rows lo..lo+m where its rounding may
  /// be over 2^-8 of it taken from the differences instead, as
  /// assign_nearest does (x [m x d], lab [m]).
  torch::Tensor l2_distances(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& x, const torch::Tensor& lab,
                             const torch::Tensor& dist, const RoundingCheck& check) const;
  /// How many valid rows lo..lo+m of s (best and second scores, labels and
  /// distances [m]) are unsure (l2_choice_unsure on tensors): a device scalar.
  torch::Tensor unsure(const LloydStep& s, int64_t lo, int64_t m, const torch::Tensor& best, const torch::Tensor& second,
                       const torch::Tensor& lab, const torch::Tensor& dist, const torch::Tensor& cn) const;
  /// The maxima over ranks (to the host, allreduce_max; written to
  /// s.maxima) and the grids they make.
  LloydGrids reduce_maxima(const torch::Tensor& maxima, const LloydStep& s, Communicator& comm);
  /// A block's valid rows' grid sums (col_scale [1 x d], cluster_scale
  /// [k]: g's on the device), counts and distance into acc.
  void add_sums(const LloydStep& s, const Assigned& a, const LloydGrids& g, const torch::Tensor& col_scale,
                const torch::Tensor& cluster_scale, torch::Tensor& acc) const;
  /// acc summed over ranks (from device memory with NCCL), on the host.
  torch::Tensor reduce_sums(torch::Tensor acc, Communicator& comm);
  /// Rows of query and base blocks for a search of n queries against nb
  /// base rows keeping cap (within the work budget less the operand reserve).
  void block_sizes(int64_t n, int64_t nb, int64_t d, int64_t cap, int64_t& qb, int64_t& cb) const;
  /// Whether a call's low operands of nb x d base rows are made once per
  /// call (they fit the reserve) rather than once per block pair.
  bool operands_fit(int64_t nb, int64_t d) const { return operand_bytes(nb, d) <= reserve_budget_; }
  /// Candidates beyond `keep`: low precision, room for rounding; fp32, room
  /// for equal scores before a row must be picked again by exact keys.
  int64_t margin(int64_t keep) const { return low_ ? std::max<int64_t>(8, keep) : 8; }
  torch::Tensor upload(const void* p, int64_t n, torch::ScalarType t) const;

  TorchComputeSpec spec_;
  torch::Device dev_;
  /// Phase times of every call (time_report); marks from const methods too.
  mutable PhaseClock clock_;
  /// Calls (search and lloyd_step) and bytes of host rows they read without
  /// those being held or in a device block (a GPU copies them per use): the
  /// time report's traffic line.
  int64_t calls_ = 0;
  mutable int64_t streamed_bytes_ = 0;
  /// Query rows whose picks were made again by exact keys (time_report):
  /// rows with keep + margin equal scores, each a pass over its whole row.
  mutable int64_t repicked_rows_ = 0;
  torch::ScalarType mm_type_;  ///< type of the matrix products
  torch::ScalarType store_type_;  ///< type of held rows (runtime.storage)
  bool low_;                   ///< products below fp32: candidates re-scored in fp32
  /// Device memory: held rows and device blocks; each call's score blocks
  /// and temporaries; bf16/fp16: each call's low base operands (reserve,
  /// 1/8 of the work; fp32/tf32: 0).
  int64_t held_budget_, work_budget_, reserve_budget_, held_bytes_ = 0;
  std::vector<Held> held_;
  std::vector<torch::Tensor> blocks_;  ///< device blocks [n x d] (alloc_block)
  /// One call at a time: callers may search from several threads (IVF list
  /// scans do, inside an OpenMP region), and a call changes held_ (a GPU's
  /// per-call uploads) and the budget; on a GPU the work is one stream anyway.
  mutable std::mutex mu_;
};

}  // namespace torch_search
}  // namespace distclust
